"""The cache and the change feeds: a cached GET by id, hit and miss; one change fanned out to N
sockets; what an idle socket costs the server.

A copy of the featured project gets a public `notes` feature with `CACHE=yes FEED=yes`, as a
user would make it; bench/realtime_probe.py measures inside its venv. The cache is measured in
process on SQLite (in-process store) and PostgreSQL (in-process store, and Redis); the feeds on
a served app (`python -m core.server`, one worker, pinned to core 0, the clients on core 1),
without Redis and with it, under a throwaway key prefix deleted afterwards.
"""

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench import pg
from bench.config import JOBS_REDIS_URL, SERVED_ENV, Config
from bench.proc import run, say, serve
from bench.stats import Sample
from bench.steps import copy_project

PROBE = Path(__file__).resolve().parent / "realtime_probe.py"
SERVER = ["uv", "run", "python", "-m", "core.server", "--workers", "1"]
NOTES = ["make", "feature", "NAME=notes", "FIELDS=title:str", "AUTH=public"]
NOTES += ["CACHE=yes", "FEED=yes"]
# Where the cache is measured: (label, database, Redis or not).
CACHE_SETUPS = (
    ("SQLite, in process", "sqlite", False),
    ("PostgreSQL, in process", "pg", False),
    ("PostgreSQL, Redis", "pg", True),
)


@dataclass
class RealtimeResults:
    redis_url: str = JOBS_REDIS_URL
    # cache[setup][hit | miss | uncached]: median microseconds per GET by id, one per round
    cache: dict[str, dict[str, Sample]] = field(default_factory=dict)
    # fanout[with or without Redis][sockets][first_ms | last_ms]: from the POST's start
    fanout: dict[str, dict[str, dict[str, Sample]]] = field(default_factory=dict)
    idle_sockets: int = 0
    idle_kib_per_socket: Sample = field(default_factory=Sample)
    idle_rss_mib: Sample = field(default_factory=Sample)  # the server with its sockets


def probe(project: Path, env: dict[str, str], *args: str) -> object:
    command = ["taskset", "-c", "1", "uv", "run", "python", str(PROBE), *args]
    output = run(command, project, env={**env, "PYTHONPATH": str(project)}, timeout=900).stdout
    return json.loads(output.strip().splitlines()[-1])


def clean_redis(project: Path, prefix: str) -> None:
    script = (
        "import redis, sys; r = redis.Redis.from_url(sys.argv[1]); "
        "[r.delete(k) for k in r.scan_iter(match=sys.argv[2] + '*')]"
    )
    run(["uv", "run", "python", "-c", script, JOBS_REDIS_URL, prefix], project)


def redis_env(prefix: str) -> dict[str, str]:
    return {
        "REDIS_URL": JOBS_REDIS_URL,
        "CACHE_KEY_PREFIX": f"{prefix}:cache",
        "FEED_KEY_PREFIX": f"{prefix}:feed",
        "JOBS_KEY_PREFIX": f"{prefix}:jobs",
    }


def measure_realtime(cfg: Config, featured: Path, work: Path) -> RealtimeResults:
    project = copy_project(featured, work / "realtime")
    run(NOTES, project)
    run(["make", "migrate", "MSG=add notes"], project)
    result = RealtimeResults()
    prefix = f"paxx-bench-{uuid.uuid4().hex[:12]}"
    try:
        with pg.throwaway_database() as postgres:
            databases = {"sqlite": f"sqlite+aiosqlite:///{project}/realtime.db", "pg": postgres}
            for url in databases.values():
                run(["uv", "run", "alembic", "upgrade", "head"], project, env={"DATABASE_URL": url})
            for label, database, redis in CACHE_SETUPS:
                env = {**SERVED_ENV, "DATABASE_URL": databases[database]}
                env |= redis_env(prefix) if redis else {}
                counts = (str(cfg.cache_operations), str(cfg.cache_rounds))
                figures = probe(project, env, "cache", *counts)
                assert isinstance(figures, dict)
                result.cache[label] = {name: Sample(values) for name, values in figures.items()}
                medians = (f"{name} {s.median:.0f} µs" for name, s in result.cache[label].items())
                say(f"cache, {label}: " + ", ".join(medians))
            served = {**SERVED_ENV, "DATABASE_URL": databases["sqlite"]}
            measure_feeds(cfg, project, work, served, prefix, result)
    finally:
        clean_redis(project, prefix)
    return result


def measure_feeds(
    cfg: Config, project: Path, work: Path, env: dict[str, str], prefix: str, out: RealtimeResults
) -> None:
    for label, extra in (("in process", {}), ("Redis", redis_env(prefix))):
        with serve(SERVER, project, env={**env, **extra}, log=work / "feed-server.log") as server:
            counts = [str(n) for n in cfg.fanout_sockets]
            figures = probe(project, env, "fanout", server.url(), str(cfg.fanout_rounds), *counts)
            assert isinstance(figures, dict)
            out.fanout[label] = {
                count: {name: Sample(values) for name, values in times.items()}
                for count, times in figures.items()
            }
            for count, times in out.fanout[label].items():
                say(
                    f"feed fan-out, {label}, {count} sockets: first {times['first_ms'].median:.2f}"
                    f" ms, last {times['last_ms'].median:.2f} ms"
                )
    out.idle_sockets = cfg.idle_sockets
    redis = {**env, **redis_env(prefix), "WEBSOCKET_PING_INTERVAL": "1"}
    for _ in range(cfg.fanout_rounds):
        with serve(SERVER, project, env=redis, log=work / "idle.log") as server:
            args = (server.url(), str(cfg.idle_sockets), str(server.pid))
            memory = probe(project, env, "idle", *args)
            assert isinstance(memory, dict)
            per_socket = (memory["after_kib"] - memory["before_kib"]) / cfg.idle_sockets
            out.idle_kib_per_socket.add(per_socket)
            out.idle_rss_mib.add(memory["after_kib"] / 1024)
            say(
                f"{cfg.idle_sockets} idle sockets: {per_socket:.1f} KiB each, "
                f"{memory['after_kib'] / 1024:.1f} MiB in all"
            )


def section(result: RealtimeResults, cfg: Config) -> list[str]:
    """The report's section on the cache and the feeds."""
    rows = ["| Where | Hit | Miss | Not cached (`/items/{id}`) |", "|---|---|---|---|"]
    for label, figures in result.cache.items():
        cells = [figures[name].show(0, " µs") for name in ("hit", "miss", "uncached")]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    fans = ["| Fan-out | Sockets | First socket | Last socket |", "|---|---|---|---|"]
    for label, per_count in result.fanout.items():
        for count, times in per_count.items():
            first, last = times["first_ms"].show(2, " ms"), times["last_ms"].show(2, " ms")
            fans.append(f"| {label} | {count} | {first} | {last} |")
    return [
        "## 7. Cache and change feeds",
        "",
        "A public `notes` feature made with `CACHE=yes FEED=yes` in a copy of the project, "
        "production settings. *Cache*: a GET by id through the ASGI app in one process (no "
        f"server, no socket), {cfg.cache_operations} per run, median per run: *hit* with the "
        "entry in the cache, *miss* right after `cache.invalidate` (the load, the fill and, on "
        "Redis, the lock's round trips), and the uncached `items` feature's GET by id for "
        "comparison. Redis runs under a throwaway key prefix.",
        "",
        *rows,
        "",
        "*Feeds*: one server (`python -m core.server --workers 1`, core 0) and N sockets on the "
        "public `/notes/feed` (a client process on core 1); per run, one `POST /notes` on "
        "another connection, timed from its start to the first and the last socket hearing of "
        "the change (the POST's own work included). *Redis*: the message goes through Redis "
        "pub/sub and back, as with several workers.",
        "",
        *fans,
        "",
        f"*Idle sockets*: the server's resident memory before and after {result.idle_sockets} "
        "sockets connected, were answered `ready` and sat idle for 3 s (pinged every second), "
        "with "
        "Redis: "
        + result.idle_kib_per_socket.show(1, " KiB")
        + " per socket, "
        + result.idle_rss_mib.show(1, " MiB")
        + " in all. A benchmark, not a target.",
        "",
    ]
