"""Strings neither database (nor a JSON answer) can hold are a 422, not a 500, everywhere.

A lone surrogate is valid JSON (`"\\ud800"`) but no UTF-8: storing, hashing or answering it
fails. A name of blanks strips to nothing, which the response model would refuse.
"""

import pytest
from httpx import AsyncClient

LONE_SURROGATE = '"\\ud800"'  # as a JSON client sends it


def raw(body: str) -> dict[str, object]:
    return {"content": body, "headers": {"Content-Type": "application/json"}}


@pytest.mark.parametrize("name", [LONE_SURROGATE, '"a\\u0000b"', '"   "'])
async def test_an_unstorable_name_is_a_422(user_client: AsyncClient, name: str) -> None:
    response = await user_client.patch("/users/me", **raw('{"full_name": ' + name + "}"))  # type: ignore[arg-type]

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", "full_name"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/register", '{"email": "ada@example.com", "password": ' + LONE_SURROGATE + "}"),
        ("/auth/register", '{"email": ' + LONE_SURROGATE + ', "password": "long enough pass"}'),
        ("/auth/refresh", '{"refresh_token": ' + LONE_SURROGATE + "}"),
        ("/auth/logout", '{"refresh_token": ' + LONE_SURROGATE + "}"),
    ],
)
async def test_a_lone_surrogate_anywhere_in_auth_is_a_422(
    client: AsyncClient, path: str, body: str
) -> None:
    response = await client.post(path, **raw(body))  # type: ignore[arg-type]

    assert response.status_code == 422
