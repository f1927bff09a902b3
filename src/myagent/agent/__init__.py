"""The agent loop: ``ToolCallAgent``, its events, confirmations and the factory."""

from __future__ import annotations

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest, ConfirmCallback
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
from myagent.agent.factory import create_react_agent, create_toolcall_agent
from myagent.agent.toolcall import ToolCallAgent

__all__ = [
    "AnswerDelta",
    "ConfirmCallback",
    "ConfirmationDecision",
    "ConfirmationRequest",
    "FinalAnswer",
    "MessageAdded",
    "ModelCallFinished",
    "RunEvent",
    "RunFailed",
    "StepStarted",
    "ToolCallAgent",
    "ToolCallFinished",
    "ToolCallStarted",
    "create_react_agent",
    "create_toolcall_agent",
]
