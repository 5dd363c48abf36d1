"""Opt-in OpenTelemetry: traces and metrics to an OTLP/HTTP collector, off unless
`OTEL_EXPORTER_OTLP_ENDPOINT` is set.

FastAPI makes the spans and metrics itself (named by route template, `http.route`; a W3C
`traceparent` from a gateway becomes the parent); this module only builds the SDK providers that
export them, and adds the ids to log lines. Unset, the SDK and the exporters are never imported
and FastAPI's telemetry is switched off, so a request pays nothing for it.
"""

from dataclasses import dataclass
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from structlog.typing import EventDict

from settings import Settings

OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


@dataclass(frozen=True)
class Telemetry:
    """The providers one app exports through; `shutdown()` flushes what is still buffered."""

    tracer_provider: Any
    meter_provider: Any

    def config(self) -> TelemetryConfig:
        # Log records stay with structlog; they carry the trace id instead (add_trace_ids).
        return {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
            "logs": False,
        }

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def create_telemetry(settings: Settings) -> Telemetry | None:
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    # Imported here, so an app without an endpoint never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    base = endpoint.rstrip("/")
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, if set, take precedence.
    resource = Resource.create({"service.name": settings.project_name})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{base}/v1/traces")))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(f"{base}/v1/metrics"))
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)


def add_trace_ids(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the current span's ids, as the collector shows them (hex)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict
