"""One logging pipeline for the app, uvicorn and SQLAlchemy: structlog's `ProcessorFormatter`.

Readable console lines in development, one JSON object per line in production, `request_id`
(bound by `bind_request_id`, which core/middleware.py calls) on every line of a request.
`create_app` calls `configure_logging`, so it runs in every uvicorn worker after uvicorn set up
its own logging, and overrides it. Calling it again replaces what the previous call installed.
"""

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

from core.telemetry import add_trace_ids
from settings import Settings

# Loggers that bring their own handlers; they are emptied and sent to the root handler instead.
FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "sqlalchemy.engine")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def bind_request_id(request_id: str) -> None:
    """Put `request_id` on every log line of the current request (its task) from here on.

    Not reset afterwards: each request runs in its own task, so the value never leaks into
    another request, and lines logged after the response (uvicorn's) still carry it.
    """
    _request_id.set(request_id)
    structlog.contextvars.bind_contextvars(request_id=request_id)


def get_request_id() -> str | None:
    """The current request's ID (None outside a request): error envelopes and jobs carry it."""
    return _request_id.get()


class _EventRecord(logging.LogRecord):
    """A record that carries its fields ready for the processors (see `log_access`)."""

    def __init__(self, logger: str, level: int, event_dict: EventDict) -> None:
        super().__init__(logger, level, "", 0, event_dict["event"], None, None)
        self.event_dict = event_dict


class _Handler(logging.StreamHandler[TextIO]):
    """The one handler we install. With no stream given it writes to the `sys.stderr` of the
    moment, which test runners and CLI runners swap after logging was configured."""

    def __init__(self, stream: TextIO | None, processors: list[Processor]) -> None:
        super().__init__(stream or sys.stderr)
        self._follow_stderr = stream is None
        # What every line goes through, ending with the renderer: the formatter's chain.
        self._processors = processors

    def emit(self, record: logging.LogRecord) -> None:
        # StreamHandler.emit, less its `flush()`, which takes the lock this call already holds.
        try:
            if self._follow_stderr:
                self.stream = sys.stderr
            self.stream.write(self.format(record) + "\n")
            self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def format(self, record: logging.LogRecord) -> str:
        if not isinstance(record, _EventRecord):
            return super().format(record)
        # The same processors and renderer as any other line, minus the formatter's copies of
        # the record and its fields, which are for records other handlers may also format.
        # The record stands in for the logger: the processors read only its `name`.
        line: Any = dict(record.event_dict)
        method = record.levelname.lower()
        for processor in self._processors:
            line = processor(record, method, line)
        return str(line)


_access_logger = logging.getLogger("access")


def log_access(**fields: Any) -> None:
    """Write a request's access line (core/middleware.py), once per request.

    A plain record to the `access` logger, which our handler renders with the processors every
    line gets: the structlog logger and the formatter would add as much CPU again as the rest of
    a small request's middleware.
    """
    if _access_logger.isEnabledFor(logging.INFO):
        event_dict = {"event": "request", **fields}
        _access_logger.handle(_EventRecord(_access_logger.name, logging.INFO, event_dict))


class _Timestamp:
    """structlog processor: `timestamp`, ISO 8601 in UTC to the microsecond
    (`2026-01-31T08:00:00.000123Z`); the second's part is formatted once a second, not per line.
    """

    def __init__(self) -> None:
        self._second, self._prefix = -1, ""

    def __call__(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        event_dict["timestamp"] = f"{self._prefix}.{int((now - second) * 1e6):06d}Z"
        return event_dict


def _unserialisable(value: Any) -> Any:
    # As structlog's JSONRenderer: an object's own `__structlog__()` if it has one, else repr.
    to_log = getattr(value, "__structlog__", None)
    return to_log() if callable(to_log) else repr(value)


# One encoder for every line: `json.dumps(..., default=...)` builds a new one per call.
_json = json.JSONEncoder(default=_unserialisable)


def _render_json(_logger: Any, _method: str, event_dict: EventDict) -> str:
    return _json.encode(event_dict)


def _drop_color_message(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn passes an ANSI-coloured copy of its message in `extra`; it is noise in JSON.
    event_dict.pop("color_message", None)
    return event_dict


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _Timestamp(),
    ]
    if settings.otel_exporter_otlp_endpoint:
        shared.append(add_trace_ids)  # the line's trace_id and span_id, as the collector has them
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, _render_json]
        if settings.json_logs
        # ConsoleRenderer prints the traceback itself; a plain one, without local variables.
        else [
            structlog.dev.ConsoleRenderer(
                colors=(stream or sys.stderr).isatty(),
                exception_formatter=structlog.dev.plain_traceback,
            )
        ]
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _Handler(stream, [*shared, *renderer])
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Lines from stdlib loggers (uvicorn, SQLAlchemy) get the same fields as ours.
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )

    # No line shows where it was logged from or which thread, process or task logged it, so
    # `logging` need not look them up for every record (its HOWTO's "Optimization"): every
    # request writes an access line, so this is on every request's path.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # 3.12+, not in typeshed yet

    root = logging.getLogger()
    # Only our own previous handler goes: others (pytest's log capture, say) stay.
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)

    for name in FOREIGN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # LOG_LEVEL decides, not uvicorn's --log-level
    # core/middleware.py writes the access line (with request_id and duration); uvicorn's own
    # would be a second line per request.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # SQLAlchemy's INFO is a line per statement and pool event: only with DATABASE_ECHO, and
    # through our handler rather than the extra one `echo=True` would add.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    if settings.database_echo:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
