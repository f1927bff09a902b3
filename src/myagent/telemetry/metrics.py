"""Prometheus histograms of what agents do: run duration, time to first token, model calls, tools.

They are fed through the tracing seam (a :class:`MetricsTracer` next to any OpenTelemetry tracer),
from the run events the agent loop already yields, so the loop needs no code of its own for them.
The registry is process-wide, like Prometheus' default one: every server in the process shares it.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from myagent.agent.events import AnswerDelta, FinalAnswer, ModelCallFinished, RunFailed, StepStarted, ToolCallFinished
from myagent.telemetry.spans import Span, Tracer

__all__ = ["AgentMetrics", "MetricsTracer", "agent_metrics"]

_FAST = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SLOW = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class AgentMetrics:
    """The histograms, in their own registry (rendered by the server's ``/metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.run_duration = Histogram(
            "myagent_run_duration_seconds",
            "Wall time of agent runs, from the question to the last event (Plan & Solve: the whole pipeline).",
            ["agent", "outcome"],
            buckets=_SLOW,
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "myagent_time_to_first_token_seconds",
            "From the start of a model call to its first streamed text (calls that stream only tool calls "
            "are not counted).",
            ["agent"],
            buckets=_FAST,
            registry=self.registry,
        )
        self.model_call = Histogram(
            "myagent_model_call_duration_seconds",
            "Duration of model calls, from the request to the complete response.",
            ["agent", "model"],
            buckets=_FAST,
            registry=self.registry,
        )
        self.tool_duration = Histogram(
            "myagent_tool_duration_seconds",
            "Duration of tool calls, including the wait for a user confirmation.",
            ["agent", "tool", "status"],
            buckets=_FAST,
            registry=self.registry,
        )


_metrics: AgentMetrics | None = None


def agent_metrics() -> AgentMetrics:
    """The process-wide histograms (created on first use)."""
    global _metrics
    if _metrics is None:
        _metrics = AgentMetrics()
    return _metrics


class _RunTimer(Span):
    """Times one run from its events: model calls, tools, and the first text of each model call."""

    def __init__(self, metrics: AgentMetrics, agent: str) -> None:
        self.metrics = metrics
        self.agent = agent
        self.started = time.monotonic()
        self.step_started: float | None = None
        self.outcome = "cancelled"
        self._ended = False

    def observe(self, event: Any) -> None:
        if isinstance(event, AnswerDelta):  # the most frequent event: one check, then out
            if self.step_started is not None:
                self.metrics.time_to_first_token.labels(self.agent).observe(time.monotonic() - self.step_started)
                self.step_started = None
        elif isinstance(event, StepStarted):
            self.step_started = time.monotonic()
        elif isinstance(event, ModelCallFinished):
            self.step_started = None
            self.metrics.model_call.labels(self.agent, event.model).observe(event.duration)
        elif isinstance(event, ToolCallFinished):
            self.metrics.tool_duration.labels(self.agent, event.name, event.status).observe(event.duration)
        elif isinstance(event, FinalAnswer):
            self.outcome = "answer"
        elif isinstance(event, RunFailed):
            self.outcome = "error"

    def fail(self, error_type: str, message: str = "") -> None:
        if error_type != "cancelled":
            self.outcome = "error"

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self.metrics.run_duration.labels(self.agent, self.outcome).observe(time.monotonic() - self.started)


class _WorkflowTimer(_RunTimer):
    def observe(self, event: Any) -> None:
        if isinstance(event, FinalAnswer):
            self.outcome = "answer"
        # Sub-agents time their own model calls and tools (their runs are timed by their agents).


class MetricsTracer(Tracer):
    """Feeds :class:`AgentMetrics` from run and workflow spans; chat and tool spans are not needed."""

    def __init__(self, metrics: AgentMetrics) -> None:
        self.metrics = metrics

    def start_agent(self, agent: Any) -> Span:
        return _RunTimer(self.metrics, agent.name)

    def start_workflow(self, agent: Any) -> Span:
        return _WorkflowTimer(self.metrics, agent.name)
