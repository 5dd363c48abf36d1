"""Background jobs over real processes: two workers and one scheduler on the local Redis.

A probe feature added to a baked project records every run in a file (one line each, with the
process id), so the test can count runs across processes: schedules fire once per tick,
retries come back with growing delays, exhausted jobs land in the dead letter and replay,
a SIGKILLed worker's job runs again on the other worker, and a rolled-back request emits
nothing.
"""

import contextlib
import itertools
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.baking import TEST_REDIS_URL, bake, run, serve, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("jobs")]

REDIS_URL = TEST_REDIS_URL

PROBE_JOBS = """
import asyncio
import contextlib
import itertools
import os
import time
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from core.dependencies import SessionDep
from core.events import Event, emit
from core.exceptions import ConflictError
from core.jobs.declare import Schedule, job
from core.jobs.retry import RetryPolicy
from core.routing import Router
from features.users.jobs import purge_refresh_tokens

LOG = Path(os.environ["PROBE_LOG"])


def record(*words: object) -> int:
    with LOG.open("a") as log:
        log.write(" ".join(str(w) for w in (*words, os.getpid(), time.time())) + "\\n")
    key = [str(w) for w in words[:2]]
    return sum(1 for line in LOG.read_text().splitlines() if line.split()[:2] == key)


@job(schedules=[Schedule(every=__import__("datetime").timedelta(seconds=2))], overlap="skip")
async def tick(session: AsyncSession) -> None:
    await purge_refresh_tokens.fn(session)
    record("tick", "-")


@job(retry=RetryPolicy(max_attempts=3, delay=0.5, jitter=0))
async def flaky(session: AsyncSession, token: str) -> None:
    if record("flaky", token) < 3:
        raise ConnectionError("not yet")
    record("flaky-done", token)


@job(retry=RetryPolicy(max_attempts=2, delay=0.2, jitter=0))
async def doomed(session: AsyncSession, token: str) -> None:
    record("doomed", token)
    raise ValueError("always")


@job(retry=RetryPolicy(max_attempts=1))
async def slow(session: AsyncSession, token: str) -> None:
    record("slow-start", token)
    await asyncio.sleep(2)
    record("slow-done", token)


class Poked(Event):
    token: str


async def on_poked(event: Poked) -> None:
    record("heard", event.token)


router = Router(prefix="/probe")


@router.post("/poke/{token}", status_code=204)
async def poke(token: str, session: SessionDep, fail: bool = False) -> None:
    emit(session, Poked(token=token))
    if fail:
        raise ConflictError("rolled back after the emit")
"""


class Workers:
    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project, self.env = project, env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = tempfile.TemporaryFile()  # noqa: SIM115  (kept open for all the tests)

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(command),
            cwd=self.project,
            env=tool_env(self.env),
            stdout=self.logs,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the whole tree (make, uv, taskiq, its worker) stops together
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{proc.args!r} did not stop\n{self.output()[-8000:]}", pytrace=False)

    def output(self) -> str:
        self.logs.seek(0)
        return self.logs.read().decode(errors="replace")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = bake(tmp_path_factory.mktemp("jobs"))
    probe = project / "features" / "probe"
    probe.mkdir()
    (probe / "__init__.py").write_text("")
    (probe / "jobs.py").write_text(PROBE_JOBS)
    registry = project / "features" / "registry.py"
    text = registry.read_text()
    text = text.replace(
        "from core.events import Event, Handler\n",
        "from core.events import Event, Handler\nfrom features.probe import jobs as probe_jobs\n",
    )
    text = text.replace("    users_jobs,\n]", "    users_jobs,\n    probe_jobs,\n]")
    text = text.replace(
        "ROUTERS: list[APIRouter] = [", "ROUTERS: list[APIRouter] = [probe_jobs.router, "
    )
    text = text.replace(
        "EVENT_HANDLERS: list[tuple[type[Event], Handler]] = [\n",
        "EVENT_HANDLERS: list[tuple[type[Event], Handler]] = [\n"
        "    (probe_jobs.Poked, probe_jobs.on_poked),\n",
    )
    registry.write_text(text)
    run(["uv", "sync", "--locked"], project)
    return project


@pytest.fixture(scope="module")
def env(project: Path) -> Iterator[dict[str, str]]:
    prefix = f"paxx-test-{uuid.uuid4().hex[:12]}"
    values = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{project / 'jobs.db'}",
        "REDIS_URL": REDIS_URL,
        "JOBS_KEY_PREFIX": prefix,
        # Short, so a killed worker's job is claimed by the other one within seconds.
        "JOBS_VISIBILITY_TIMEOUT_SECONDS": "4",
        "PROBE_LOG": str(project / "probe.log"),
    }
    ping = "import redis, sys; redis.Redis.from_url(sys.argv[1]).ping()"
    if run(["uv", "run", "python", "-c", ping, REDIS_URL], project, check=False).returncode:
        pytest.fail(f"Redis is required at {REDIS_URL} for the jobs tests", pytrace=False)
    run(["uv", "run", "alembic", "upgrade", "head"], project, env=values)
    yield values
    # Only this run's keys: other projects and runs may share the Redis.
    cleanup = (
        "import redis, sys; r = redis.Redis.from_url(sys.argv[1]);"
        "keys = list(r.scan_iter(match=sys.argv[2] + ':*')); keys and r.delete(*keys)"
    )
    run(["uv", "run", "python", "-c", cleanup, REDIS_URL, prefix], project)


@pytest.fixture(scope="module")
def workers(project: Path, env: dict[str, str]) -> Iterator[Workers]:
    pool = Workers(project, env)
    pool.start("make", "worker", "JOB_GRACE_SECONDS=10")
    pool.start("make", "worker", "JOB_GRACE_SECONDS=10")
    wait_until(
        lambda: (
            "Listening started" in pool.output() and pool.output().count("Listening started") >= 2
        ),
        60,
        pool,
    )
    yield pool
    # SIGKILL: a SIGTERM to the whole group races taskiq's supervisor, which restarts a worker
    # process that stopped on its own signal (the SIGTERM test signals the supervisor only).
    for proc in pool.procs:
        # The whole group, even if `make` itself has exited: its uv and taskiq may live on.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def wait_until(condition: Callable[[], bool], timeout: float, pool: Workers | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out\n{pool.output()[-6000:] if pool else ''}", pytrace=False)
        time.sleep(0.1)


def lines(project: Path, kind: str, token: str) -> list[list[str]]:
    log = project / "probe.log"
    if not log.exists():
        return []
    return [
        w for w in (line.split() for line in log.read_text().splitlines()) if w[:2] == [kind, token]
    ]


def manage(project: Path, env: dict[str, str], *args: str) -> str:
    return run(["uv", "run", "python", "manage.py", "jobs", *args], project, env=env).stdout


def test_two_workers_and_one_scheduler_fire_each_tick_once(
    project: Path, env: dict[str, str], workers: Workers
) -> None:
    scheduler = workers.start("make", "scheduler")
    wait_until(lambda: lines(project, "tick", "-") != [], 60, workers)
    time.sleep(10)
    workers.stop(scheduler)
    time.sleep(1)  # the last tick's job finishes
    ticks = sorted(float(w[-1]) for w in lines(project, "tick", "-"))
    assert 5 <= len(ticks) <= 7, ticks  # every 2 s for ~10 s after the first
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert min(gaps) > 1.5, gaps  # never twice in one tick
    assert "broker: redis, 2 live worker(s)" in manage(project, env, "status")


def test_a_job_failing_twice_then_succeeding_runs_three_times_with_growing_delays(
    project: Path, env: dict[str, str], workers: Workers
) -> None:
    manage(project, env, "run", "probe.flaky", "--enqueue", "--kwargs", '{"token": "f1"}')
    wait_until(lambda: lines(project, "flaky-done", "f1") != [], 30, workers)
    starts = [float(w[-1]) for w in lines(project, "flaky", "f1")]
    assert len(starts) == 3
    first_gap, second_gap = starts[1] - starts[0], starts[2] - starts[1]
    assert 0.4 < first_gap < second_gap, (first_gap, second_gap)


def test_an_always_failing_job_is_dead_after_its_attempts_and_replays(
    project: Path, env: dict[str, str], workers: Workers
) -> None:
    manage(project, env, "run", "probe.doomed", "--enqueue", "--kwargs", '{"token": "d1"}')
    wait_until(lambda: "probe.doomed" in manage(project, env, "dead", "list"), 30, workers)
    listing = manage(project, env, "dead", "list")
    assert "attempts=2" in listing
    assert "ValueError: always" in listing
    assert '"token": "d1"' in listing
    assert len(lines(project, "doomed", "d1")) == 2
    dead_id = listing.split()[0]
    assert "replayed" in manage(project, env, "dead", "replay", dead_id)
    wait_until(lambda: len(lines(project, "doomed", "d1")) == 4, 30, workers)
    assert "2 job(s)" in manage(project, env, "status")  # the replay failed again, for good


def test_a_sigkilled_workers_job_completes_exactly_once_on_the_other(
    project: Path, env: dict[str, str], workers: Workers
) -> None:
    manage(project, env, "run", "probe.slow", "--enqueue", "--kwargs", '{"token": "k1"}')
    wait_until(lambda: lines(project, "slow-start", "k1") != [], 30, workers)
    victim_pid = int(lines(project, "slow-start", "k1")[0][2])
    victim = next(p for p in workers.procs if p.poll() is None and os.getpgid(victim_pid) == p.pid)
    workers.stop(victim, signal.SIGKILL)
    wait_until(lambda: lines(project, "slow-done", "k1") != [], 30, workers)
    time.sleep(6)  # past another visibility timeout: nobody runs it a third time
    assert len(lines(project, "slow-done", "k1")) == 1
    starts = lines(project, "slow-start", "k1")
    assert len(starts) == 2
    assert starts[1][2] != str(victim_pid)
    workers.start("make", "worker")  # back to two for later tests


def test_sigterm_lets_the_running_job_finish_first(
    project: Path, env: dict[str, str], workers: Workers
) -> None:
    manage(project, env, "run", "probe.slow", "--enqueue", "--kwargs", '{"token": "t1"}')
    wait_until(lambda: lines(project, "slow-start", "t1") != [], 30, workers)
    pid = lines(project, "slow-start", "t1")[0][2]
    victim = next(p for p in workers.procs if p.poll() is None and os.getpgid(int(pid)) == p.pid)
    # To taskiq's supervisor, as a container runtime would: it stops its worker process.
    supervisor = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(supervisor, signal.SIGTERM)
    victim.wait(timeout=60)
    wait_until(lambda: lines(project, "slow-done", "t1") != [], 15, workers)
    assert [w[2] for w in lines(project, "slow-done", "t1")] == [pid]  # by the stopped worker
    time.sleep(5)  # past the visibility timeout: it was acknowledged, nobody runs it again
    assert len(lines(project, "slow-start", "t1")) == 1
    workers.start("make", "worker")


def test_an_event_from_a_rolled_back_request_reaches_no_handler(
    project: Path, env: dict[str, str]
) -> None:
    def poke(token: str, fail: bool) -> int:
        request = urllib.request.Request(
            f"{base}/probe/poke/{token}?fail={str(fail).lower()}", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    with serve(project, env) as base:
        assert poke("ok1", fail=False) == 204
        assert poke("no1", fail=True) == 409
    assert len(lines(project, "heard", "ok1")) == 1
    assert lines(project, "heard", "no1") == []
