"""/docs and /redoc load everything from the app itself, under a policy that allows nothing else."""

import base64
import hashlib
import re

import pytest
from httpx import ASGITransport, AsyncClient

from main import create_app
from settings import Settings


def inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", html, re.S)


def csp(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_docs_pages_name_no_other_host(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # Every script, stylesheet and icon is a path on this origin.
    assert not re.search(r"(src|href)=\"(https?:)?//", response.text)
    assert "googleapis" not in response.text
    policy = csp(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # Only this origin's scripts run, and the page's own inline script, by its hash.
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline_scripts(response.text)
    ]
    assert policy["script-src"] == ["'self'", *hashes]
    assert "'unsafe-inline'" not in policy["script-src"]


async def test_the_pages_assets_are_served_by_the_app(client: AsyncClient) -> None:
    html = (await client.get("/docs")).text + (await client.get("/redoc")).text
    assets = sorted(set(re.findall(r"(?:src|href)=\"(/docs-assets/[^\"]+)\"", html)))

    assert [a.rsplit("/", 1)[1] for a in assets] == [
        "favicon.png",
        "redoc.standalone.js",
        "swagger-ui-bundle.js",
        "swagger-ui.css",
    ]
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset


async def test_swagger_ui_is_set_up_for_the_password_login(client: AsyncClient) -> None:
    [script] = inline_scripts((await client.get("/docs")).text)

    assert re.search(r"url: '[^']*/openapi\.json'", script)
    assert '"validatorUrl": null' in script
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in script


async def test_the_docs_routes_stay_out_of_the_schema(client: AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]


async def docs_status(settings: Settings) -> dict[str, int]:
    app = create_app(settings)
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://localhost") as client:
        return {
            path: (await client.get(path)).status_code
            for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css")
        }


async def test_production_serves_no_docs_unless_asked(test_settings: Settings) -> None:
    production = test_settings.model_copy(update={"environment": "production"})

    assert set((await docs_status(production)).values()) == {404}
    assert set((await docs_status(production.model_copy(update={"api_docs": True}))).values()) == {
        200
    }
    # And API_DOCS=false turns them off anywhere.
    assert set(
        (await docs_status(test_settings.model_copy(update={"api_docs": False}))).values()
    ) == {404}
