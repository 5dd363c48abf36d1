"""Rendering `.feature-template/` for a feature, and the names the templates use."""

import ast
import tempfile
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
        FieldSpec("zzprobe_enum", "enum", choices=("a", "b"), enum_class="ZzprobeEnum"),
    ]
    parents = {
        "zzprobe_ref_id": Parent("zzprobe_parents", "ZzprobeParent", owned=True),
        "zzprobe_self_id": Parent("zzprobes", "Zzprobe", owned=True),
    }
    return Feature("zzprobes", tuple(fields), owned=True, parents=parents)


def template_names() -> frozenset[str]:
    return _names_in(TEMPLATE_DIR)


@cache
def _names_in(template_dir: Path) -> frozenset[str]:
    """Every name the templates use on their own (imports, locals, parameters, helpers).

    Read off a rendering of a probe feature, so the check cannot drift from the templates: a
    feature whose model or variable would take one of these names is refused.
    """
    with tempfile.TemporaryDirectory() as scratch:
        paths = render(probe_feature(), Path(scratch), template_dir)
        sources = [path.read_text() for path in paths]
    names = set()
    for node in (n for source in sources for n in ast.walk(ast.parse(source))):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return frozenset(name for name in names if "zzprobe" not in name.lower())
