"""The report's comparisons: the layer table (and the app layer's cost in it), and
BENCH_BASELINE's.

`BENCH_BASELINE=<commit> make bench` serves the template as it was at that commit (baked with
its own defaults and the same items feature, on rows of its own) next to this one, alternating
the apps run by run as it does with the raw app; these tables give their ratio.
"""

from dataclasses import dataclass

from bench.config import Config
from bench.load import BASELINE, OPERATIONS, LoadResults
from bench.stats import Sample

GET_BY_ID = "GET /items/{id}"
# The goals: a GET by id at least a quarter cheaper than at the baseline; list and
# create not dearer (within the 5 % two runs of the same app differ by here).
GET_BY_ID_GOAL = 0.75
NOT_DEARER = 1.05
NOT_DEARER_OPERATIONS = ("GET /items?limit=20", "POST /items")
# What the app layer (the whole app's CPU over "ORM + JSON") may cost per GET by id, in µs.
APP_LAYER_GOAL = 250.0


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool


def cpu_ratio(load: LoadResults, database: str, operation: str) -> float:
    """This app's CPU per request over the baseline's (medians); NaN without a baseline."""
    cells = load.cells[database][operation]
    if BASELINE not in cells or not cells[BASELINE].cpu_ms.values:
        return float("nan")
    return cells["generated"].cpu_ms.median / cells[BASELINE].cpu_ms.median


def app_layer_us(layers: dict[str, Sample]) -> float:
    """The whole app's CPU per GET by id over that of the ORM read and its JSON."""
    if "ORM + JSON" not in layers or "FastAPI app" not in layers:
        return float("nan")
    return layers["FastAPI app"].median - layers["ORM + JSON"].median


def targets(load: LoadResults) -> list[Target]:
    found = []
    for database, layers in load.layers.items():
        added = app_layer_us(layers)
        found.append(
            Target(
                f"App layer above ORM + JSON, {database}",
                f"≤ {APP_LAYER_GOAL:.0f} µs",
                f"{added:.0f} µs",
                added <= APP_LAYER_GOAL,
            )
        )
    for database, per_op in load.cells.items():
        if BASELINE not in per_op[GET_BY_ID]:
            continue
        r = cpu_ratio(load, database, GET_BY_ID)
        found.append(
            Target(
                f"GET by id CPU vs baseline, {database}",
                f"≤ {GET_BY_ID_GOAL:.2f}\N{MULTIPLICATION SIGN}",
                f"{r:.2f}\N{MULTIPLICATION SIGN}",
                r <= GET_BY_ID_GOAL,
            )
        )
        for operation in NOT_DEARER_OPERATIONS:
            r = cpu_ratio(load, database, operation)
            found.append(
                Target(
                    f"`{operation}` CPU vs baseline, {database}",
                    f"≤ {NOT_DEARER:.2f}\N{MULTIPLICATION SIGN}",
                    f"{r:.2f}\N{MULTIPLICATION SIGN}",
                    r <= NOT_DEARER,
                )
            )
    return found


def baseline_section(load: LoadResults, commit: str | None) -> list[str]:
    """The comparison table, or nothing when the run had no baseline."""
    if not commit:
        return []
    lines = [
        f"### Against the baseline (the template at {commit})",
        "",
        "The same load, the baseline's app served next to this one and alternated with it run "
        "by run (its own bake, defaults and rows). *CPU ratio* is this app's CPU ms per request "
        "over the baseline's, medians: below 1 is cheaper.",
        "",
        "| Database | Operation | CPU ms/request now | baseline | CPU ratio | req/s now | "
        "baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for database, per_op in load.cells.items():
        for operation in OPERATIONS:
            cells = per_op[operation]
            if BASELINE not in cells:
                continue
            now, then = cells["generated"], cells[BASELINE]
            lines.append(
                f"| {database} | `{operation}` | {now.cpu_ms.show(2)} | {then.cpu_ms.show(2)} | "
                f"{cpu_ratio(load, database, operation):.2f}\N{MULTIPLICATION SIGN} | "
                f"{now.rps.median:.0f} | {then.rps.median:.0f} |"
            )
    return [*lines, ""]


def layer_table(cfg: Config, load: LoadResults) -> list[str]:
    databases = list(load.layers)
    if not databases:
        return []
    lines = [
        "### Where a GET by id spends its CPU",
        "",
        "`bench/layers.py` in one process pinned to core 0, no server and no socket, after the "
        f"load above: {cfg.layer_rounds} rounds of {cfg.layer_operations} sequential GETs by id "
        "per layer, the layers taking turns round by round, each doing what the one above does "
        "and more. CPU \u00b5s per GET "
        "(process CPU, every thread), median (min\N{EN DASH}max); *+* is what the layer adds "
        "to the one above.",
        "",
        "| Layer | " + " | ".join(f"{db} | +" for db in databases) + " |",
        "|---|" + "---|---|" * len(databases),
    ]
    for layer in load.layers[databases[0]]:
        cells = []
        for db in databases:
            names = list(load.layers[db])
            sample = load.layers[db][layer]
            above = names.index(layer) - 1
            added = sample.median - load.layers[db][names[above]].median if above >= 0 else None
            cells += [sample.show(0), "" if added is None else f"{added:+.0f}"]
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    served = [
        f"{db}: generated {cells['generated'].cpu_ms.median * 1000:.0f}, "
        f"raw {cells['raw'].cpu_ms.median * 1000:.0f}"
        for db, per_op in load.cells.items()
        for operation, cells in per_op.items()
        if operation == GET_BY_ID
    ]
    app_layer = "; ".join(
        f"{db} {app_layer_us(layers):.0f} \u00b5s" for db, layers in load.layers.items()
    )
    lines += [
        "",
        "What the app layer (routing, dependencies, the session dependency, the middleware, the "
        f"access line) adds above *ORM + JSON*: {app_layer}. The ORM layers open their session "
        "in `async with` and commit, as a hand-written handler would; the app's own session "
        "dependency does less (core/dependencies.py), which counts in the app's favour here.",
        "",
        "The same GET by id served under load (CPU \u00b5s per request, from the table above): "
        + "; ".join(served)
        + ".",
        "",
    ]
    return lines + baseline_layer_table(cfg, load)


def baseline_layer_table(cfg: Config, load: LoadResults) -> list[str]:
    """Each layer's cost now and at BENCH_BASELINE: what the changes since bought, where."""
    databases = [db for db in load.layers if load.baseline_layers.get(db)]
    if not databases:
        return []
    lines = [
        f"#### Layer by layer against the baseline ({cfg.baseline})",
        "",
        "The same probe on the baseline's app, after its load. What each layer *adds* to the one "
        "above, in CPU \u00b5s per GET by id (medians), now and then: the difference is what the "
        "changes since bought in that layer.",
        "",
        "| Layer adds | " + " | ".join(f"{db} now | then | gain" for db in databases) + " |",
        "|---|" + "---|---|---|" * len(databases),
    ]
    for row in load.layers[databases[0]]:
        cells = []
        for db in databases:
            now, then = added_us(load.layers[db], row), added_us(load.baseline_layers[db], row)
            cells += [f"{now:.0f}", f"{then:.0f}", f"{then - now:+.0f}"]
        # What the whole app adds above "ORM + JSON" is the app layer.
        label = "FastAPI app (the app layer)" if row == "FastAPI app" else row
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    totals = []
    for db in databases:
        now, then = (
            load.layers[db]["FastAPI app"].median,
            load.baseline_layers[db]["FastAPI app"].median,
        )
        totals += [f"{now:.0f}", f"{then:.0f}", f"{then - now:+.0f}"]
    lines += ["| **whole app** | " + " | ".join(totals) + " |", ""]
    return lines


def added_us(layers: dict[str, Sample], row: str) -> float:
    """What `row` adds above the layer before it (the driver: all of it); NaN if missing."""
    names = list(layers)
    if row not in layers:
        return float("nan")
    above = names.index(row) - 1
    return layers[row].median - (layers[names[above]].median if above >= 0 else 0.0)
