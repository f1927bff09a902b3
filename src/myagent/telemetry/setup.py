"""``configure_from_env``: what ``--otel`` does (OTLP/HTTP export configured by the ``OTEL_*`` variables)."""

from __future__ import annotations

from typing import Any

from myagent.telemetry.tracer import enable_tracing

__all__ = ["configure_from_env"]


def configure_from_env(*, capture_content: bool = False) -> Any:
    """Install a global ``TracerProvider`` exporting over OTLP/HTTP, configured by the standard ``OTEL_*`` variables.

    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://localhost:4318``), ``OTEL_EXPORTER_OTLP_HEADERS``,
    ``OTEL_SERVICE_NAME`` (default ``myagent``) and ``OTEL_RESOURCE_ATTRIBUTES`` are read by the SDK.
    Returns the provider; call its ``shutdown()`` at exit to flush the last spans.

    Raises:
        ConfigError: the OTLP exporter is not installed (``pip install myagent[otel]``).
    """
    from opentelemetry import trace
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from myagent.errors import ConfigError

    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError("the OTLP exporter is missing: pip install 'myagent[otel]'") from exc
    resource = Resource.create({"service.name": "myagent"}).merge(OTELResourceDetector().detect())
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    enable_tracing(tracer_provider=provider, capture_content=capture_content)
    return provider
