"""`make feature NAME=orders FIELDS="..." [AUTH=public] [OWNED=yes] [MODEL=Order] [JOBS=yes]
[CACHE=yes] [FEED=yes]`.

Renders `.feature-template/` into `features/<name>/`, adds the feature to the manifest
(`features/registry.py`) and its permissions to `features/users/permissions.py`. Everything is
checked before anything is written; a refusal prints one line, exits 2 and leaves every file
as it was.
"""

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts import manifest
from scripts import render as templates
from scripts.fields import SpecError, parse_fields
from scripts.names import (
    FeatureError,
    check_generated_names,
    check_name,
    check_project_names,
)
from scripts.paths import FEATURES_DIR, PERMISSIONS, PROJECT_DIR, REGISTRY
from scripts.render import render, template_names
from scripts.spec import Feature, Parent

OPTIONS = {"NAME": "", "FIELDS": "", "AUTH": "protected", "OWNED": "no", "MODEL": "",
           "JOBS": "no", "CACHE": "no", "FEED": "no"}  # fmt: skip

# Columns and list parameters every feature has; SQLModel's attributes are added to them.
SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "owner_id", "limit", "offset",
                           "order_by", "q"})  # fmt: skip
# SQLModel's public attributes (pydantic's included), which a field must not shadow. Listed
# rather than read from `dir(SQLModel)`: importing SQLModel tripled `make feature`'s time.
# The template's tests fail when an upgrade adds one that is missing here.
SQLMODEL_ATTRIBUTES = frozenset({
    "construct", "copy", "dict", "from_orm", "json", "metadata", "model_computed_fields",
    "model_config", "model_construct", "model_copy", "model_dump", "model_dump_json",
    "model_extra", "model_fields", "model_fields_set", "model_json_schema",
    "model_parametrized_name", "model_post_init", "model_rebuild", "model_validate",
    "model_validate_json", "model_validate_strings", "parse_file", "parse_obj", "parse_raw",
    "schema", "schema_json", "sqlmodel_update", "update_forward_refs", "validate",
})  # fmt: skip


def reserved_fields() -> frozenset[str]:
    """Columns every table has, list parameters, SQLModel's attributes, and the names the
    model and schema classes use (a field `date` would shadow the type `date` in its class)."""
    return SYSTEM_FIELDS | SQLMODEL_ATTRIBUTES | template_names().in_classes


def parse_options(argv: list[str]) -> dict[str, str]:
    options = dict(OPTIONS)
    for argument in argv:
        key, sep, value = argument.partition("=")
        if not sep or key not in OPTIONS:
            raise FeatureError(f"unknown argument {argument!r}; expected {', '.join(OPTIONS)}")
        options[key] = value.strip() or OPTIONS[key]
    return options


def find_parent(target: str, feature: Feature) -> Parent:
    """The feature a reference names, read off its models.py; refused if there is none."""
    if target == feature.name:
        return Parent(target, feature.model, feature.owned)
    if target == "users":
        raise FeatureError(
            "references to users are not generated: OWNED=yes gives each row its owner "
            "(owner_id); for another link to a user, add the column by hand"
        )
    models = FEATURES_DIR / target / "models.py"
    if not models.is_file():
        raise FeatureError(
            f"a reference names the feature {target!r}, which does not exist; add it first"
        )
    for node in ast.parse(models.read_text()).body:
        if not isinstance(node, ast.ClassDef):
            continue
        names = {_assigned(statement): statement for statement in node.body}
        table = names.get("__tablename__")
        if isinstance(table, ast.Assign) and ast.literal_eval(table.value) == target:
            return Parent(target, node.name, owned="owner_id" in names)
    raise FeatureError(f"features/{target}/models.py has no table named {target!r}")


def _assigned(statement: ast.stmt) -> str:
    """The name a class-body statement assigns (`x = ...`, `x: T = ...`), or ""."""
    if isinstance(statement, ast.AnnAssign):
        return ast.unparse(statement.target)
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        return ast.unparse(statement.targets[0])
    return ""


def feature_from(given: dict[str, str]) -> Feature:
    options = {**OPTIONS, **given}
    name, model = options["NAME"], options["MODEL"]
    check_name(name, model)
    if (FEATURES_DIR / name).exists():
        raise FeatureError(f"features/{name} already exists; nothing was changed")
    if options["AUTH"] not in ("protected", "public"):
        raise FeatureError(f"AUTH={options['AUTH']!r} must be protected (the default) or public")
    for option in ("OWNED", "JOBS", "CACHE", "FEED"):
        if options[option] not in ("yes", "no"):
            raise FeatureError(f"{option}={options[option]!r} must be yes or no")
    protected, owned = options["AUTH"] == "protected", options["OWNED"] == "yes"
    if owned and not protected:
        raise FeatureError("OWNED=yes needs a caller to own the rows; drop AUTH=public")
    bare = Feature(name, (), protected=protected, owned=owned, model_name=model)
    check_project_names(bare)
    try:
        fields = parse_fields(options["FIELDS"], reserved_fields(), bare.model)
    except SpecError as exc:
        raise FeatureError(str(exc)) from None
    for spec in fields:
        if spec.type == "ref" and spec.target == name and not spec.optional:
            raise FeatureError(f"the self-reference {spec.name!r} must be optional ({spec.name}?)")
    parents = {spec.column: find_parent(spec.target, bare) for spec in fields if spec.target}
    for column, parent in parents.items():
        if parent.owned and not owned:
            raise FeatureError(
                f"{column} references {parent.feature}, whose rows are private to their owners; "
                "a shared feature cannot point at them: make this one OWNED=yes too"
            )
    feature = Feature(
        name,
        fields,
        protected,
        owned,
        model,
        parents,
        jobs=options["JOBS"] == "yes",
        cache=options["CACHE"] == "yes",
        feed=options["FEED"] == "yes",
    )
    check_generated_names(feature)
    return feature


def edited_files(feature: Feature) -> dict[Path, str]:
    """The new text of every existing file the feature adds lines to."""
    name = feature.name
    try:
        registry = manifest.add_imports(
            REGISTRY.read_text(),
            [
                f"from features.{name} import models as {name}_models",
                f"from features.{name}.routes import TAG as {name.upper()}_TAG",
                f"from features.{name}.routes import router as {name}_router",
            ],
        )
        path = "features/registry.py"
        registry = manifest.add_entries(registry, "ROUTERS", [f"{name}_router"], path=path)
        registry = manifest.add_entries(registry, "MODELS", [f"{name}_models"], path=path)
        registry = manifest.add_entries(
            registry, "OPENAPI_TAGS", [f"{name.upper()}_TAG"], path=path
        )
        if feature.jobs:
            jobs_import = f"from features.{name} import jobs as {name}_jobs"
            registry = manifest.add_imports(registry, [jobs_import])
            registry = manifest.add_entries(registry, "JOBS", [f"{name}_jobs"], path=path)
        edits = {REGISTRY: registry}
        if feature.protected:
            path = "features/users/permissions.py"
            permissions = manifest.add_enum_members(
                PERMISSIONS.read_text(), "Permission", feature.permissions(), path=path
            )
            edits[PERMISSIONS] = manifest.add_entries(
                permissions, "USER_PERMISSIONS", feature.user_grants(), path=path
            )
    except manifest.ManifestError as exc:
        raise FeatureError(str(exc)) from None
    return edits


def format_python(paths: list[Path]) -> None:
    """Wrap long lines as ruff format does; the templates already import only what they use."""
    subprocess.run(  # noqa: S603 (our own interpreter, our own files)
        [sys.executable, "-m", "ruff", "format", "--quiet", *map(str, paths)],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )


def add_feature(options: dict[str, str]) -> Feature:
    """Check everything, then write the feature and the edited files, or nothing at all."""
    feature = feature_from(options)
    target = FEATURES_DIR / feature.name
    if target.exists():
        raise FeatureError(f"features/{feature.name} already exists; nothing was changed")
    if not templates.TEMPLATE_DIR.is_dir():
        raise FeatureError(".feature-template/ is missing; it holds the feature templates")
    edits = edited_files(feature)

    staging = Path(tempfile.mkdtemp(prefix=f".new-{feature.name}-", dir=FEATURES_DIR))
    try:
        written = render(feature, staging / "feature")
        staged_edits = {path: staging / path.name for path in edits}
        for path, text in edits.items():
            staged_edits[path].write_text(text)
        format_python([*written, *staged_edits.values()])
        (staging / "feature").rename(target)
        for path, staged in staged_edits.items():
            os.replace(staged, path)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return feature


def main(argv: list[str]) -> int:
    try:
        feature = add_feature(parse_options(argv))
    except FeatureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    access = (
        "public" if feature.public else f"needs {feature.name}:read / {feature.name}:write"
    ) + (", rows owned by their creator" if feature.owned else "")
    for extra, wanted in (
        ("GET by id cached", feature.cache),
        (f"a change feed at {feature.url}/feed (WebSocket)", feature.feed),
        ("an example job", feature.jobs),
    ):
        access += f", {extra}" if wanted else ""
    print(
        f"Created features/{feature.name}/ (model {feature.model}, routes at {feature.url}, "
        f"{access}) and added it to features/registry.py.\n"
        f'Next: make migrate MSG="add {feature.name}" && make upgrade && make test'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
