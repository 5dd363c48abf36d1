"""The cache and feed measurements that run inside a baked project's venv (bench/realtime.py).

    PYTHONPATH=. uv run python <this file> cache <operations> <rounds>
    PYTHONPATH=. uv run python <this file> fanout <base url> <rounds> <sockets>...
    PYTHONPATH=. uv run python <this file> idle <base url> <sockets> <server pid>

Each prints one JSON object on its last line. `cache` calls the ASGI app in this process (no
server, no socket) with DATABASE_URL and REDIS_URL as the app reads them: the latency of a GET
by id of the cached `notes` feature when its entry is there (hit) and when it was just
invalidated (miss), and of the uncached `items` feature. `fanout` holds N sockets on the
public `/notes/feed` of a served app and times, from the start of a POST to another connection,
the first and the last socket to hear of it. `idle` reads the server's resident memory before
and after N sockets connect and settle.
"""

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from core.cache import cache
from main import create_app
from websockets.asyncio.client import ClientConnection, connect

FEED = "/notes/feed"


async def asgi_timings(
    client: httpx.AsyncClient, path: str, count: int, before: Any
) -> list[float]:
    """Microseconds per GET of `path`, calling `before()` (untimed) ahead of each."""
    timings = []
    for _ in range(count):
        await before()
        started = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - started) * 1e6)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    return timings


async def cache_latency(count: int, rounds: int) -> dict[str, list[float]]:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    figures: dict[str, list[float]] = {"hit": [], "miss": [], "uncached": []}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
    ):
        note = (await client.post("/notes", json={"title": "cached"})).json()["id"]
        item = (await client.post("/items", json={"name": "n", "price": "1", "qty": 1})).json()
        paths = {"hit": f"/notes/{note}", "miss": f"/notes/{note}"}
        paths["uncached"] = f"/items/{item['id']}"

        async def nothing() -> None:
            pass

        async def evict() -> None:
            await cache.invalidate("notes", note)

        for round_ in range(rounds + 1):  # the first warms up
            for name, before in (("hit", nothing), ("miss", evict), ("uncached", nothing)):
                timings = await asgi_timings(client, paths[name], count, before)
                if round_:
                    figures[name].append(statistics.median(timings))
    return figures


async def subscribed(url: str, count: int) -> list[ClientConnection]:
    sockets = []
    for _ in range(count):
        socket = await connect(url, open_timeout=30, max_queue=None)
        if json.loads(await socket.recv()) != {"type": "ready"}:
            raise RuntimeError("the feed did not answer ready")
        sockets.append(socket)
    return sockets


async def fanout(base: str, rounds: int, counts: list[int]) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {}
    ws_url = base.replace("http://", "ws://") + FEED
    async with httpx.AsyncClient(base_url=base) as client:
        for count in counts:
            sockets = await subscribed(ws_url, count)
            first, last = [], []
            try:
                for round_ in range(rounds + 1):
                    started = time.perf_counter()
                    heard = [asyncio.create_task(_heard_at(socket)) for socket in sockets]
                    response = await client.post("/notes", json={"title": f"round {round_}"})
                    if response.status_code != 201:
                        raise RuntimeError(f"POST /notes answered {response.status_code}")
                    times = await asyncio.gather(*heard)
                    if round_:
                        first.append((min(times) - started) * 1000)
                        last.append((max(times) - started) * 1000)
            finally:
                await asyncio.gather(*(socket.close() for socket in sockets))
            figures[str(count)] = {"first_ms": first, "last_ms": last}
    return figures


async def _heard_at(socket: ClientConnection) -> float:
    await asyncio.wait_for(socket.recv(), 30)
    return time.perf_counter()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def idle(base: str, count: int, pid: int) -> dict[str, float]:
    await asyncio.sleep(1)
    before = rss_kib(pid)
    sockets = await subscribed(base.replace("http://", "ws://") + FEED, count)
    try:
        await asyncio.sleep(3)  # settled: pinged (WEBSOCKET_PING_INTERVAL=1) and idle
        after = rss_kib(pid)
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))
    return {"before_kib": before, "after_kib": after, "sockets": count}


def main(argv: list[str]) -> object:
    mode, args = argv[0], argv[1:]
    if mode == "cache":
        # The access line of every request is part of the cost; where it goes is not. A
        # failure's traceback still reaches the real stderr.
        real_stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115
        try:
            return asyncio.run(cache_latency(int(args[0]), int(args[1])))
        finally:
            sys.stderr = real_stderr
    if mode == "fanout":
        return asyncio.run(fanout(args[0], int(args[1]), [int(n) for n in args[2:]]))
    if mode == "idle":
        return asyncio.run(idle(args[0], int(args[1]), int(args[2])))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
