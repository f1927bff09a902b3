"""Pure translation of agent and pipeline events into wire events: ``(event, language) → frames``. No I/O.

The mapping is documented in docs/protocol.md. The run driver (:mod:`myagent.ws.runs`) appends what
this returns to the session's event log, which sequences it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from myagent.agent.events import (
    AnswerDelta,
    FinalAnswer,
    MessageAdded,
    RunEvent,
    RunFailed,
    StepStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from myagent.llm.base import Usage
from myagent.plan_solve.events import PipelineEvent, SubAgentEvent
from myagent.protocol.names import AgentEvents
from myagent.protocol.rules import ToolStatuses
from myagent.protocol.texts import text

__all__ = ["AnyRunEvent", "Outgoing", "RunFacts", "translate", "usage_dict", "wire_tool_status"]

AnyRunEvent = RunEvent | PipelineEvent | SubAgentEvent


@dataclass(frozen=True)
class Outgoing:
    """One session event to sequence: what :meth:`SessionService.append` takes."""

    event: str
    content: Any = None
    metadata: dict[str, Any] | None = None
    step_id: str | None = None


@dataclass(frozen=True)
class RunFacts:
    """What a final answer reports about its run (measured by the driver, not here)."""

    usage: Usage = field(default_factory=Usage)
    duration_ms: float = 0.0


def translate(
    event: AnyRunEvent, language: str, *, facts: RunFacts | None = None, send_llm_messages: bool = False
) -> list[Outgoing]:
    """The wire events for one run event (none for events the protocol does not show).

    Plan & Solve milestones go out as they are; a sub-agent's activity is translated like any agent's,
    with ``task_id``/``origin``/``agent`` added to its metadata. A sub-agent's own final answer or
    failure is not the run's: the pipeline reports it.
    """
    if isinstance(event, PipelineEvent):
        return [Outgoing(event.name, event.content, event.metadata or None)]
    if isinstance(event, SubAgentEvent):
        if isinstance(event.event, FinalAnswer | RunFailed):
            return []
        tag: dict[str, Any] = {"origin": event.origin, "agent": event.agent}
        if event.task_id is not None:
            tag["task_id"] = event.task_id
        return _activity(event.event, language, tag, send_llm_messages)
    if isinstance(event, FinalAnswer):
        facts = facts or RunFacts()
        metadata = {
            "reason": event.reason,
            "steps": event.steps,
            "usage": usage_dict(facts.usage),
            "duration_ms": round(facts.duration_ms, 1),
        }
        return [Outgoing(AgentEvents.FINAL_ANSWER, event.text, metadata)]
    if isinstance(event, RunFailed):
        return [Outgoing(AgentEvents.ERROR, event.message, {"error_code": event.code, "step": event.steps})]
    return _activity(event, language, {}, send_llm_messages)


def _activity(event: RunEvent, language: str, tag: dict[str, Any], send_llm_messages: bool) -> list[Outgoing]:
    """Thinking, text, tool calls and results, memory messages; ``tag`` is added to the metadata."""
    if isinstance(event, AnswerDelta):
        return [Outgoing(AgentEvents.PARTIAL_ANSWER, event.text, {"step": event.step, **tag})]
    if isinstance(event, StepStarted):
        key = "first_step" if event.step == 1 else "next_step"
        return [Outgoing(AgentEvents.THINKING, text(key, language, step=event.step), {"step": event.step, **tag})]
    if isinstance(event, ToolCallStarted):
        # tool/args/status are the visualization guide's keys; tool_name/tool_args the older ones.
        metadata = {
            "tool": event.name,
            "args": event.arguments,
            "status": ToolStatuses.RUNNING,
            "tool_name": event.name,
            "call_id": event.call_id,
            "tool_args": event.arguments,
            "needs_confirmation": event.needs_confirmation,
            "step": event.step,
            **tag,
        }
        content = text("tool_call", language, name=event.name)
        return [Outgoing(AgentEvents.TOOL_CALL, content, metadata, step_id=event.call_id)]
    if isinstance(event, ToolCallFinished):
        metadata = {**_result_metadata(event), **tag}
        return [Outgoing(AgentEvents.TOOL_RESULT, str(event.result), metadata, step_id=event.call_id)]
    if isinstance(event, MessageAdded) and send_llm_messages:
        message = event.message.to_dict()
        return [Outgoing(AgentEvents.LLM_MESSAGE, message, {"role": message["role"], **tag})]
    return []


# The agent's outcome of a call → ``metadata.status``; the outcomes that become ``failed`` are also
# named in ``metadata.failure``.
_WIRE_STATUS = {
    "ok": ToolStatuses.SUCCESS,
    "refused": ToolStatuses.REFUSED,
    "expired": ToolStatuses.EXPIRED,
    "cancelled": ToolStatuses.CANCELLED,
}


def wire_tool_status(status: str) -> str:
    """``metadata.status`` of an ``agent.tool_result`` for the agent's outcome ``status``."""
    return _WIRE_STATUS.get(status, ToolStatuses.FAILED)


def _result_metadata(event: ToolCallFinished) -> dict[str, Any]:
    result = event.result
    status = wire_tool_status(event.status)
    metadata: dict[str, Any] = {
        "tool": event.name,
        "status": status,
        "error": result.error,
        "data": result.data,
        "tool_name": event.name,
        "call_id": event.call_id,
        "duration_ms": round(event.duration * 1000, 1),
        "step": event.step,
    }
    if status == ToolStatuses.FAILED:
        metadata["failure"] = event.status
    if result.base64_image is not None:
        metadata["base64_image"] = result.base64_image
    return metadata


def usage_dict(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "estimated": usage.estimated,
    }
