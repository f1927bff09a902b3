"""One tool call: check the arguments, ask for confirmation, run with a time-out, report."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from myagent.agent.confirmation import ConfirmationRequest, ConfirmCallback
from myagent.agent.events import ToolCallFinished, ToolCallStarted, ToolStatus
from myagent.llm.base import ToolCall
from myagent.telemetry import tracer
from myagent.tool.base import BaseTool
from myagent.tool.result import ToolResult
from myagent.tool.schema import ArgumentError, parse_arguments

if TYPE_CHECKING:
    from myagent.agent.toolcall import ToolCallAgent

__all__ = ["INTERRUPTED_RESULT", "StartedCall", "interrupted_call", "run_tool_call"]

INTERRUPTED_RESULT = (
    "Interrupted: the process running this tool call stopped before it reported a result. "
    "The call may or may not have taken effect; check before repeating it."
)

logger = logging.getLogger(__name__)


@dataclass
class StartedCall:
    """The announcement of a call and the coroutine that finishes it."""

    event: ToolCallStarted
    work: Coroutine[Any, Any, ToolCallFinished]


def run_tool_call(agent: ToolCallAgent, call: ToolCall, step: int, confirm: ConfirmCallback | None) -> StartedCall:
    tool = agent.tools.get(call.name)
    try:
        shown: dict[str, Any] | str = parse_arguments(call.arguments)
    except ArgumentError:
        shown = call.arguments
    needs_confirmation = bool(tool is not None and tool.user_confirm)
    event = ToolCallStarted(call.id, call.name, shown, step, needs_confirmation)
    return StartedCall(event, _finish(agent, tool, call, step, confirm))


def interrupted_call(call: ToolCall, step: int) -> StartedCall:
    """A call that was running when its process died, reported as ``interrupted`` without running it again."""

    async def report() -> ToolCallFinished:
        return ToolCallFinished(call.id, call.name, ToolResult.failure(INTERRUPTED_RESULT), "interrupted", step, 0.0)

    try:
        shown: dict[str, Any] | str = parse_arguments(call.arguments)
    except ArgumentError:
        shown = call.arguments
    return StartedCall(ToolCallStarted(call.id, call.name, shown, step), report())


async def _finish(
    agent: ToolCallAgent, tool: BaseTool | None, call: ToolCall, step: int, confirm: ConfirmCallback | None
) -> ToolCallFinished:
    started = time.monotonic()
    span = tracer().start_tool(agent.trace_span, tool, call, call.arguments)
    try:
        with span.current():  # this coroutine is the call's own task: spans the tool starts nest under it
            result, status = await _outcome(agent, tool, call, step, confirm)
    except Exception as exc:  # e.g. a confirmation callback that raised: report it, never hang the run
        logger.warning("agent %s: tool call %s failed: %s", agent.name, call.name, exc, exc_info=True)
        result, status = ToolResult.failure(f"tool {call.name} could not be run: {type(exc).__name__}: {exc}"), "error"
    except asyncio.CancelledError:
        span.fail("cancelled")
        span.end()
        raise
    finished = ToolCallFinished(call.id, call.name, result, status, step, time.monotonic() - started)
    span.observe(finished)
    span.end()
    return finished


async def _outcome(
    agent: ToolCallAgent, tool: BaseTool | None, call: ToolCall, step: int, confirm: ConfirmCallback | None
) -> tuple[ToolResult, ToolStatus]:
    if tool is None:
        known = ", ".join(agent.tools.names) or "none"
        return ToolResult.failure(f"unknown tool {call.name!r}; available tools: {known}"), "unknown_tool"
    try:
        arguments = tool.check_arguments(call.arguments)
    except ArgumentError as exc:
        return ToolResult.failure(f"invalid arguments for {call.name}: {exc}"), "invalid_arguments"
    if tool.user_confirm:
        request = ConfirmationRequest(call.id, tool.name, tool.description, arguments, step)
        decision = await agent.ask_confirmation(request, confirm)
        if not decision.confirmed:
            status: ToolStatus = "expired" if decision.reason == "timeout" else "refused"
            return _refusal(tool.name, decision.reason, decision.message), status
    return await _execute(agent, tool, arguments)


def _refusal(name: str, reason: str, note: str | None) -> ToolResult:
    why = {
        "user": "the user refused to run it",
        "timeout": "the confirmation request expired without an answer",
        "no_handler": "it needs user confirmation and no confirmation handler is configured",
        "cancelled": "the confirmation was cancelled",
    }.get(reason, reason)
    text = f"Tool {name} was not run: {why}."
    if note:
        text += f" User note: {note}"
    return ToolResult.failure(text)


async def _execute(agent: ToolCallAgent, tool: BaseTool, arguments: dict[str, Any]) -> tuple[ToolResult, ToolStatus]:
    timeout = tool.timeout if tool.timeout is not None else agent.tool_timeout
    try:
        async with asyncio.timeout(timeout):
            result = await tool(**arguments)
    except TimeoutError:
        return ToolResult.failure(f"tool {tool.name} timed out after {timeout:g} s"), "timeout"
    except Exception as exc:  # a tool's bug becomes an observation, never a crashed run
        logger.warning("agent %s: tool %s raised %s", agent.name, tool.name, exc, exc_info=True)
        return ToolResult.failure(f"tool {tool.name} raised {type(exc).__name__}: {exc}"), "error"
    return result, "ok" if result.ok else "error"
