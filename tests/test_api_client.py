"""A client generated from a baked project's OpenAPI document reads well and works.

openapi-python-client names modules after operationIds: `api/orders/orders_create.py` is what
a user of the client calls, so those names are the API's readability test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.baking import bake, run, serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api-client")]

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
EXPECTED_MODULES = {
    "auth": {"auth_register", "auth_login", "auth_refresh", "auth_logout"},
    "health": {"health_live", "health_ready"},
    "orders": {"orders_create", "orders_list", "orders_get", "orders_update", "orders_delete"},
    "users": {
        "users_read_me",
        "users_update_me",
        "users_change_password",
        "users_list",
        "users_get",
        "users_update",
        "users_deactivate",
    },
}
# Run against the served app with the generated package: sign up, sign in, read yourself back;
# create an order and read it back.
ROUND_TRIP = """
import sys
from shop_client import AuthenticatedClient, Client
from shop_client.api.auth import auth_login, auth_register
from shop_client.api.orders import orders_create, orders_get
from shop_client.api.users import users_read_me
from shop_client.models import LoginForm, OrderCreate, UserCreate

client = Client(base_url=sys.argv[1], raise_on_unexpected_status=True)
user = auth_register.sync(client=client, body=UserCreate(email="ada@example.com",
                                                         password="correct-horse-9"))
tokens = auth_login.sync(client=client, body=LoginForm(username="ada@example.com",
                                                       password="correct-horse-9"))
me = users_read_me.sync(client=AuthenticatedClient(base_url=sys.argv[1], token=tokens.access_token))
assert me.id == user.id and me.email == "ada@example.com", me
order = orders_create.sync(client=client, body=OrderCreate(total="12.50", paid=True))
again = orders_get.sync(client=client, order_id=order.id)
assert again.id == order.id and again.total == "12.50" and again.paid is True, again
print("round trip ok")
"""


def test_a_generated_client_reads_well_and_round_trips(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Shop", description="Sells things.")
    run(["uv", "sync", "--locked"], project)
    # Public, so the round trip needs no admin; protected features declare OAuth2 security.
    feature = ["NAME=orders", "AUTH=public", "FIELDS=total:decimal paid:bool note:text?"]
    run(["make", "feature", *feature], project)
    run(["make", "migrate", "MSG=add orders"], project)
    run(["make", "upgrade"], project)
    dump = "import json, main; print(json.dumps(main.app.openapi()))"
    spec = tmp_path / "openapi.json"
    spec.write_text(run(["uv", "run", "python", "-c", dump], project).stdout)
    assert json.loads(spec.read_text())["info"]["description"] == "Sells things."

    tools = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # ruff
    run([GENERATOR, "generate", "--path", str(spec), "--output-path",
         str(tmp_path / "shop_client"), "--meta", "none"], tmp_path, env=tools)  # fmt: skip

    api = tmp_path / "shop_client" / "api"
    modules = {
        tag.name: {m.stem for m in tag.glob("*.py") if m.stem != "__init__"}
        for tag in api.iterdir()
        if tag.is_dir()
    }
    assert modules == EXPECTED_MODULES
    with serve(project) as base_url:
        result = subprocess.run(
            [sys.executable, "-c", ROUND_TRIP, base_url],
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "round trip ok" in result.stdout
