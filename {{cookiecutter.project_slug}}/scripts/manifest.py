"""Line-based edits of the files `make feature` adds to: the manifest and the permissions.

Each edit inserts whole lines and leaves every other line (the user's own, comments included)
as it was. An edit that finds nothing to add to raises `ManifestError`, so the caller can
refuse before writing anything.
"""

import re


class ManifestError(Exception):
    """A file is not in the shape an edit needs: its message is the one line the user sees."""


def add_entries(source: str, name: str, entries: list[str], *, path: str) -> str:
    """`source` with `entries` added, one per line, to the list or dict literal `name = [...]`.

    The literal must be multi-line with its closing bracket alone at the start of a line, or
    empty on one line (`NAME: list[X] = []`). Entries already present are not added again.
    """
    lines = source.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{name}\b[^=]*=", line)), None)
    if start is None:
        raise ManifestError(f"{path} has no `{name} = ...` to add to; nothing was changed")
    new = [entry for entry in entries if f"    {entry},\n" not in lines]
    if not new:
        return source
    added = [f"    {entry},\n" for entry in new]
    empty = re.match(r"(.*=\s*)(\[\]|\{\})\s*$", lines[start])
    if empty:
        opening, closing = empty.group(2)[0], empty.group(2)[1]
        lines[start : start + 1] = [f"{empty.group(1)}{opening}\n", *added, f"{closing}\n"]
        return "".join(lines)
    end = None
    if re.search(r"[\[{(]\s*(#.*)?$", lines[start]):  # opened at the end of its first line
        for i in range(start + 1, len(lines)):
            if lines[i].rstrip() in {"]", "}", ")"}:
                end = i
                break
            if lines[i].strip() and not lines[i][0].isspace():
                break  # past the literal (a one-line one, or the next statement)
    if end is None:
        raise ManifestError(
            f"{path}: `{name}` is not a multi-line list with `]` alone on its last line; "
            "nothing was changed"
        )
    lines[end:end] = added
    return "".join(lines)


def add_imports(source: str, imports: list[str]) -> str:
    """`source` with `imports` (whole lines) among its `from features.` imports, sorted as
    isort sorts them, so the file stays lint-clean."""
    lines = source.splitlines(keepends=True)
    for statement in imports:
        line = f"{statement}\n"
        tops = [i for i, existing in enumerate(lines) if re.match(r"(from|import) ", existing)]
        if line in lines:
            continue
        block = [i for i, existing in enumerate(lines) if existing.startswith("from features.")]
        if block:
            at = next((i for i in block if lines[i] > line), block[-1] + 1)
        else:  # after the last top-level import
            at = tops[-1] + 1 if tops else 0
        lines.insert(at, line)
    return "".join(lines)


def add_enum_members(source: str, enum: str, members: dict[str, str], *, path: str) -> str:
    """`source` with `NAME = "value"` members appended to `class <enum>(...)`."""
    lines = source.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"class {enum}(")), None)
    if start is None:
        raise ManifestError(f"{path} has no `class {enum}` to add to; nothing was changed")
    last = start
    for i in range(start + 1, len(lines)):
        if re.match(r"    [A-Z][A-Z0-9_]* = ", lines[i]):
            last = i
        elif lines[i].strip() and not lines[i].startswith(" "):
            break
    new = [
        f'    {member} = "{value}"\n'
        for member, value in members.items()
        if not any(line.startswith(f"    {member} = ") for line in lines)
    ]
    lines[last + 1 : last + 1] = new
    return "".join(lines)
