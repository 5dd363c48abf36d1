"""Import blocks for generated modules: only what a module uses, laid out as ruff's isort does.

Templates list the statements they need (`import uuid`, `from x import y`); `import_block`
merges the names each module gives, sorts them and groups standard library, third-party and
project imports, so a new feature is lint-clean without `ruff --fix`.
"""

import re
import sys
from collections import defaultdict
from collections.abc import Iterable

FIRST_PARTY = frozenset({"core", "features", "settings", "tests", "main", "manage"})
_FROM = re.compile(r"^from (\S+) import (.+)$")
_IMPORT = re.compile(r"^import (\S+)$")


def import_block(statements: Iterable[str]) -> str:
    """The import lines for `statements` (blank or falsy ones ignored), sections apart."""
    straight: dict[int, set[str]] = defaultdict(set)
    names: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for statement in statements:
        if not statement:
            continue
        if match := _IMPORT.match(statement):
            straight[_section(match.group(1))].add(match.group(1))
        elif match := _FROM.match(statement):
            module, imported = match.groups()
            names[_section(module)][module].update(n.strip() for n in imported.split(","))
        else:
            raise ValueError(f"not an import statement: {statement!r}")
    sections = []
    for section in sorted(set(straight) | set(names)):
        lines = [f"import {module}" for module in sorted(straight[section], key=_module_key)]
        for module, imported in sorted(names[section].items(), key=lambda i: _module_key(i[0])):
            lines += _from_lines(module, imported)
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def _from_lines(module: str, imported: set[str]) -> list[str]:
    """One statement for the plain names, one for each `x as y`, ordered by their first name."""
    plain = sorted((name for name in imported if " as " not in name), key=_name_key)
    statements = [(plain[0], ", ".join(plain))] if plain else []
    statements += [(name.split()[0], name) for name in imported if " as " in name]
    return [
        f"from {module} import {names}"
        for _, names in sorted(statements, key=lambda s: _name_key(s[0]))
    ]


def _section(module: str) -> int:
    top = module.split(".")[0]
    if top in FIRST_PARTY:
        return 2
    return 0 if top in sys.stdlib_module_names else 1


def _module_key(module: str) -> str:
    return module.lower()


def _name_key(name: str) -> tuple[int, str]:
    # isort's order by type: CONSTANTS, then Classes, then functions and variables.
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1, name) if name[:1].isupper() else (2, name)
