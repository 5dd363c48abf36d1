"""A PostgreSQL restart costs a served app no 500, and once the server is back, no error at all.

The baked app has no pool pre-ping (its BEGIN, ping and ROLLBACK were three round trips before
every request's first statement). Instead a pooled connection the restarted server closed is
replaced at checkout, found by a look at its socket, and a read on a connection that died unseen
runs again once (core/connections.py). This restarts a real server under a served app: a private
cluster, since the shared one serves other tests.
"""

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.baking import free_port, http_json, run, serve
from tests.postgres_cluster import Cluster, private_cluster

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("feature")]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with private_cluster(free_port()) as cluster:
        yield cluster


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_restart_costs_no_500_and_nothing_once_the_server_is_back(
    feature_project: Path, cluster: Cluster
) -> None:
    env = {"DATABASE_URL": cluster.create_database("paxx"), "ENVIRONMENT": "development"}
    run(["uv", "run", "alembic", "upgrade", "head"], feature_project, env=env)
    with serve(feature_project, env) as base_url, ThreadPoolExecutor(max_workers=8) as pool:
        status, tag = http_json("POST", f"{base_url}/tags", {"label": "before"})
        assert status == 201
        read = f"{base_url}/tags/{tag['id']}"
        # Concurrent reads fill the pool with connections that each restart will close.
        assert set(pool.map(status_of, [read] * 40)) == {200}

        cluster.ctl("restart", "-m", "fast")
        # A write first: writes are never run again, so its connection must be a live one.
        first = http_json("POST", f"{base_url}/tags", {"label": "after"})[0]
        after = list(pool.map(status_of, [read] * 40))

        during: list[int] = []
        stop = threading.Event()

        def keep_reading() -> None:
            while not stop.is_set():
                during.append(status_of(read))

        reader = threading.Thread(target=keep_reading)
        reader.start()
        try:
            cluster.ctl("restart", "-m", "fast")
        finally:
            stop.set()
            reader.join()
        again = list(pool.map(status_of, [read] * 40))

    assert first == 201
    assert set(after) == {200}
    # While the server was down a request may be told to retry (503), never a 500.
    assert during
    assert set(during) <= {200, 503}
    assert set(again) == {200}
