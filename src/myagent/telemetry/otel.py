"""OpenTelemetry spans for agent runs, following the GenAI semantic conventions.

Span tree of a tool-calling run (``invoke_agent`` is the root unless a client sent a
``traceparent``, or the run is part of a Plan & Solve workflow)::

    invoke_agent {agent}            INTERNAL  gen_ai.operation.name=invoke_agent
    ├── chat {model}                CLIENT    one per model call, with token usage
    ├── execute_tool {tool}         INTERNAL  one per tool call
    └── chat {model}

    invoke_workflow {agent}         INTERNAL  a Plan & Solve run
    ├── plan {planner}              INTERNAL  └── invoke_agent {planner} …
    ├── solver {task id}            INTERNAL  └── invoke_agent {solver} …  (one per task)
    └── aggregate                   INTERNAL

Message content (``gen_ai.input.messages``, ``gen_ai.output.messages``, tool arguments and
results) is recorded only with ``capture_content=True``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode

from myagent._version import __version__
from myagent.telemetry.context import current_conversation, incoming_trace
from myagent.telemetry.genai import messages_attribute, output_attribute, provider_name
from myagent.telemetry.spans import Span, Tracer

__all__ = ["OTelSpan", "OTelTracer"]

_MAX_CONTENT = 16_384  # characters of one content attribute (arguments, results)


class OTelSpan(Span):
    """An OpenTelemetry span that reads usage and outcome from the run events it is shown."""

    def __init__(self, span: trace.Span, *, capture_content: bool = False) -> None:
        self.span = span
        self.capture_content = capture_content
        self.input_tokens = 0
        self.output_tokens = 0
        self._ended = False

    def observe(self, event: Any) -> None:
        from myagent.agent.events import FinalAnswer, ModelCallFinished, RunFailed

        if isinstance(event, ModelCallFinished):
            self.input_tokens += event.usage.prompt_tokens
            self.output_tokens += event.usage.completion_tokens
            self.span.set_attribute("gen_ai.usage.input_tokens", self.input_tokens)
            self.span.set_attribute("gen_ai.usage.output_tokens", self.output_tokens)
        elif isinstance(event, RunFailed):
            self.fail(event.code, event.message)
        elif isinstance(event, FinalAnswer) and self.capture_content:
            self.span.set_attribute("gen_ai.output.messages", output_attribute(event.text, "stop"))

    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self.span.set_attribute(key, value)

    def fail(self, error_type: str, message: str = "") -> None:
        self.span.set_attribute("error.type", error_type)
        self.span.set_status(Status(StatusCode.ERROR, message[:500] or None))

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self.span.end()

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        token = otel_context.attach(trace.set_span_in_context(self.span))
        try:
            yield
        finally:
            otel_context.detach(token)


class OTelTracer(Tracer):
    """Starts GenAI-convention spans on ``tracer_provider`` (default: the global provider)."""

    def __init__(self, *, tracer_provider: Any = None, capture_content: bool = False) -> None:
        self.otel = trace.get_tracer("myagent", __version__, tracer_provider=tracer_provider)
        self.capture_content = capture_content

    def _start(
        self, name: str, kind: SpanKind, parent: otel_context.Context | None, attributes: dict[str, Any]
    ) -> OTelSpan:
        attributes = {key: value for key, value in attributes.items() if value is not None}
        span = self.otel.start_span(name, context=parent, kind=kind, attributes=attributes)
        return OTelSpan(span, capture_content=self.capture_content)

    @staticmethod
    def _child_of(parent: Span) -> otel_context.Context | None:
        if isinstance(parent, OTelSpan):
            return trace.set_span_in_context(parent.span)
        return None

    @staticmethod
    def _root_parent() -> otel_context.Context | None:
        """The current span if there is one (a workflow phase), else the client's trace, else none."""
        if trace.get_current_span().get_span_context().is_valid:
            return None  # start_span uses the current context
        carrier = incoming_trace()
        return extract(carrier) if carrier else None

    def start_agent(self, agent: Any) -> Span:
        model = getattr(agent, "model", None)
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": provider_name(model),
            "gen_ai.agent.name": agent.name,
            "gen_ai.agent.description": agent.description or None,
            "gen_ai.conversation.id": current_conversation(),
            "gen_ai.request.model": getattr(model, "name", None),
        }
        return self._start(f"invoke_agent {agent.name}", SpanKind.INTERNAL, self._root_parent(), attributes)

    def start_chat(self, parent: Span, agent: Any, request: Any) -> Span:
        model = agent.model
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name(model),
            "gen_ai.request.model": model.name,
            "gen_ai.agent.name": agent.name,
            "gen_ai.conversation.id": current_conversation(),
            "gen_ai.request.max_tokens": request.max_tokens,
            "gen_ai.request.temperature": request.temperature,
        }
        if self.capture_content:
            attributes["gen_ai.input.messages"] = messages_attribute(request.messages)
        span = self._start(f"chat {model.name}", SpanKind.CLIENT, self._child_of(parent), attributes)
        return _ChatSpan(span.span, capture_content=self.capture_content)

    def start_tool(self, parent: Span, tool: Any, call: Any, arguments: Any) -> Span:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": getattr(tool, "description", None) or None,
        }
        if self.capture_content:
            attributes["gen_ai.tool.call.arguments"] = _clip(call.arguments)
        span = self._start(f"execute_tool {call.name}", SpanKind.INTERNAL, self._child_of(parent), attributes)
        return _ToolSpan(span.span, capture_content=self.capture_content)

    def start_workflow(self, agent: Any) -> Span:
        attributes = {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": agent.name,
            "gen_ai.conversation.id": current_conversation(),
        }
        return self._start(f"invoke_workflow {agent.name}", SpanKind.INTERNAL, self._root_parent(), attributes)

    def start_phase(self, phase: str, **attributes: Any) -> Span:
        values: dict[str, Any] = {f"myagent.{key}": value for key, value in attributes.items()}
        name = phase
        if phase == "plan":
            agent = attributes.get("agent")
            values.update({"gen_ai.operation.name": "plan", "gen_ai.agent.name": agent})
            name = f"plan {agent}" if agent else "plan"
        elif phase == "solver" and attributes.get("task_id") is not None:
            name = f"solver {attributes['task_id']}"
            values["myagent.task_id"] = str(attributes["task_id"])
        return self._start(name, SpanKind.INTERNAL, None, values)


class _ChatSpan(OTelSpan):
    def observe(self, event: Any) -> None:
        from myagent.agent.events import ModelCallFinished
        from myagent.llm.base import ModelResponse

        if isinstance(event, ModelCallFinished):
            self.span.set_attribute("gen_ai.usage.input_tokens", event.usage.prompt_tokens)
            self.span.set_attribute("gen_ai.usage.output_tokens", event.usage.completion_tokens)
            self.span.set_attribute("gen_ai.response.model", event.model)
        elif isinstance(event, ModelResponse):
            reason = event.finish_reason or ("tool_calls" if event.tool_calls else "stop")
            self.span.set_attribute("gen_ai.response.finish_reasons", [reason])
            if self.capture_content:
                self.span.set_attribute(
                    "gen_ai.output.messages", output_attribute(event.text, reason, event.tool_calls)
                )


class _ToolSpan(OTelSpan):
    def observe(self, event: Any) -> None:
        from myagent.agent.events import ToolCallFinished

        if not isinstance(event, ToolCallFinished):
            return
        if event.status != "ok":
            self.fail(event.status, event.result.error or "")
        if self.capture_content:
            self.span.set_attribute("gen_ai.tool.call.result", _clip(str(event.result)))


def _clip(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_CONTENT else text[:_MAX_CONTENT] + "…"
