"""Every error leaves the server in one envelope: ours, FastAPI's 422s, and unexpected 500s."""

import pytest
from fastapi import APIRouter, FastAPI, Query
from httpx import AsyncClient

from core.exceptions import ConflictError, NotFoundError


class WidgetNotFoundError(NotFoundError):
    message = "Widget not found."


router = APIRouter(prefix="/_test-errors")


@router.get("/missing")
async def missing() -> None:
    raise WidgetNotFoundError


@router.get("/conflict")
async def conflict() -> None:
    raise ConflictError("Name is taken.")


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@router.get("/validated")
async def validated(size: int = Query(ge=1, le=10)) -> int:
    return size


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


def assert_envelope(body: dict[str, object], code: str) -> dict[str, object]:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    return error


async def test_a_feature_error_subclass_maps_to_its_parents_status(client: AsyncClient) -> None:
    response = await client.get("/_test-errors/missing")

    assert response.status_code == 404
    error = assert_envelope(response.json(), "not_found")
    assert error["message"] == "Widget not found."


async def test_a_domain_error_keeps_its_message(client: AsyncClient) -> None:
    response = await client.get("/_test-errors/conflict")

    assert response.status_code == 409
    assert assert_envelope(response.json(), "conflict")["message"] == "Name is taken."


async def test_an_unknown_route_is_a_404_envelope(client: AsyncClient) -> None:
    response = await client.get("/no-such-route")

    assert response.status_code == 404
    assert_envelope(response.json(), "not_found")


async def test_a_wrong_method_is_a_405_envelope(client: AsyncClient) -> None:
    response = await client.delete("/health/live")

    assert response.status_code == 405
    assert_envelope(response.json(), "method_not_allowed")


async def test_invalid_input_is_a_422_envelope_naming_the_field(client: AsyncClient) -> None:
    response = await client.get("/_test-errors/validated", params={"size": 99})

    assert response.status_code == 422
    error = assert_envelope(response.json(), "validation_error")
    details = error["details"]
    assert isinstance(details, list)
    assert details[0]["loc"] == ["query", "size"]
    assert details[0]["type"] == "less_than_equal"


async def test_an_unexpected_error_is_a_500_envelope_that_hides_the_cause(
    client: AsyncClient,
) -> None:
    response = await client.get("/_test-errors/crash")

    assert response.status_code == 500
    error = assert_envelope(response.json(), "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert error["request_id"] == response.headers["X-Request-ID"]


async def test_a_well_formed_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get("/_test-errors/missing", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.json()["error"]["request_id"] == "abc-123"


@pytest.mark.parametrize("incoming", ["has spaces", "x" * 65, "inject\\nline"])
async def test_a_malformed_request_id_is_replaced(client: AsyncClient, incoming: str) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": incoming})

    request_id = response.headers["X-Request-ID"]
    assert request_id != incoming
    assert len(request_id) == 32
