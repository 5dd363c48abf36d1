"""The OpenAPI document, shaped for people and for client generators.

- operationIds are `<tag>_<action>` (`orders_list`, `auth_login`, `users_read_me`), so a
  generated client's methods read well; FastAPI's default is `list_orders_orders_get`.
- 422 is listed only on operations that take input, with the error envelope every error has.
- With an API prefix, the login URL in the security scheme moves with the routes.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

OpenAPI = dict[str, Any]
# FastAPI's own validation-error schemas: unused once every 422 points at the error envelope.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def singular(noun: str) -> str:
    """`orders` -> `order`, `categories` -> `category`, `addresses` -> `address`."""
    if noun.endswith("ies"):
        return noun.removesuffix("ies") + "y"
    if noun.endswith(("ses", "xes", "zes", "ches", "shes")):
        return noun.removesuffix("es")
    return noun.removesuffix("s")


def operation_id(route: APIRoute) -> str:
    """`<first tag>_<route function's name>`, minus a trailing `_<tag>` or `_<singular tag>`.

    `list_order_items` under the tag `order_items` is `order_items_list`, `get_order_item` is
    `order_items_get`, `read_me` under `users` is `users_read_me`. An untagged route keeps its
    function's name.
    """
    if not route.tags:
        return route.name
    tag = str(route.tags[0])
    action = route.name
    for noun in (tag, singular(tag)):
        if action.endswith(f"_{noun}"):
            action = action.removesuffix(f"_{noun}")
            break
    return f"{tag}_{action}"


def tidy(schema: OpenAPI, *, api_prefix: str = "") -> OpenAPI:
    """Point every 422 at the error envelope (as every 500 already does); prefix login URLs."""
    envelope: dict[str, Any] | None = None
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "500" in responses:
                envelope = responses["500"]["content"]
            if "422" in responses and envelope is not None:
                responses["422"] = {"description": "The input is invalid.", "content": envelope}
    components = schema.get("components", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.get("schemas", {}).pop(name, None)
    for scheme in components.get("securitySchemes", {}).values():
        password = scheme.get("flows", {}).get("password", {})
        token_url = password.get("tokenUrl", "")
        if api_prefix and token_url.startswith("/") and not token_url.startswith(api_prefix):
            password["tokenUrl"] = api_prefix + token_url
    return schema


def install(app: FastAPI, *, api_prefix: str = "") -> None:
    """Serve FastAPI's document for `app`, tidied once, at its first request."""
    build: Callable[[], OpenAPI] = app.openapi

    def openapi() -> OpenAPI:
        if app.openapi_schema is None:
            app.openapi_schema = tidy(build(), api_prefix=api_prefix)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
