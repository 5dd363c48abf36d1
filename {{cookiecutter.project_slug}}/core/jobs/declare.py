"""`@job`: a typed background job with its retry policy, schedules and overlap policy.

    @job(retry=RetryPolicy(max_attempts=5), schedules=[Schedule(cron="0 3 * * *")])
    async def purge_refresh_tokens(session: AsyncSession) -> int: ...

    await send_welcome_mail.enqueue(user_id=user.id)  # arguments checked by mypy

The function's first parameter is the job's own database session, committed when the function
returns and rolled back when it raises, like a request's. Each attempt gets a fresh one.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Concatenate, Literal, get_type_hints

import structlog
from pydantic import ConfigDict, ValidationError, create_model
from pydantic_core import to_jsonable_python
from sqlmodel.ext.asyncio.session import AsyncSession
from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, Context, TaskiqDepends

from core.dependencies import committed
from core.jobs import runtime
from core.jobs.models import DeadJob
from core.jobs.retry import DoNotRetry, RetryPolicy
from core.logging import get_request_id

log = structlog.get_logger(__name__)

# What a run does when the previous run of the same job has not finished (on any worker).
type Overlap = Literal["allow", "skip", "queue"]


@dataclass(frozen=True)
class Schedule:
    """Run the job on a cron expression (UTC, minute precision) or every `every`."""

    cron: str | None = None
    every: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise ValueError("a Schedule has either cron= or every=")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError("the shortest interval taskiq's scheduler fires is one second")

    def describe(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {self.every}"


class Job[**P, R]:
    def __init__(
        self,
        fn: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
        *,
        name: str,
        retry: RetryPolicy,
        schedules: list[Schedule],
        overlap: Overlap,
    ) -> None:
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.name = name
        self.retry = retry
        self.schedules = schedules
        self.overlap = overlap
        self._task: AsyncTaskiqDecoratedTask[..., Any] | None = None

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Hand the job to a worker; returns its id (logs and `manage.py jobs result` use it)."""
        return await self.enqueue_untyped(list(args), dict(kwargs))

    def checked_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`kwargs` (JSON values, as from `manage.py jobs run`) parsed to the job's annotated
        types, as a worker parses them; ValueError naming each unknown, missing or bad one."""
        hints = get_type_hints(self.fn)
        fields: dict[str, Any] = {
            parameter.name: (
                hints.get(parameter.name, Any),
                ... if parameter.default is parameter.empty else parameter.default,
            )
            for parameter in list(self.signature.parameters.values())[1:]
        }
        arguments = create_model("Arguments", __config__=ConfigDict(extra="forbid"), **fields)
        try:
            parsed = arguments.model_validate(kwargs)
        except ValidationError as exc:
            raise ValueError(
                "; ".join(f"{error['loc'][0]}: {error['msg']}" for error in exc.errors())
            ) from None
        return {name: getattr(parsed, name) for name in fields}

    async def enqueue_untyped(self, args: list[Any], kwargs: dict[str, Any]) -> str:
        if self._task is None:
            raise RuntimeError(f"job {self.name} is not in a started runtime's JOBS")
        kicker = self._task.kicker().with_labels(request_id=get_request_id() or "")
        return (await kicker.kiq(*args, **kwargs)).task_id

    def bind(self, broker: AsyncBroker) -> None:
        """Register the job with `broker` (core/jobs/runtime.py does it for every listed job)."""
        self._task = broker.register_task(
            self._taskiq_function(),
            task_name=self.name,
            schedule=[
                {
                    "schedule_id": f"{self.name}#{index}",
                    "cron": schedule.cron,
                    "interval": schedule.every and int(schedule.every.total_seconds()),
                }
                for index, schedule in enumerate(self.schedules)
            ],
        )

    def _taskiq_function(self) -> Callable[..., Awaitable[R | None]]:
        """What taskiq calls: the job's parameters minus the session, plus taskiq's Context.

        taskiq reads the signature to parse the arguments back to their annotated types.
        """

        async def run(
            *args: Any,
            context: Context = TaskiqDepends(),  # noqa: B008  (taskiq's injection marker)
            **kwargs: Any,
        ) -> R | None:
            labels = context.message.labels
            return await self.run(
                args, kwargs, job_id=context.message.task_id, request_id=labels.get("request_id")
            )

        parameters = list(self.signature.parameters.values())[1:]
        context = inspect.Parameter(
            "context", inspect.Parameter.KEYWORD_ONLY, default=TaskiqDepends(), annotation=Context
        )
        hints = get_type_hints(self.fn)
        first = next(iter(self.signature.parameters))
        run.__signature__ = inspect.Signature([*parameters, context])  # type: ignore[attr-defined]
        run.__annotations__ = {k: v for k, v in hints.items() if k != first} | {"context": Context}
        run.__name__ = run.__qualname__ = self.name
        return run

    async def run(
        self,
        args: Any,
        kwargs: dict[str, Any],
        *,
        job_id: str,
        request_id: str | None = None,
    ) -> R | None:
        """Every attempt the policy allows, here and now; the dead letter if none succeeds."""
        current = runtime.current()
        with structlog.contextvars.bound_contextvars(
            job=self.name, job_id=job_id, request_id=request_id or None
        ):
            try:
                self.signature.bind(None, *args, **kwargs)
            except TypeError as exc:
                # Arguments that do not fit the function (replayed after it changed) never will.
                refusal = DoNotRetry(f"the arguments do not fit {self.name}: {exc}")
                log.error("job failed for good", attempt=0, error=str(refusal))
                await self._bury(args, kwargs, job_id, request_id, refusal, 0)
                raise refusal from None
            async with current.overlap_guard(self) as may_run:
                if not may_run:
                    log.info("job skipped: its previous run has not finished")
                    return None
                for attempt in range(1, self.retry.max_attempts + 1):
                    try:
                        async with current.session_factory() as session, committed(session):
                            result = await self.fn(session, *args, **kwargs)
                    except Exception as exc:
                        if isinstance(exc, DoNotRetry) or attempt == self.retry.max_attempts:
                            log.exception("job failed for good", attempt=attempt)
                            await self._bury(args, kwargs, job_id, request_id, exc, attempt)
                            raise
                        delay = self.retry.delay_before(attempt + 1)
                        log.warning(
                            "job attempt failed", attempt=attempt, retry_in=delay, error=repr(exc)
                        )
                        await asyncio.sleep(delay)
                    else:
                        log.info("job done", attempt=attempt)
                        return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _bury(
        self,
        args: Any,
        kwargs: dict[str, Any],
        job_id: str,
        request_id: str | None,
        exc: Exception,
        attempts: int,
    ) -> None:
        dead = DeadJob(
            job_name=self.name,
            task_id=job_id,
            args=to_jsonable_python(list(args), fallback=str),
            kwargs=to_jsonable_python(kwargs, fallback=str),
            error=f"{type(exc).__name__}: {exc}"[:10_000],
            attempts=attempts,
            request_id=request_id or None,
        )
        async with runtime.current().session_factory() as session, committed(session):
            session.add(dead)


def job[**P, R](
    *,
    retry: RetryPolicy | None = None,
    schedules: list[Schedule] | None = None,
    overlap: Overlap = "allow",
    name: str | None = None,
) -> Callable[[Callable[Concatenate[AsyncSession, P], Awaitable[R]]], Job[P, R]]:
    """Declare a job. Default: 3 attempts, exponential backoff from 1 s; runs may overlap."""

    def declare(fn: Callable[Concatenate[AsyncSession, P], Awaitable[R]]) -> Job[P, R]:
        # features/users/jobs.py's `purge_refresh_tokens` is "users.purge_refresh_tokens".
        feature = fn.__module__.removeprefix("features.").removesuffix(".jobs")
        return Job(
            fn,
            name=name or f"{feature}.{fn.__name__}",
            retry=retry or RetryPolicy(),
            schedules=schedules or [],
            overlap=overlap,
        )

    return declare
