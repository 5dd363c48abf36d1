"""The pieces of `scripts/feature.py` that are easy to get subtly wrong, tested directly."""

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.baking import TEMPLATE_DIR


def load_feature_script() -> ModuleType:
    path = TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "scripts" / "feature.py"
    spec = importlib.util.spec_from_file_location("feature_script", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


feature_script = load_feature_script()
ORDERS = feature_script.Feature("orders", ())


@pytest.mark.parametrize(
    ("source", "expected_list"),
    [
        ("ROUTERS: list[APIRouter] = []\n", "ROUTERS: list[APIRouter] = [\n    orders_router,\n]"),
        (
            "ROUTERS: list[APIRouter] = [a_router]\n",
            "ROUTERS: list[APIRouter] = [a_router, orders_router,]",
        ),
        (
            "ROUTERS: list[APIRouter] = [\n    a_router,  # first\n]\n",
            "ROUTERS: list[APIRouter] = [\n    a_router,  # first\n    orders_router,\n]",
        ),
        ("ROUTERS = [\n    a_router,\n]\n", "ROUTERS = [\n    a_router,\n    orders_router,\n]"),
    ],
)
def test_the_router_is_appended_and_imported_keeping_the_users_lines(
    source: str, expected_list: str
) -> None:
    header = '"""Doc."""\n\nfrom fastapi import APIRouter  # kept\n\n'

    result = feature_script.registry_with(ORDERS, header + source)

    assert result.startswith(
        '"""Doc."""\n\nfrom fastapi import APIRouter  # kept\n'
        "from features.orders.routes import router as orders_router\n"
    )
    assert expected_list in result
    compile(result, "registry.py", "exec")


def test_registering_twice_changes_nothing() -> None:
    once = feature_script.registry_with(ORDERS, "from x import y\n\nROUTERS = []\n")

    assert feature_script.registry_with(ORDERS, once) == once


@pytest.mark.parametrize("source", ["ROUTERS = make_routers()\n", "routers = []\n", ""])
def test_a_registry_without_a_routers_list_is_refused(source: str) -> None:
    with pytest.raises(feature_script.FeatureError, match=r"no `ROUTERS = \[...\]` list"):
        feature_script.registry_with(ORDERS, source)


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("orders", "order"),
        ("order_items", "order_item"),
        ("categories", "category"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("branches", "branch"),
        ("wishes", "wish"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("inventory", "inventory"),
    ],
)
def test_singular_names(plural: str, singular: str) -> None:
    assert feature_script.singularize(plural) == singular


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("name:str", {"type": "str", "length": 255, "optional": False, "unique": False}),
        ("code:str:12:unique", {"type": "str", "length": 12, "unique": True}),
        ("note:str?", {"type": "str", "optional": True}),
        ("note:str:80?", {"type": "str", "length": 80, "optional": True}),
        ("ref:uuid:unique?", {"type": "uuid", "unique": True, "optional": True}),
        ("total:decimal:10,4", {"type": "decimal", "precision": 10, "scale": 4}),
        ("body:text?", {"type": "text", "optional": True}),
    ],
)
def test_field_specs_parse(entry: str, expected: dict[str, object]) -> None:
    field = feature_script.parse_field(entry)

    for attribute, value in expected.items():
        assert getattr(field, attribute) == value


def test_no_fields_means_a_name_and_an_optional_description() -> None:
    fields = feature_script.parse_fields("")

    assert [(f.name, f.type, f.optional) for f in fields] == [
        ("name", "str", False),
        ("description", "text", True),
    ]


def test_a_single_line_list_with_a_trailing_comma_grows_in_place() -> None:
    result = feature_script.registry_with(ORDERS, "from x import y\nROUTERS = [a_router,]\n")

    assert "ROUTERS = [a_router, orders_router,]" in result
