"""Typed events an agent run yields, in the order they happen.

A run yields ``StepStarted`` for each model call, ``AnswerDelta`` for streamed text,
``ToolCallStarted``/``ToolCallFinished`` around every tool call, ``ModelCallFinished`` with the
usage of each model call, ``MessageAdded`` for every message written to memory, and ends with
exactly one ``FinalAnswer`` or ``RunFailed`` (unless it is cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from myagent.llm.base import Message, Usage
from myagent.tool.result import ToolResult

__all__ = [
    "AnswerDelta",
    "FinalAnswer",
    "FinishReason",
    "MessageAdded",
    "ModelCallFinished",
    "RunEvent",
    "RunFailed",
    "StepStarted",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolStatus",
]

ToolStatus = Literal[
    "ok", "error", "invalid_arguments", "unknown_tool", "refused", "expired", "timeout", "cancelled", "interrupted"
]
FinishReason = Literal["stop", "terminate", "max_steps"]


@dataclass(frozen=True)
class StepStarted:
    """The agent is about to call the model (step numbers start at 1 for each run)."""

    step: int


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of the answer text as the model streams it."""

    text: str
    step: int


@dataclass(frozen=True)
class ToolCallStarted:
    """The model asked for a tool call; ``arguments`` is the decoded dict or the raw text if it is not JSON."""

    call_id: str
    name: str
    arguments: dict[str, Any] | str
    step: int
    needs_confirmation: bool = False


@dataclass(frozen=True)
class ToolCallFinished:
    """A tool call ended (run, refused, failed, timed out or cancelled)."""

    call_id: str
    name: str
    result: ToolResult
    status: ToolStatus
    step: int
    duration: float


@dataclass(frozen=True)
class ModelCallFinished:
    """Usage and timing of one model call, attributed to this agent only."""

    step: int
    model: str
    usage: Usage
    duration: float
    agent: str


@dataclass(frozen=True)
class MessageAdded:
    """A message was appended to the agent's memory."""

    message: Message


@dataclass(frozen=True)
class FinalAnswer:
    """The run ended with an answer."""

    text: str
    reason: FinishReason
    steps: int


@dataclass(frozen=True)
class RunFailed:
    """The run ended because of an error (e.g. the model endpoint failed after retries)."""

    message: str
    code: str
    steps: int


RunEvent = (
    StepStarted
    | AnswerDelta
    | ToolCallStarted
    | ToolCallFinished
    | ModelCallFinished
    | MessageAdded
    | FinalAnswer
    | RunFailed
)
