"""What the application receives: one :class:`Event` type for every frame, plus small typed views.

Event names are not repeated here: compare ``event.name`` with the constants of
:mod:`myagent.protocol.names` (``AgentEvents.FINAL_ANSWER`` ...), which the catalog describes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from myagent.protocol.names import AgentEvents, SystemEvents
from myagent.protocol.rules import RUN_CLOSING_EVENTS, ToolStatuses, closes_run, is_request_error

__all__ = [
    "RUN_CLOSING_EVENTS",
    "ConfirmAnswer",
    "ConfirmRequest",
    "Event",
    "ToolCallInfo",
    "ToolResultInfo",
]

#: Every run ends with exactly one of these (docs/protocol.md, "Cancellation").

TaskId = str | int


@dataclass(frozen=True)
class Event:
    """One frame from the server, as the application sees it.

    Attributes:
        name: the ``event`` field, e.g. ``agent.partial_answer``.
        content: the payload (text for most ``agent.*`` events).
        metadata: structured details (``{}`` when absent).
        seq: per-session sequence number (sequenced events only).
        event_id: ``<session_id>:<seq>`` (sequenced events only).
        step_id: pairs a request with its answer (tool call id, confirmation id).
        session_id: the session the frame belongs to.
        raw: the frame exactly as received.
    """

    name: str
    content: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    seq: int | None = None
    event_id: str | None = None
    step_id: str | None = None
    session_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Event:
        metadata = frame.get("metadata")
        seq = frame.get("seq")
        return cls(
            name=str(frame.get("event", "")),
            content=frame.get("content"),
            metadata=metadata if isinstance(metadata, dict) else {},
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            event_id=_str_or_none(frame.get("event_id")),
            step_id=_str_or_none(frame.get("step_id")),
            session_id=_str_or_none(frame.get("session_id")),
            raw=frame,
        )

    @property
    def text(self) -> str:
        """``content`` as text: the string itself, ``""`` for none, JSON for structured content."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content, ensure_ascii=False)

    @property
    def family(self) -> str:
        """``agent``, ``system``, ``plan``, ``solver``, ``aggregate`` or ``pipeline``."""
        return self.name.split(".", 1)[0]

    @property
    def origin(self) -> str | None:
        """``planner``/``solver`` for the activity of a Plan & Solve sub-agent (``None`` for the session's agent)."""
        return _str_or_none(self.metadata.get("origin"))

    @property
    def is_final(self) -> bool:
        """Whether this event closes a run (final answer, run error or interruption of the session's agent)."""
        return closes_run(self.name, self.seq) and self.origin is None

    @property
    def is_request_error(self) -> bool:
        """Whether this reports a rejected request: ``system.error``, or ``agent.error`` without ``seq``."""
        return is_request_error(self.name, self.seq)

    @property
    def is_sequenced(self) -> bool:
        return self.seq is not None

    @property
    def error_code(self) -> str | None:
        """``metadata.error_code`` of ``agent.error`` and ``system.error``."""
        code = self.metadata.get("error_code")
        return code if isinstance(code, str) else None

    @property
    def is_replay_gap(self) -> bool:
        """A ``system.error`` saying that missed events are no longer retained (see ``gap_range``)."""
        return self.name == SystemEvents.ERROR and self.error_code == "REPLAY_GAP"

    @property
    def gap_range(self) -> tuple[int, int] | None:
        """``(first, last)`` seq of the events lost in a replay gap."""
        if not self.is_replay_gap:
            return None
        details = self.metadata.get("details") or {}
        first, last = details.get("missing_from_seq"), details.get("missing_to_seq")
        return (first, last) if isinstance(first, int) and isinstance(last, int) else None

    @property
    def task_id(self) -> TaskId | None:
        """The Plan & Solve task an event belongs to, if any."""
        value = self.metadata.get("task_id")
        return value if isinstance(value, str | int) and not isinstance(value, bool) else None

    @property
    def show_content(self) -> str | None:
        return _str_or_none(self.raw.get("show_content"))

    def tool_call(self) -> ToolCallInfo | None:
        """The typed view of an ``agent.tool_call`` (``None`` for other events)."""
        if self.name != AgentEvents.TOOL_CALL:
            return None
        meta = self.metadata
        return ToolCallInfo(
            name=str(meta.get("tool", meta.get("tool_name", ""))),
            args=meta.get("args", meta.get("tool_args")),
            call_id=_str_or_none(self.metadata.get("call_id")) or self.step_id,
            needs_confirmation=bool(self.metadata.get("needs_confirmation")),
            task_id=self.task_id,
        )

    def tool_result(self) -> ToolResultInfo | None:
        """The typed view of an ``agent.tool_result`` (``None`` for other events)."""
        if self.name != AgentEvents.TOOL_RESULT:
            return None
        duration = self.metadata.get("duration_ms")
        meta = self.metadata
        return ToolResultInfo(
            name=str(meta.get("tool", meta.get("tool_name", ""))),
            call_id=_str_or_none(meta.get("call_id")) or self.step_id,
            status=str(meta.get("status", ToolStatuses.SUCCESS)),
            output=self.text,
            data=meta.get("data"),
            error=_str_or_none(meta.get("error")),
            failure=_str_or_none(meta.get("failure")),
            duration_ms=float(duration) if isinstance(duration, int | float) else None,
            task_id=self.task_id,
        )

    def confirm_request(self) -> ConfirmRequest | None:
        """The typed view of an ``agent.user_confirm`` (``None`` for other events)."""
        if self.name != AgentEvents.USER_CONFIRM or self.step_id is None:
            return None
        meta = self.metadata
        return ConfirmRequest(
            session_id=self.session_id or "",
            step_id=self.step_id,
            tool_name=str(meta.get("tool_name", "")),
            tool_args=meta.get("tool_args"),
            tool_description=str(meta.get("tool_description", "")),
            call_id=_str_or_none(meta.get("call_id")),
            task_id=self.task_id,
            scope=str(meta.get("scope", "tool")),
            resent=bool(meta.get("resent")),
            expires_at=_str_or_none(meta.get("expires_at")),
            event=self,
        )


@dataclass(frozen=True)
class ToolCallInfo:
    """The model called a tool."""

    name: str
    args: Any
    call_id: str | None
    needs_confirmation: bool
    task_id: TaskId | None


@dataclass(frozen=True)
class ToolResultInfo:
    """A tool call finished; ``status`` is success, failed, refused or cancelled (:class:`ToolStatuses`).

    ``failure`` says how a ``failed`` call failed: error, invalid_arguments, unknown_tool or timeout.
    """

    name: str
    call_id: str | None
    status: str
    output: str
    data: Any
    duration_ms: float | None
    task_id: TaskId | None
    error: str | None = None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == ToolStatuses.SUCCESS


@dataclass(frozen=True)
class ConfirmRequest:
    """A tool (or, with ``scope == "plan"``, a plan) waits for the user's approval."""

    session_id: str
    step_id: str
    tool_name: str
    tool_args: Any
    tool_description: str
    call_id: str | None
    task_id: TaskId | None
    scope: str
    resent: bool
    expires_at: str | None
    event: Event = field(repr=False, compare=False)


@dataclass(frozen=True)
class ConfirmAnswer:
    """An answer to a :class:`ConfirmRequest`; ``tasks`` is the edited task list of a plan confirmation."""

    confirmed: bool
    message: str | None = None
    tasks: list[Any] | None = None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
