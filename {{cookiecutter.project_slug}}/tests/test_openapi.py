"""The OpenAPI document: readable unique operationIds, tags, description, 422s, API_PREFIX."""

from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import ValidationError

from core.openapi import operation_id, singular
from main import create_app
from settings import Settings

METHODS = {"get", "post", "put", "patch", "delete"}


def route(name: str, tags: list[str]) -> APIRoute:
    router = APIRouter(tags=list(tags))

    async def endpoint() -> None:
        return None

    endpoint.__name__ = name
    router.add_api_route("/x", endpoint)
    found = router.routes[0]
    assert isinstance(found, APIRoute)
    return found


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation, keyed `METHOD path`."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


@pytest.mark.parametrize(
    ("name", "tag", "expected"),
    [
        ("list_orders", "orders", "orders_list"),
        ("create_order", "orders", "orders_create"),
        ("get_order", "orders", "orders_get"),
        ("create_order_item", "order_items", "order_items_create"),
        ("list_order_items", "order_items", "order_items_list"),
        ("list_categories", "categories", "categories_list"),
        ("delete_category", "categories", "categories_delete"),
        ("read_me", "users", "users_read_me"),
        ("change_password", "users", "users_change_password"),
        ("login", "auth", "auth_login"),
    ],
)
def test_operation_ids_are_the_tag_and_the_action(name: str, tag: str, expected: str) -> None:
    assert operation_id(route(name, [tag])) == expected


def test_an_untagged_route_keeps_its_name() -> None:
    assert operation_id(route("ping", [])) == "ping"


@pytest.mark.parametrize(
    ("plural", "one"),
    [("orders", "order"), ("categories", "category"), ("addresses", "address"), ("boxes", "box")],
)
def test_singular(plural: str, one: str) -> None:
    assert singular(plural) == one


def test_the_document_reads_well(test_settings: Settings) -> None:
    schema = create_app(test_settings).openapi()
    found = operations(schema)
    ids = [operation["operationId"] for operation in found.values()]

    assert len(ids) == len(set(ids))
    assert found["POST /auth/register"]["operationId"] == "auth_register"
    assert found["POST /auth/login"]["operationId"] == "auth_login"
    assert found["GET /users/me"]["operationId"] == "users_read_me"
    assert found["GET /users/{user_id}"]["operationId"] == "users_get"
    assert found["GET /health/live"]["operationId"] == "health_live"
    assert schema["info"]["description"] == test_settings.project_description
    # Features list theirs in features/registry.py's OPENAPI_TAGS; these ship with the app.
    tags = {tag["name"]: tag.get("description") for tag in schema["tags"]}
    assert {"health", "auth", "users"} <= set(tags)
    assert all(tags.values())


def test_422_is_listed_only_where_an_operation_takes_input(test_settings: Settings) -> None:
    found = operations(create_app(test_settings).openapi())

    assert "422" not in found["GET /health/live"]["responses"]
    assert "422" not in found["GET /users/me"]["responses"]
    body = found["POST /auth/register"]["responses"]["422"]
    envelope = {"$ref": "#/components/schemas/ErrorResponse"}
    assert body["content"]["application/json"]["schema"] == envelope
    assert "422" in found["GET /users"]["responses"]  # query parameters are input too


def test_the_main_schemas_have_examples(test_settings: Settings) -> None:
    schemas = create_app(test_settings).openapi()["components"]["schemas"]

    for name in ("UserCreate", "UserRead", "TokenPair"):
        assert schemas[name]["examples"], name


def test_api_prefix_moves_the_feature_routes_and_the_login_url(test_settings: Settings) -> None:
    settings = test_settings.model_copy(update={"api_prefix": "/api/v1"})

    schema = create_app(settings).openapi()

    paths = set(schema["paths"])
    assert {"/api/v1/auth/login", "/api/v1/users/me", "/health/live"} <= paths
    assert not {"/auth/login", "/api/v1/health/live"} & paths
    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/login"


@pytest.mark.parametrize("prefix", ["api/v1", "/api/v1/", "/api v1"])
def test_a_malformed_api_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="api_prefix"):
        Settings(_env_file=None, api_prefix=prefix)
