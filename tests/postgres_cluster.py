"""A private PostgreSQL server a test may stop and restart: the shared one on 5432 serves others.

It runs this machine's PostgreSQL binaries (Debian's, under /usr/lib/postgresql) as the
`postgres` user, so the tests that use it run as root or as that user, and fail loudly otherwise.
"""

import contextlib
import getpass
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@dataclass(frozen=True)
class Cluster:
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def ctl(self, *args: str) -> None:
        """`pg_ctl` on this cluster, waiting until it is done (`-w`)."""
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = str(self.data / "server.log")
        command = [_binary("pg_ctl"), "-D", str(self.data), "-w", "-o", options, "-l", log]
        _as_postgres([*command, *args])

    def create_database(self, name: str) -> str:
        _as_postgres([_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), name])
        return self.url(name)


def _binary(name: str) -> str:
    for directory in BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    pytest.fail(f"PostgreSQL's {name} is required (apt-get install postgresql)", pytrace=False)


def _as_postgres(args: list[str]) -> None:
    if getpass.getuser() != "postgres":
        if os.geteuid() != 0:
            pytest.fail("a private PostgreSQL runs as root or as postgres", pytrace=False)
        args = ["runuser", "-u", "postgres", "--", *args]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        pytest.fail(f"`{' '.join(args)}` failed:\n{result.stdout}{result.stderr}", pytrace=False)


@contextlib.contextmanager
def private_cluster(port: int) -> Iterator[Cluster]:
    """initdb a cluster (trust auth, user postgres) on `port`, start it; stop and delete it."""
    # Under /tmp itself: pytest's own temporary directories are closed to other users.
    data = Path(tempfile.mkdtemp(prefix="paxx-pg-"))
    shutil.chown(data, "postgres", "postgres")
    cluster = Cluster(data, port)
    try:
        _as_postgres([_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"])
        cluster.ctl("start")
        yield cluster
    finally:
        with contextlib.suppress(BaseException):
            cluster.ctl("stop", "-m", "immediate")
        shutil.rmtree(data, ignore_errors=True)
