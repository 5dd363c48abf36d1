"""Rendering `.feature-template/` for a feature, and the names the templates use."""

import ast
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from scripts.field_types import TYPES
from scripts.fields import FieldSpec
from scripts.imports import import_block
from scripts.spec import Feature, Parent

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / ".feature-template"
TEMPLATE_SUFFIX = ".py-tpl"


def environment(template_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(template_dir),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 (renders Python source, not HTML)
    )
    env.globals["imports"] = lambda *groups: import_block(
        statement
        for group in groups
        for statement in ([group] if isinstance(group, str) else group)
    )
    return env


def render(feature: Feature, destination: Path, template_dir: Path | None = None) -> list[Path]:
    template_dir = template_dir or TEMPLATE_DIR
    env = environment(template_dir)
    written = []
    for template in sorted(template_dir.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = template.relative_to(template_dir)
        source = env.get_template(relative.as_posix()).render(feature=feature)
        if not source.strip() and relative.name != f"__init__{TEMPLATE_SUFFIX}":
            continue  # a module this feature does not need (tests/conftest.py without parents)
        target = destination / relative.with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
        written.append(target)
    return written


def probe_feature() -> Feature:
    """A feature with every field type and option, so its rendering uses every template line."""
    fields = [
        FieldSpec(f"zzprobe_{name}", name, unique=TYPES[name].unique)
        for name in TYPES
        if name not in ("ref", "enum")
    ]
    fields += [
        FieldSpec("zzprobe_ref", "ref", target="zzprobe_parents"),
        FieldSpec("zzprobe_self", "ref", optional=True, target="zzprobes"),
        FieldSpec(
            "zzprobe_enum", "enum", choices=("zzprobe_a", "zzprobe_b"), enum_class="ZzprobeEnum"
        ),
    ]
    parents = {
        "zzprobe_ref_id": Parent("zzprobe_parents", "ZzprobeParent", owned=True),
        "zzprobe_self_id": Parent("zzprobes", "Zzprobe", owned=True),
    }
    return Feature(
        "zzprobes", tuple(fields), owned=True, parents=parents, jobs=True, cache=True, feed=True
    )


@dataclass(frozen=True)
class TemplateNames:
    """The names the templates use on their own, read off a rendering of a probe feature, so
    the checks cannot drift from the templates.

    `module`: imported or defined at the top of some generated module (a model class named like
    one would shadow it). `local`: used in a module where the feature's singular is a variable
    (`order = ...`, `order_id`), so the singular may not be one of them. `in_classes`: used in
    the model and schema modules, where a field named like one would shadow it in the class.
    """

    module: frozenset[str]
    local: frozenset[str]
    in_classes: frozenset[str]


def template_names() -> TemplateNames:
    return _names_in(TEMPLATE_DIR)


@cache
def _names_in(template_dir: Path) -> TemplateNames:
    with tempfile.TemporaryDirectory() as scratch:
        paths = render(probe_feature(), Path(scratch), template_dir)
        trees = {path.name: ast.parse(path.read_text()) for path in paths}
    module: set[str] = set()
    local: set[str] = set()
    in_classes: set[str] = set()
    for name, tree in trees.items():
        module |= _top_level(tree)
        used = _used(tree)
        if "zzprobe" in used:  # the singular is a variable here
            local |= used
        if name in ("models.py", "schemas.py"):
            in_classes |= used
    return TemplateNames(*(frozenset(_own(names)) for names in (module, local, in_classes)))


def _top_level(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _used(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names | _top_level(tree)


def _own(names: set[str]) -> set[str]:
    """Leave out the probe's own names (its model, fields, singular): they change per feature."""
    return {name for name in names if "zzprobe" not in name.lower()}
