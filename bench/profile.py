"""Where a served worker spends its CPU: py-spy samples, summed by package and by function."""

import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PY_SPY = Path(sys.executable).parent / "py-spy"
# A frame in py-spy's raw (collapsed) output: `function (package/module.py:123)`, the path
# relative to the sys.path entry it was found on.
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
APP_MODULES = frozenset({"core", "features", "main", "settings"})
# aiosqlite's worker threads block on their queue inside C; py-spy cannot tell that from work.
IDLE_LEAVES = ("_connection_worker_thread (aiosqlite/core.py:59)",)


def bucket(file: str) -> str:
    """Where a frame's code lives: the baked app, a stdlib module, or a third-party package."""
    if file.startswith("<frozen "):  # importlib's own bootstrap, frozen into the interpreter
        return "stdlib: " + file.removeprefix("<frozen ").split(".")[0].rstrip(">")
    top = file.split("/")[0].removesuffix(".py")
    if top in APP_MODULES:
        return "app (baked project)"
    if top in sys.stdlib_module_names:
        return f"stdlib: {top}"
    return top


def stacks(raw: str) -> list[str]:
    """py-spy's raw output as `frame;frame;... count` lines. With --subprocesses every stack
    starts with its process's command line, which holds newlines when it is a `python -c`
    script: those lines are joined back, or the script's lines would be read as stacks."""
    lines = raw.splitlines()
    if not lines or not lines[0].startswith("process "):
        return lines
    joined: list[str] = []
    for line in lines:
        if line.startswith("process ") or not joined:
            joined.append(line)
        else:
            joined[-1] += "\\n" + line
    return joined


def summarize(raw: str, top: int = 15, phases: Mapping[str, str] | None = None) -> str:
    """Phases (samples whose stack holds a marker frame), self time by package, then self and
    inclusive time of the top functions."""
    by_phase: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in stacks(raw):
        stack, _, count_text = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames or not count_text.isdigit():
            continue
        count = int(count_text)
        if frames[-1] in IDLE_LEAVES:
            idle += count
            continue
        total += count
        for phase, marker in (phases or {}).items():
            if marker in stack:
                by_phase[phase] += count
        leaf = FRAME.match(frames[-1])
        by_package[bucket(leaf.group("file")) if leaf else "?"] += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples (is the process busy? may py-spy attach?)\n"

    def table(counter: Counter[str], title: str, order: list[str] | None = None) -> list[str]:
        rows = [(name, counter[name]) for name in order] if order else counter.most_common(top)
        lines = [f"{title} ({total} busy samples)", f"{'share':>7}  where"]
        lines += [f"{100 * n / total:6.1f}%  {name}" for name, n in rows]
        return [*lines, ""]

    note = f"({idle} samples of aiosqlite threads waiting on their queue left out)" if idle else ""
    return "\n".join(
        (table(by_phase, "Phases (samples under a marker frame)", list(phases)) if phases else [])
        + table(by_package, "Self time by package")
        + table(self_time, "Self time by function")
        + table(inclusive, "Inclusive time by function")
        + [note, ""]
    )


def profile_under_load(
    pid: int,
    load: Callable[[], Any],
    seconds: float,
    out: Path,
    phases: Mapping[str, str] | None = None,
) -> str:
    """Sample `pid` for `seconds` while `load()` runs; write the summary and the raw stacks."""
    raw = out.with_suffix(".collapsed")
    record = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(int(seconds))]
    record += ["--rate", "200", "--format", "raw", "--output", str(raw)]
    loader = threading.Thread(target=load)
    loader.start()
    try:
        subprocess.run(["taskset", "-c", "1", *record], capture_output=True, check=False)
    finally:
        loader.join()
    text = raw.read_text() if raw.exists() else ""
    summary = summarize(text, phases=phases)
    out.write_text(summary)
    return summary


def profile_command(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str],
    out: Path,
    phases: Mapping[str, str] | None = None,
) -> str:
    """Run `args` under py-spy (child processes too); write and return the summary."""
    raw = out.with_suffix(".collapsed")
    record = [str(PY_SPY), "record", "--subprocesses", "--rate", "250", "--format", "raw"]
    record += ["--output", str(raw), "--", *args]
    subprocess.run(record, cwd=cwd, env=env, capture_output=True, check=False)
    summary = summarize(raw.read_text() if raw.exists() else "", phases=phases)
    out.write_text(summary)
    return summary
