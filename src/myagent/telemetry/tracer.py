"""The ``Tracer`` the agent loop talks to; the default one does nothing and costs next to nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from myagent.telemetry.spans import NOOP_SPAN, Span, Tracer

__all__ = ["NoopTracer", "Span", "Tracer", "disable_tracing", "enable_metrics", "enable_tracing", "tracer"]


class NoopTracer(Tracer):
    """Traces nothing (the default)."""


class _TeeSpan(Span):
    """Several spans moved together (tracing and metrics)."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans

    def observe(self, event: Any) -> None:
        for span in self.spans:
            span.observe(event)

    def set(self, key: str, value: Any) -> None:
        for span in self.spans:
            span.set(key, value)

    def fail(self, error_type: str, message: str = "") -> None:
        for span in self.spans:
            span.fail(error_type, message)

    def end(self) -> None:
        for span in self.spans:
            span.end()

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for span in self.spans:
                stack.enter_context(span.current())
            yield


class _Tee(Tracer):
    """A tracer that starts one span on each of its tracers; span ``i`` of a tee span is tracer ``i``'s."""

    def __init__(self, tracers: list[Tracer]) -> None:
        self.tracers = tracers

    def _tee(self, spans: list[Span]) -> Span:
        return NOOP_SPAN if all(span is NOOP_SPAN for span in spans) else _TeeSpan(spans)

    @staticmethod
    def _part(parent: Span, index: int) -> Span:
        return parent.spans[index] if isinstance(parent, _TeeSpan) else parent

    def start_agent(self, agent: Any) -> Span:
        return self._tee([t.start_agent(agent) for t in self.tracers])

    def start_chat(self, parent: Span, agent: Any, request: Any) -> Span:
        return self._tee([t.start_chat(self._part(parent, i), agent, request) for i, t in enumerate(self.tracers)])

    def start_tool(self, parent: Span, tool: Any, call: Any, arguments: Any) -> Span:
        parts = [t.start_tool(self._part(parent, i), tool, call, arguments) for i, t in enumerate(self.tracers)]
        return self._tee(parts)

    def start_workflow(self, agent: Any) -> Span:
        return self._tee([t.start_workflow(agent) for t in self.tracers])

    def start_phase(self, phase: str, **attributes: Any) -> Span:
        return self._tee([t.start_phase(phase, **attributes) for t in self.tracers])


_tracing: Tracer | None = None  # OpenTelemetry or a custom tracer
_metrics: Tracer | None = None  # Prometheus histograms
_tracer: Tracer = NoopTracer()


def tracer() -> Tracer:
    """The tracer in use (a :class:`NoopTracer` unless tracing or metrics were enabled)."""
    return _tracer


def _install() -> None:
    global _tracer
    active = [t for t in (_tracing, _metrics) if t is not None]
    _tracer = active[0] if len(active) == 1 else _Tee(active) if active else NoopTracer()


def enable_metrics() -> None:
    """Record run, model-call and tool durations in the process-wide Prometheus histograms (idempotent)."""
    global _metrics
    if _metrics is None:
        from myagent.telemetry.metrics import MetricsTracer, agent_metrics

        _metrics = MetricsTracer(agent_metrics())
        _install()


def enable_tracing(
    *, tracer_provider: Any = None, capture_content: bool = False, custom: Tracer | None = None
) -> Tracer:
    """Trace agent runs with OpenTelemetry (GenAI semantic conventions), or with ``custom``.

    Args:
        tracer_provider: an OpenTelemetry ``TracerProvider``; default: the global one (configure
            it yourself, or use :func:`myagent.telemetry.setup.configure_from_env`).
        capture_content: record prompts, answers, tool arguments and results on spans.
        custom: a :class:`Tracer` of your own instead of OpenTelemetry.

    Raises:
        ConfigError: OpenTelemetry is not installed (``pip install myagent[otel]``).
    """
    global _tracing
    if custom is not None:
        _tracing = custom
    else:
        from myagent.telemetry.otel import OTelTracer

        _tracing = OTelTracer(tracer_provider=tracer_provider, capture_content=capture_content)
    _install()
    return _tracing


def disable_tracing() -> None:
    """Stop tracing (metrics, if enabled, go on)."""
    global _tracing
    _tracing = None
    _install()
