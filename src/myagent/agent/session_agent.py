"""What the server needs from an agent: ``ToolCallAgent`` and ``PlanSolveAgent`` both provide it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol, runtime_checkable

from myagent.agent.confirmation import ConfirmCallback
from myagent.agent.usage import UsageLedger
from myagent.llm.base import Message, ToolCall

__all__ = ["SessionAgent"]


@runtime_checkable
class SessionAgent(Protocol):
    """One session's agent: streams runs, keeps memory and usage, can be snapshotted and resumed."""

    name: str
    description: str
    memory: list[Message]
    usage: UsageLedger
    current_step: int
    max_steps: int

    @property
    def is_running(self) -> bool: ...

    def stream(self, query: str, *, confirm: ConfirmCallback | None = None) -> AsyncGenerator[Any, None]: ...

    def resume(self, *, confirm: ConfirmCallback | None = None) -> AsyncGenerator[Any, None]: ...

    def snapshot_messages(self) -> list[Message]: ...

    def unanswered_calls(self) -> list[ToolCall]: ...
