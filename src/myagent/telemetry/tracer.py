"""The ``Tracer`` the agent loop talks to; the default one does nothing and costs next to nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["NoopTracer", "Span", "Tracer", "disable_tracing", "enable_tracing", "tracer"]


class Span:
    """One unit of traced work. This base class is the no-op span; tracers return subclasses."""

    def observe(self, event: Any) -> None:
        """Take what matters from a run event (usage, outcome); the loop passes every event it yields."""

    def set(self, key: str, value: Any) -> None:
        """Set one attribute."""

    def fail(self, error_type: str, message: str = "") -> None:
        """Mark the work failed (``error.type``)."""

    def end(self) -> None:
        """Finish the span (idempotent)."""

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Make this span the parent of spans started inside the block (use in a task, not a generator)."""
        yield


_NOOP_SPAN = Span()


class Tracer:
    """Starts spans for what an agent does. Subclass to trace somewhere; every method may return the no-op span.

    Attributes:
        capture_content: record message content, tool arguments and results (off: only sizes and names).
    """

    capture_content = False

    def start_agent(self, agent: Any) -> Span:
        """A run of ``agent`` (``invoke_agent``); parent: the current span or the client's trace."""
        return _NOOP_SPAN

    def start_chat(self, parent: Span, agent: Any, request: Any) -> Span:
        """One model call of a run (``chat``)."""
        return _NOOP_SPAN

    def start_tool(self, parent: Span, tool: Any, call: Any, arguments: Any) -> Span:
        """One tool call of a run (``execute_tool``); ``tool`` is ``None`` for an unknown tool."""
        return _NOOP_SPAN

    def start_workflow(self, agent: Any) -> Span:
        """A Plan & Solve run; its phases are children."""
        return _NOOP_SPAN

    def start_phase(self, phase: str, **attributes: Any) -> Span:
        """A Plan & Solve phase (``plan``, ``solver``, ``aggregate``) under the current span."""
        return _NOOP_SPAN


class NoopTracer(Tracer):
    """Traces nothing (the default)."""


_tracer: Tracer = NoopTracer()


def tracer() -> Tracer:
    """The tracer in use (a :class:`NoopTracer` unless tracing was enabled)."""
    return _tracer


def enable_tracing(
    *, tracer_provider: Any = None, capture_content: bool = False, custom: Tracer | None = None
) -> Tracer:
    """Trace agent runs with OpenTelemetry (GenAI semantic conventions), or with ``custom``.

    Args:
        tracer_provider: an OpenTelemetry ``TracerProvider``; default: the global one (configure
            it yourself, or use :func:`myagent.telemetry.otel.configure_from_env`).
        capture_content: record prompts, answers, tool arguments and results on spans.
        custom: a :class:`Tracer` of your own instead of OpenTelemetry.

    Raises:
        ConfigError: OpenTelemetry is not installed (``pip install myagent[otel]``).
    """
    global _tracer
    if custom is not None:
        _tracer = custom
        return _tracer
    from myagent.telemetry.otel import OTelTracer

    _tracer = OTelTracer(tracer_provider=tracer_provider, capture_content=capture_content)
    return _tracer


def disable_tracing() -> None:
    """Back to the no-op tracer."""
    global _tracer
    _tracer = NoopTracer()
