"""What a feature is, as the templates read it: its names, fields, access and parents."""

import re
from dataclasses import dataclass, field

from scripts.fields import FieldSpec


@dataclass(frozen=True)
class Parent:
    """A feature another one references: what its generated tests need to make a row of it."""

    feature: str
    model: str
    owned: bool

    @property
    def singular(self) -> str:
        return snake_case(self.model)


@dataclass(frozen=True)
class Feature:
    name: str
    fields: tuple[FieldSpec, ...]
    protected: bool = True
    owned: bool = False
    model_name: str = ""  # MODEL=...; by default the name's naive singular
    parents: dict[str, Parent] = field(default_factory=dict)  # by referencing field
    jobs: bool = False  # JOBS=yes: a jobs.py with an example job, and its test
    cache: bool = False  # CACHE=yes: GET by id reads through the cache (core/cache)
    feed: bool = False  # FEED=yes: changes are events, pushed to a WebSocket (core/realtime)

    @property
    def public(self) -> bool:
        return not self.protected

    @property
    def model(self) -> str:
        return self.model_name or "".join(p.capitalize() for p in singularize(self.name).split("_"))

    @property
    def singular(self) -> str:
        return snake_case(self.model)

    @property
    def url(self) -> str:
        return "/" + self.name.replace("_", "-")

    @property
    def sort_index(self) -> str:
        """The index the list's default order reads (created_at, then id; per owner if owned)."""
        return f"ix_{self.name}_{'owner_id_' if self.owned else ''}created_at_id"

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def label(self) -> str:
        return self.singular.replace("_", " ")

    @property
    def a_label(self) -> str:
        """The label with its article ("an order", "a customer"), for docstrings."""
        return f"{'an' if self.label[0] in 'aeiou' else 'a'} {self.label}"

    def permission(self, action: str) -> str:
        """The `Permission` member for `action` on this feature, e.g. ORDERS_WRITE."""
        return f"{self.name}_{action}".upper()

    def permissions(self) -> dict[str, str]:
        actions = ["read", "write", "admin"] if self.owned else ["read", "write"]
        return {self.permission(action): f"{self.name}:{action}" for action in actions}

    def user_grants(self) -> list[str]:
        """What an ordinary user may do: read shared rows; read and write their own."""
        actions = ["read", "write"] if self.owned else ["read"]
        return [f"Permission.{self.permission(action)}" for action in actions]

    def having(self, test: str) -> list[FieldSpec]:
        return [f for f in self.fields if getattr(f, test)]

    @property
    def unique_fields(self) -> list[FieldSpec]:
        return self.having("unique")

    @property
    def required_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if not f.optional and f.default is None]

    @property
    def equal_fields(self) -> list[FieldSpec]:
        return self.having("equal")

    @property
    def range_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind.range]

    @property
    def sort_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind.sort]

    @property
    def search_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind.search]

    @property
    def references(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.type == "ref"]

    @property
    def owned_references(self) -> list[FieldSpec]:
        """References to rows with owners: the caller may point only at rows they may see."""
        return [f for f in self.references if self.parents[f.column].owned]

    @property
    def enums(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.type == "enum"]

    @property
    def wildcard_search_field(self) -> FieldSpec | None:
        return next((f for f in self.search_fields if f.wildcard_samples), None)

    @property
    def sort_keys(self) -> list[str]:
        columns = ["created_at", "updated_at"] + [f.column for f in self.sort_fields]
        return [key for column in columns for key in (column, f"-{column}")]

    @property
    def column_options(self) -> bool:
        """Whether the model needs `Field(...)`: limits, defaults or the owner's foreign key."""
        return self.owned or self.uses("decimal") or any(f.base_default() for f in self.fields)

    @property
    def update_options(self) -> bool:
        """Whether the update schema needs `Field(...)`: limits inside or after annotations."""
        return self.uses("decimal") or any(f.limits() for f in self.fields)

    @property
    def tested_filters(self) -> list[FieldSpec]:
        """Equality filters a test can try with the samples (a self-reference's are empty)."""
        return [f for f in self.equal_fields if f.column not in self.self_references]

    def field_imports(self) -> list[str]:
        """What the fields' annotations need imported."""
        return [line for f in self.fields for line in f.kind.imports]

    def parent_factory_imports(self) -> list[str]:
        return [
            f"from features.{p.feature}.tests.factories import create_{p.singular}, "
            f"unique_values as {p.singular}_unique"
            for p in self.outside_parents().values()
        ]

    @property
    def self_references(self) -> list[str]:
        return [c for c, p in self.parents.items() if p.feature == self.name]

    @property
    def defaulted_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.default is not None]

    @property
    def fresh_fields(self) -> list[FieldSpec]:
        """Unique fields a parent row made by another feature's tests needs fresh values for."""
        return [f for f in self.unique_fields if f.type != "ref"]

    def fresh_imports(self) -> list[str]:
        types = {f.type for f in self.fresh_fields}
        return [
            "import uuid" if types else "",
            "from datetime import date" if "date" in types else "",
            "from datetime import UTC, datetime" if "datetime" in types else "",
        ]

    def enum_imports(self) -> list[str]:
        return [f"from features.{self.name}.models import {f.enum_class}" for f in self.enums]

    def uses(self, type_: str) -> bool:
        return any(f.type == type_ for f in self.fields)

    def outside_parents(self) -> dict[str, Parent]:
        """The referenced features other than this one (a self-reference needs no factory)."""
        return {name: p for name, p in self.parents.items() if p.feature != self.name}


def singularize(plural: str) -> str:
    head, _, last = plural.rpartition("_")
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"),
                                ("shes", "sh")):  # fmt: skip
        if last.endswith(suffix):
            last = last.removesuffix(suffix) + replacement
            break
    else:
        if last.endswith("s") and not last.endswith(("ss", "us", "is")):
            last = last[:-1]
    return f"{head}_{last}" if head else last


def snake_case(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
