"""One logging pipeline for the app, uvicorn and SQLAlchemy: structlog's `ProcessorFormatter`.

Readable console lines in development, one JSON object per line in production, `request_id`
(bound by `RequestIDMiddleware`) on every line of a request. `create_app` calls
`configure_logging`, so it runs in every uvicorn worker after uvicorn set up its own logging,
and overrides it. Calling it again replaces what the previous call installed.
"""

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

from core.telemetry import add_trace_ids
from settings import Settings

# Loggers that bring their own handlers; they are emptied and sent to the root handler instead.
FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "sqlalchemy.engine")


class _Handler(logging.StreamHandler[TextIO]):
    """The one handler we install. With no stream given it writes to the `sys.stderr` of the
    moment, which test runners and CLI runners swap after logging was configured."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def _drop_color_message(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn passes an ANSI-coloured copy of its message in `extra`; it is noise in JSON.
    event_dict.pop("color_message", None)
    return event_dict


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.otel_exporter_otlp_endpoint:
        shared.append(add_trace_ids)  # the line's trace_id and span_id, as the collector has them
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
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
    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Lines from stdlib loggers (uvicorn, SQLAlchemy) get the same fields as ours.
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )

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
    # AccessLogMiddleware writes the access line (with request_id and duration); uvicorn's own
    # would be a second line per request.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # SQLAlchemy's INFO is a line per statement and pool event: only with DATABASE_ECHO, and
    # through our handler rather than the extra one `echo=True` would add.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    if settings.database_echo:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
