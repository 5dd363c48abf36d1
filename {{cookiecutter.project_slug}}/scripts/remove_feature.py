"""`make remove-feature NAME=orders`: the reverse of `make feature`.

Deletes `features/<name>/` and the feature's lines in `features/registry.py` and
`features/users/permissions.py`, after checking that no other feature references it. A
refusal prints one line, exits 2 and changes nothing. Its migrations stay: the next
`make migrate` writes the DROP TABLE.
"""

import ast
import os
import re
import sys
import tempfile
from pathlib import Path

from scripts.paths import FEATURES_DIR, PERMISSIONS, REGISTRY

KEPT = frozenset({"users"})  # sign-in, permissions and the test fixtures depend on it


class RemovalError(Exception):
    """A refusal: its message is the one line the user sees."""


def referencing(name: str) -> list[str]:
    """The other features whose tables have a foreign key to `name`'s, or whose code imports it."""
    imports = re.compile(rf"\bfeatures\.{name}\b")
    return sorted(
        {
            path.relative_to(FEATURES_DIR).parts[0]
            for path in FEATURES_DIR.glob("*/**/*.py")
            if path.relative_to(FEATURES_DIR).parts[0] != name
            and (f'foreign_key="{name}.id"' in (text := path.read_text()) or imports.search(text))
        }
    )


def aliases_of(name: str) -> list[str]:
    """The names `make feature` gives the feature in features/registry.py."""
    return [f"{name}_router", f"{name}_models", f"{name}_jobs", f"{name.upper()}_TAG"]


def leftovers(name: str, edits: dict[Path, str]) -> list[str]:
    """What still names the feature after the line edits (hand-made lines, say)."""
    words = [*aliases_of(name), f"features\\.{name}", rf"{name.upper()}_(READ|WRITE|ADMIN)"]
    pattern = re.compile(rf"\b({'|'.join(words)})\b")
    return [
        f"{path.relative_to(FEATURES_DIR.parent)}:{number}"
        for path, text in edits.items()
        for number, line in enumerate(text.splitlines(), 1)
        if pattern.search(line)
    ]


def without_registry_lines(name: str, source: str) -> str:
    """`features/registry.py` without the feature's imports and list or dict entries."""
    aliases = "|".join(aliases_of(name))
    entry = re.compile(rf'\s*({aliases}|"{name}": \w+),\s*(#.*)?')
    lines = [
        line
        for line in source.splitlines(keepends=True)
        if not line.startswith((f"from features.{name}.", f"from features.{name} "))
        and not entry.fullmatch(line.rstrip("\n"))
    ]
    return "".join(lines)


def without_permission_lines(name: str, source: str) -> str:
    """`permissions.py` without the feature's `Permission` members and grants."""
    member = re.compile(rf'    {name.upper()}_(READ|WRITE|ADMIN) = "{name}:\w+"\s*')
    grant = re.compile(rf"\s*Permission\.{name.upper()}_(READ|WRITE|ADMIN),\s*")
    return "".join(
        line
        for line in source.splitlines(keepends=True)
        if not member.fullmatch(line.rstrip("\n")) and not grant.fullmatch(line.rstrip("\n"))
    )


def plan(name: str) -> dict[Path, str]:
    """Check everything; the new text of each file to rewrite."""
    if not name:
        raise RemovalError("NAME is required, e.g. make remove-feature NAME=orders")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not (FEATURES_DIR / name).is_dir():
        raise RemovalError(f"there is no feature {name!r} in features/; nothing was changed")
    if name in KEPT:
        raise RemovalError(f"the {name} feature is part of the project's sign-in; it stays")
    if users := referencing(name):
        raise RemovalError(
            f"{', '.join(users)} reference{'s' if len(users) == 1 else ''} {name}; remove "
            "those references (or features) first; nothing was changed"
        )
    edits = {
        REGISTRY: without_registry_lines(name, REGISTRY.read_text()),
        PERMISSIONS: without_permission_lines(name, PERMISSIONS.read_text()),
    }
    if left := leftovers(name, edits):
        raise RemovalError(
            f"{', '.join(left)} still name{'s' if len(left) == 1 else ''} {name} in a line this "
            "command does not know; edit it by hand first; nothing was changed"
        )
    for path, text in edits.items():
        try:
            ast.parse(text)
        except SyntaxError:
            raise RemovalError(
                f"{path.relative_to(FEATURES_DIR.parent)} would not be valid Python without "
                f"{name}'s lines; edit it by hand; nothing was changed"
            ) from None
    return edits


def remove(name: str) -> None:
    edits = plan(name)
    with tempfile.TemporaryDirectory(dir=FEATURES_DIR, prefix=".removed-") as trash:
        staged = {}
        for path, text in edits.items():
            staged[path] = Path(trash) / path.name
            staged[path].write_text(text)
        (FEATURES_DIR / name).rename(Path(trash) / name)  # gone at the end of the block
        for path, new in staged.items():
            os.replace(new, path)


def main(argv: list[str]) -> int:
    arguments = dict(argument.partition("=")[::2] for argument in argv)
    name = arguments.get("NAME", "").strip()
    try:
        remove(name)
    except RemovalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"Removed features/{name}/ and its lines in features/registry.py and "
        f"features/users/permissions.py.\n"
        f'Next: make migrate MSG="remove {name}" (it writes the DROP TABLE) && make upgrade'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
