from httpx import ASGITransport, AsyncClient

from main import create_app
from settings import Settings


async def test_live_answers_without_touching_the_database(client: AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_queries_the_database(client: AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_503_in_the_error_envelope_when_the_database_is_down(
    test_settings: Settings,
) -> None:
    if test_settings.is_sqlite:
        unreachable = "sqlite+aiosqlite:////nonexistent-dir/db.sqlite3"
    else:
        unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    app = create_app(test_settings.model_copy(update={"database_url": unreachable}))

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/health/ready")

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"] == "The database cannot be reached."
    assert error["request_id"] == response.headers["X-Request-ID"]
