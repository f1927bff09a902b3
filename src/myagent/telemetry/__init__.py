"""Tracing seam: the agent loop reports runs, model calls and tool calls here; off (no-op) by default.

``enable_tracing()`` (or ``myagent server --otel``) switches to OpenTelemetry spans that follow the
GenAI semantic conventions (:mod:`myagent.telemetry.otel`, needs ``pip install myagent[otel]``).
Nothing here imports OpenTelemetry unless tracing is enabled.
"""

from __future__ import annotations

from myagent.telemetry.context import continue_trace, conversation, current_conversation, incoming_trace
from myagent.telemetry.tracer import (
    NoopTracer,
    Span,
    Tracer,
    disable_tracing,
    enable_metrics,
    enable_tracing,
    tracer,
)

__all__ = [
    "NoopTracer",
    "Span",
    "Tracer",
    "continue_trace",
    "conversation",
    "current_conversation",
    "disable_tracing",
    "enable_metrics",
    "enable_tracing",
    "incoming_trace",
    "tracer",
]
