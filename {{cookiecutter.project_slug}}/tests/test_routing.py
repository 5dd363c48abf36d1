"""core/routing.py's Router: FastAPI's routing answers as before, and a request is not tried
against the routes of a router whose prefix is not in its path."""

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from starlette.routing import Match
from starlette.types import Scope

from conftest import PROJECT_DIR
from core.routing import Route, Router
from main import create_app
from scripts.names import APP_PATHS
from settings import Settings

tried: list[str] = []


class CountedRoute(Route):
    """A Route that notes each path it is tried against."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        tried.append(self.path)
        return super().matches(scope)


apples = Router(prefix="/_test-apples", route_class=CountedRoute)
pears = Router(prefix="/_test-pears", route_class=CountedRoute)
# A prefix with a parameter in it cannot be looked for in the path: its routes are tried.
shelves = Router(prefix="/_test-shelves/{shelf}", route_class=CountedRoute)


@apples.get("")
async def list_apples() -> list[str]:
    return ["red"]


@apples.get("/{name}")
async def get_apple(name: str) -> dict[str, str]:
    return {"apple": name}


@pears.get("/{name}")
async def get_pear(name: str) -> dict[str, str]:
    return {"pear": name}


@shelves.get("/{name}")
async def get_shelved(shelf: str, name: str) -> dict[str, str]:
    return {"shelf": shelf, "name": name}


@pytest.fixture
def routed_app(test_settings: Settings) -> FastAPI:
    app = create_app(test_settings)
    for router in (apples, pears, shelves):
        app.include_router(router, prefix="/api")
    return app


@pytest.fixture
async def routed(routed_app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=routed_app)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture(autouse=True)
def fresh_count() -> Iterator[None]:
    tried.clear()
    yield
    tried.clear()


async def test_a_request_tries_only_the_routes_under_its_prefix(routed: AsyncClient) -> None:
    response = await routed.get("/api/_test-pears/conference")

    assert response.json() == {"pear": "conference"}
    assert tried
    assert all(path.startswith("/_test-pears") for path in tried)


async def test_routes_under_a_prefix_with_a_parameter_are_still_found(
    routed: AsyncClient,
) -> None:
    response = await routed.get("/api/_test-shelves/top/jar")

    assert response.json() == {"shelf": "top", "name": "jar"}


async def test_unknown_paths_and_methods_are_answered_as_fastapi_does(
    routed: AsyncClient,
) -> None:
    assert (await routed.get("/api/_test-plums/victoria")).status_code == 404
    assert (await routed.get("/api/_test-apples")).json() == ["red"]
    not_allowed = await routed.delete("/api/_test-apples/gala")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["allow"] == "GET"
    # A trailing slash is redirected to the route without it.
    redirect = await routed.get("/api/_test-apples/", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"].endswith("/api/_test-apples")


def test_make_feature_knows_every_path_the_app_serves_besides_its_features(
    test_settings: Settings,
) -> None:
    # scripts/names.py refuses a feature whose routes would land on one of APP_PATHS.
    settings = test_settings.model_copy(update={"metrics_enabled": True, "api_docs": True})
    app = create_app(settings)
    paths = [*app.openapi()["paths"], *(getattr(route, "path", "") for route in app.routes)]
    generated = {
        "/" + folder.name.replace("_", "-")
        for folder in (PROJECT_DIR / "features").iterdir()
        if (folder / "routes.py").is_file() and folder.name != "users"
    }

    served = {
        path.split("/")[1] for path in paths if path and "/" + path.split("/")[1] not in generated
    }

    assert served == APP_PATHS
