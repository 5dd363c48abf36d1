"""`manage.py jobs ...`: what is declared, run one now, worker health, results, the dead letter."""

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from types import ModuleType
from typing import Annotated, Any

import typer
from sqlmodel import col, func, select

from core.dependencies import committed
from core.exceptions import NotFoundError
from core.jobs import runtime as jobs_runtime
from core.jobs.models import DeadJob
from core.jobs.runtime import JobRuntime
from settings import Settings, get_settings


def jobs_cli(job_modules: Iterable[ModuleType]) -> typer.Typer:
    """The `jobs` command group for the jobs of `job_modules` (the manifest's JOBS)."""
    modules = list(job_modules)
    cli = typer.Typer(no_args_is_help=True, help="Background jobs: list, run, status, dead letter.")
    dead = typer.Typer(no_args_is_help=True, help="Jobs whose attempts ran out.")
    cli.add_typer(dead, name="dead")

    def run[T](ctx: typer.Context, work: Callable[[JobRuntime], Awaitable[T]]) -> T:
        settings = ctx.obj if isinstance(ctx.obj, Settings) else get_settings()

        async def main() -> T:
            # inline: without Redis, a job enqueued here runs here, before the command exits.
            runtime = jobs_runtime.start(settings, modules, inline=True)
            await runtime.broker.startup()
            try:
                return await work(runtime)
            finally:
                await runtime.broker.shutdown()
                await runtime.close()
                jobs_runtime.stop(runtime)

        return asyncio.run(main())

    @cli.command("list")
    def list_jobs(ctx: typer.Context) -> None:
        """Every declared job: name, retry policy, overlap policy, schedules."""

        async def work(runtime: JobRuntime) -> None:
            for name, job in sorted(runtime.jobs.items()):
                schedules = ", ".join(s.describe() for s in job.schedules) or "on demand"
                policy = job.retry
                typer.echo(
                    f"{name:40} {schedules:24} overlap={job.overlap} attempts={policy.max_attempts}"
                    f" backoff={policy.backoff}({policy.delay:g}s..{policy.max_delay:g}s)"
                )

        run(ctx, work)

    @cli.command("run")
    def run_job(
        ctx: typer.Context,
        name: str,
        kwargs: Annotated[str, typer.Option(help="Arguments as a JSON object.")] = "{}",
        enqueue: Annotated[bool, typer.Option(help="Give it to a worker instead.")] = False,
    ) -> None:
        """Run job NAME now, here (retries and dead letter included), or --enqueue it."""
        try:
            arguments = json.loads(kwargs)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"--kwargs is not JSON: {exc}") from None
        if not isinstance(arguments, dict):
            raise typer.BadParameter("--kwargs must be a JSON object")

        async def work(runtime: JobRuntime) -> None:
            job = runtime.jobs.get(name)
            if job is None:
                raise NotFoundError(f"No job named {name!r}; `manage.py jobs list` shows them.")
            try:  # here, not after an attempt per retry: arguments that do not fit never will
                checked = job.checked_arguments(arguments)
            except ValueError as exc:
                raise typer.BadParameter(f"--kwargs: {exc}") from None
            if enqueue:  # as JSON: the worker parses them as `checked_arguments` just did
                typer.echo(f"enqueued {await job.enqueue_untyped([], arguments)}")
                return
            result = await job.run([], checked, job_id=f"manual-{uuid.uuid4().hex}")
            typer.echo(f"done: {result!r}")

        run(ctx, work)

    @cli.command("status")
    def status(ctx: typer.Context) -> None:
        """Worker heartbeats, queue length, jobs in flight, dead-letter count."""

        async def work(runtime: JobRuntime) -> None:
            async with runtime.session_factory() as session:
                dead_count = (await session.exec(select(func.count()).select_from(DeadJob))).one()
            if runtime.redis is None:
                typer.echo("broker: embedded (no REDIS_URL): jobs run inside the app's process")
            else:
                redis = runtime.redis
                queue = runtime.key("queue")
                workers = [key async for key in redis.scan_iter(match=runtime.key("worker", "*"))]
                typer.echo(f"broker: redis, {len(workers)} live worker(s)")
                for key in sorted(workers):
                    beat: Any = await redis.hgetall(key)
                    age = time.time() - float(beat.get(b"beat", 0))
                    typer.echo(f"  {key.decode()}  last heartbeat {age:.1f}s ago")
                length = await redis.xlen(queue) if await redis.exists(queue) else 0
                pending = 0
                if length:
                    info: Any = await redis.xpending(queue, runtime.key("workers"))
                    pending = int(info["pending"])
                typer.echo(f"queue: {length} message(s) in the stream, {pending} in flight")
            typer.echo(f"dead letter: {dead_count} job(s)")

        run(ctx, work)

    @cli.command("result")
    def result(ctx: typer.Context, job_id: str) -> None:
        """The status and result of the job with this id (kept JOBS_RESULT_TTL_SECONDS)."""

        async def work(runtime: JobRuntime) -> None:
            backend = runtime.broker.result_backend
            if not await backend.is_result_ready(job_id):
                raise NotFoundError(f"No result for {job_id}: still running, expired or unknown.")
            outcome = await backend.get_result(job_id)
            state = f"failed: {outcome.error!r}" if outcome.is_err else "succeeded"
            typer.echo(f"{state} in {outcome.execution_time:.3f}s: {outcome.return_value!r}")

        run(ctx, work)

    @dead.command("list")
    def dead_list(ctx: typer.Context) -> None:
        """Dead jobs, newest first: id, job, attempts, error, arguments."""

        async def work(runtime: JobRuntime) -> None:
            async with runtime.session_factory() as session:
                statement = select(DeadJob).order_by(col(DeadJob.created_at).desc())
                for entry in (await session.exec(statement)).all():
                    replayed = f" replayed {entry.replayed_at:%F %T}" if entry.replayed_at else ""
                    typer.echo(
                        f"{entry.id}  {entry.job_name}  attempts={entry.attempts}{replayed}\n"
                        f"    error: {entry.error}\n"
                        f"    args: {json.dumps(entry.args)} kwargs: {json.dumps(entry.kwargs)}"
                    )

        run(ctx, work)

    @dead.command("replay")
    def dead_replay(ctx: typer.Context, dead_id: uuid.UUID) -> None:
        """Enqueue dead job DEAD_ID again with its arguments, and mark it replayed."""

        async def work(runtime: JobRuntime) -> None:
            async with runtime.session_factory() as session, committed(session):
                entry = await session.get(DeadJob, dead_id)
                if entry is None:
                    raise NotFoundError(f"No dead job {dead_id}.")
                job = runtime.jobs.get(entry.job_name)
                if job is None:
                    raise NotFoundError(f"Job {entry.job_name!r} is no longer declared.")
                entry.replayed_at = datetime.now(UTC)
                args, kwargs = entry.args, entry.kwargs
            job_id = await job.enqueue_untyped(args, kwargs)
            typer.echo(f"replayed {dead_id} as {job_id}")

        run(ctx, work)

    return cli
