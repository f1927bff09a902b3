"""Drives one agent run and turns its typed events into protocol events of the session."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from myagent.agent.events import (
    AnswerDelta,
    FinalAnswer,
    MessageAdded,
    ModelCallFinished,
    RunEvent,
    RunFailed,
    StepStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from myagent.llm.base import Usage
from myagent.plan_solve.events import PipelineEvent, SubAgentEvent
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.names import AgentEvents
from myagent.ws.session import Session

__all__ = ["drive_run", "emit_run_event", "start_run"]

logger = logging.getLogger(__name__)

AnyRunEvent = RunEvent | PipelineEvent | SubAgentEvent

_TEXTS = {
    "zh": {
        "first_step": "正在处理您的请求...",
        "next_step": "正在根据工具结果继续思考（第 {step} 步）...",
        "tool_call": "调用工具: {name}",
        "interrupted": "已中断当前任务",
        "failed": "运行出错：{error}",
    },
    "en": {
        "first_step": "Working on your request...",
        "next_step": "Thinking about the tool results (step {step})...",
        "tool_call": "Calling tool: {name}",
        "interrupted": "The run was interrupted",
        "failed": "The run failed: {error}",
    },
}


def start_run(session: Session, work: str | AsyncIterator[AnyRunEvent], *, on_usage: Callable[[Usage], None]) -> None:
    """Start :func:`drive_run` as the session's run task (use this rather than ``session.start_run``).

    A task cancelled before its first step never executes its coroutine, so ``drive_run`` could
    not report it (a ``user.cancel`` read right after the ``user.message`` does that). The done
    callback closes such a run with ``agent.interrupted``; it runs before anyone awaiting the task.
    """
    began = False

    async def run() -> None:
        nonlocal began
        began = True
        await drive_run(session, work, on_usage=on_usage)

    def closed_before_start(task: asyncio.Task[None]) -> None:
        if began or not task.cancelled():
            return
        reason = "user_cancel"
        try:
            task.result()
        except asyncio.CancelledError as exc:
            reason = str(exc.args[0]) if exc.args and exc.args[0] else reason
        texts = _TEXTS[session.options.language]
        session.emit(AgentEvents.INTERRUPTED, texts["interrupted"], metadata={"reason": reason})

    session.start_run(run())
    assert session.run_task is not None
    session.run_task.add_done_callback(closed_before_start)


async def drive_run(
    session: Session, work: str | AsyncIterator[AnyRunEvent], *, on_usage: Callable[[Usage], None]
) -> None:
    """Run the session's agent on ``work``; every outcome ends with exactly one closing event.

    ``work`` is the user's text, or a run the agent already prepared (e.g. ``agent.resume(...)``).
    The closing event is ``agent.final_answer``, ``agent.error`` or ``agent.interrupted``.
    """
    texts = _TEXTS[session.options.language]
    started = time.monotonic()
    mark = len(session.agent.usage.calls)
    try:
        events = session.agent.stream(work, confirm=session.confirm) if isinstance(work, str) else work
        async for event in events:
            inner = event.event if isinstance(event, SubAgentEvent) else event
            if isinstance(inner, ModelCallFinished):
                on_usage(inner.usage)
            emit_run_event(session, event, texts, started=started, mark=mark)
    except asyncio.CancelledError as exc:
        reason = (exc.args[0] if exc.args else None) or "user_cancel"
        session.emit(AgentEvents.INTERRUPTED, texts["interrupted"], metadata={"reason": str(reason)})
        raise
    except Exception as exc:  # the run boundary: a bug in a tool or model must not kill the server
        logger.exception("session %s: run failed", session.id)
        session.emit(
            AgentEvents.ERROR,
            texts["failed"].format(error=f"{type(exc).__name__}: {exc}"),
            metadata={"error_code": ErrorCodes.RUN_FAILED},
        )


def emit_run_event(session: Session, event: AnyRunEvent, texts: dict[str, str], *, started: float, mark: int) -> None:
    """Translate one run event (see the mapping in docs/protocol.md).

    Plan & Solve milestones are emitted as they are; a sub-agent's activity is translated like
    any agent's, with ``task_id``/``origin``/``agent`` added to its metadata. A sub-agent's own
    final answer or failure is not the run's: the pipeline reports it.
    """
    if isinstance(event, PipelineEvent):
        session.emit(event.name, event.content, metadata=event.metadata or None)
    elif isinstance(event, SubAgentEvent):
        if not isinstance(event.event, FinalAnswer | RunFailed):
            tag: dict[str, Any] = {"origin": event.origin, "agent": event.agent}
            if event.task_id is not None:
                tag["task_id"] = event.task_id
            _emit_activity(session, event.event, texts, tag)
    elif isinstance(event, FinalAnswer):
        metadata = {
            "reason": event.reason,
            "steps": event.steps,
            "usage": _usage_dict(session.agent.usage.since(mark)),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }
        session.emit(AgentEvents.FINAL_ANSWER, event.text, metadata=metadata)
    elif isinstance(event, RunFailed):
        session.emit(AgentEvents.ERROR, event.message, metadata={"error_code": event.code, "step": event.steps})
    else:
        _emit_activity(session, event, texts, {})


def _emit_activity(session: Session, event: RunEvent, texts: dict[str, str], tag: dict[str, Any]) -> None:
    """Thinking, text, tool calls and results, memory messages; ``tag`` is added to the metadata."""
    if isinstance(event, AnswerDelta):
        session.emit(AgentEvents.PARTIAL_ANSWER, event.text, metadata={"step": event.step, **tag})
    elif isinstance(event, StepStarted):
        key = "first_step" if event.step == 1 else "next_step"
        session.emit(AgentEvents.THINKING, texts[key].format(step=event.step), metadata={"step": event.step, **tag})
    elif isinstance(event, ToolCallStarted):
        metadata = {
            "tool_name": event.name,
            "call_id": event.call_id,
            "tool_args": event.arguments,
            "needs_confirmation": event.needs_confirmation,
            "step": event.step,
            **tag,
        }
        text = texts["tool_call"].format(name=event.name)
        session.emit(AgentEvents.TOOL_CALL, text, step_id=event.call_id, metadata=metadata)
    elif isinstance(event, ToolCallFinished):
        metadata = {**_result_metadata(event), **tag}
        session.emit(AgentEvents.TOOL_RESULT, str(event.result), step_id=event.call_id, metadata=metadata)
    elif isinstance(event, MessageAdded) and session.options.send_llm_messages:
        message = event.message.to_dict()
        session.emit(AgentEvents.LLM_MESSAGE, message, metadata={"role": message["role"], **tag})


def _result_metadata(event: ToolCallFinished) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "tool_name": event.name,
        "call_id": event.call_id,
        "status": event.status,
        "duration_ms": round(event.duration * 1000, 1),
        "step": event.step,
    }
    result = event.result
    if result.data is not None:
        metadata["data"] = result.data
    if result.error is not None:
        metadata["error"] = result.error
    if result.base64_image is not None:
        metadata["base64_image"] = result.base64_image
    return metadata


def _usage_dict(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "estimated": usage.estimated,
    }
