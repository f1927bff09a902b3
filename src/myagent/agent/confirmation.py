"""How an agent asks a person before running a ``user_confirm`` tool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ConfirmCallback", "ConfirmationDecision", "ConfirmationRequest", "DecisionReason"]

DecisionReason = Literal["user", "timeout", "no_handler", "cancelled"]


@dataclass(frozen=True)
class ConfirmationRequest:
    """What the person is asked to approve."""

    call_id: str
    tool_name: str
    tool_description: str
    arguments: dict[str, Any]
    step: int
    extra: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None  # seconds; None: the asker's default


@dataclass(frozen=True)
class ConfirmationDecision:
    """The answer; a refusal may carry the person's note, a time-out says so in ``reason``."""

    confirmed: bool
    message: str | None = None
    reason: DecisionReason = "user"
    data: Any = None  # extra answer content, e.g. an edited task list for a plan confirmation


#: Injected by whoever drives the agent (the WebSocket server, a terminal, a test).
#: Returning a plain ``bool`` is accepted as a decision without a note.
ConfirmCallback = Callable[[ConfirmationRequest], Awaitable["ConfirmationDecision | bool"]]
