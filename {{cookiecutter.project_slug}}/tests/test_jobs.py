"""Jobs: retries with growing delays, "do not retry", the dead letter, overlap, typed enqueue.

Each test runs on the embedded broker, and on Redis too when TEST_REDIS_URL is set.
"""

import asyncio
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.jobs.declare import Schedule, job
from core.jobs.models import DeadJob
from core.jobs.retry import DoNotRetry, RetryPolicy
from core.jobs.runtime import JobRuntime
from settings import Settings
from tests.backends import MODES
from tests.jobs_support import started_runtime, wait_for_outcome, wait_for_result

# When each attempt of each run started, by the run's token.
attempts: defaultdict[str, list[float]] = defaultdict(list)
FAST = RetryPolicy(max_attempts=3, delay=0.05, max_delay=1, jitter=0)


@job(retry=RetryPolicy(max_attempts=3, delay=0.25, max_delay=1, jitter=0))
async def flaky(session: AsyncSession, token: str, failures: int) -> str:
    attempts[token].append(time.monotonic())
    if len(attempts[token]) <= failures:
        raise ConnectionError(f"attempt {len(attempts[token])} fails")
    return f"done after {len(attempts[token])}"


@job(retry=FAST)
async def fails(session: AsyncSession, token: str) -> None:
    attempts[token].append(time.monotonic())
    raise ConnectionError(f"attempt {len(attempts[token])} fails")


@job(retry=FAST)
async def refuses(session: AsyncSession, token: str) -> None:
    attempts[token].append(time.monotonic())
    raise DoNotRetry("this input will never work")


@job(overlap="skip", schedules=[Schedule(every=timedelta(hours=1))])
async def slow(session: AsyncSession, token: str) -> str:
    attempts[token].append(time.monotonic())
    await asyncio.sleep(0.2)
    return "ran"


@pytest.fixture(params=MODES)
async def jobs(
    request: pytest.FixtureRequest, test_settings: Settings, session: AsyncSession
) -> AsyncIterator[JobRuntime]:
    async with started_runtime(
        test_settings, [sys.modules[__name__]], session, request.param
    ) as rt:
        yield rt


async def dead_entries(session: AsyncSession, name: str) -> list[DeadJob]:
    statement = select(DeadJob).where(col(DeadJob.job_name) == name)
    return list((await session.exec(statement)).all())


def test_the_policy_doubles_the_delay_up_to_its_cap_and_jitters_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=6, delay=1, max_delay=5, jitter=0.1)
    assert [policy.base_delay(n) for n in range(2, 7)] == [1, 2, 4, 5, 5]
    assert RetryPolicy(backoff="fixed", delay=3).base_delay(5) == 3
    assert all(0.9 <= policy.delay_before(2) <= 1.1 for _ in range(200))
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1)


async def test_a_job_failing_twice_runs_three_times_with_growing_delays(jobs: JobRuntime) -> None:
    token = uuid.uuid4().hex
    job_id = await flaky.enqueue(token=token, failures=2)
    assert await wait_for_result(jobs, job_id) == "done after 3"
    first, second, third = attempts[token]
    # Delays of 0.25 s then 0.5 s: wide enough apart that a loaded machine cannot swap them.
    assert 0.25 <= second - first < third - second
    assert third - second >= 0.5


async def test_do_not_retry_fails_at_once_into_the_dead_letter(
    jobs: JobRuntime, session: AsyncSession
) -> None:
    token = uuid.uuid4().hex
    assert (await wait_for_outcome(jobs, await refuses.enqueue(token=token))).is_err
    [dead] = await dead_entries(session, refuses.name)
    assert len(attempts[token]) == 1
    assert (dead.attempts, dead.kwargs) == (1, {"token": token})
    assert dead.error == "DoNotRetry: this input will never work"


async def test_exhausted_attempts_land_in_the_dead_letter_and_replay_runs_again(
    jobs: JobRuntime, session: AsyncSession
) -> None:
    token = uuid.uuid4().hex
    assert (await wait_for_outcome(jobs, await fails.enqueue(token=token))).is_err
    [dead] = await dead_entries(session, fails.name)
    assert dead.attempts == 3
    assert len(attempts[token]) == 3
    assert "ConnectionError: attempt 3 fails" in dead.error
    # What `manage.py jobs dead replay` does: the same job, the same arguments, again.
    replay = await jobs.jobs[dead.job_name].enqueue_untyped(dead.args, dead.kwargs)
    assert (await wait_for_outcome(jobs, replay)).is_err
    assert len(attempts[token]) == 6


async def test_arguments_that_do_not_fit_the_job_go_to_the_dead_letter_without_an_attempt(
    jobs: JobRuntime, session: AsyncSession
) -> None:
    # As a replay does after the job's parameters changed: retrying could never help.
    token = uuid.uuid4().hex
    job_id = await fails.enqueue_untyped([], {"token": token, "renamed": 1})

    assert (await wait_for_outcome(jobs, job_id)).is_err
    [dead] = await dead_entries(session, fails.name)
    assert attempts[token] == []
    assert (dead.attempts, dead.kwargs) == (0, {"token": token, "renamed": 1})
    assert dead.error.startswith("DoNotRetry: the arguments do not fit tests.test_jobs.fails: ")


async def test_a_skip_job_does_not_overlap_itself(jobs: JobRuntime) -> None:
    token = uuid.uuid4().hex
    first = asyncio.create_task(slow.run([], {"token": token}, job_id="a"))
    await asyncio.sleep(0.05)
    assert await slow.run([], {"token": token}, job_id="b") is None  # skipped
    assert await first == "ran"
    assert len(attempts[token]) == 1
    assert await slow.run([], {"token": token}, job_id="c") == "ran"  # free again


def test_a_schedule_is_cron_or_interval_of_a_second_or_more() -> None:
    with pytest.raises(ValueError, match="either"):
        Schedule()
    with pytest.raises(ValueError, match="one second"):
        Schedule(every=timedelta(milliseconds=10))
