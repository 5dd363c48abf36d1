"""One PNG: the developer loop against its targets, and requests/s against the raw limit."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only

import matplotlib.pyplot as plt

from bench.load import APPS, BASELINE, OPERATIONS, Cell, LoadResults
from bench.stats import Sample
from bench.steps import DevLoop


def _errors(samples: list[Sample]) -> list[list[float]]:
    return [[s.median - s.low for s in samples], [s.high - s.median for s in samples]]


def draw(dev: DevLoop, load: LoadResults, out: Path) -> None:
    fig, (loop_ax, load_ax) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=[1, 1.6])

    # Each step as a share of its time target, so one axis fits seconds and tens of seconds.
    steps = [
        ("bake", dev.bake_s, 0.5),
        ("make feature", dev.feature_s, 1.0),
        ("fresh to green", dev.green_s, 20.0),
        ("cold start", dev.cold_start_s, 1.0),
    ]
    shares = [Sample([v / goal for v in s.values]) for _, s, goal in steps]
    bars = loop_ax.bar(
        [name for name, _, _ in steps],
        [s.median for s in shares],
        yerr=_errors(shares),
        capsize=4,
        color=["tab:green" if s.median <= 1 else "tab:red" for s in shares],
    )
    for bar, (_, sample, _), share in zip(bars, steps, shares, strict=True):
        loop_ax.annotate(
            f"{sample.median:.2f} s",
            (bar.get_x() + bar.get_width() / 2, share.high),  # above the error bar
            ha="center",
            va="bottom",
            xytext=(0, 4),
            textcoords="offset points",
        )
    loop_ax.axhline(1, color="black", linestyle="--", linewidth=1, label="target")
    loop_ax.set_ylabel("median time / target (lower is better)")
    loop_ax.set_title("Developer loop")
    loop_ax.legend()

    labels: list[str] = []
    apps = [app for app in (*APPS, BASELINE) if any(
        app in per_op[operation] for per_op in load.cells.values() for operation in OPERATIONS
    )]  # fmt: skip
    series: dict[str, list[Sample]] = {app: [] for app in apps}
    for database, per_op in load.cells.items():
        for operation in OPERATIONS:
            labels.append(f"{operation} ({database})")
            for app in apps:
                series[app].append(per_op[operation].get(app, Cell()).rps)
    width = 0.8 / len(apps)
    positions = range(len(labels))
    names = {"generated": "generated app", "raw": "raw Starlette (limit)", BASELINE: "baseline"}
    for index, app in enumerate(apps):
        offset = (index - (len(apps) - 1) / 2) * width
        load_ax.bar(
            [p + offset for p in positions],
            [s.median for s in series[app]],
            width,
            yerr=_errors(series[app]),
            capsize=3,
            label=names[app],
        )
    load_ax.set_xticks(list(positions), labels, fontsize=7, rotation=30, ha="right")
    load_ax.set_ylabel("requests/s, one worker (higher is better)")
    load_ax.set_title("Throughput: generated app vs raw limit")
    load_ax.legend()

    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
