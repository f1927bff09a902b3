"""Wire rules every implementation shares: event ids, ACK positions, run-closing events, request errors,
tool statuses, notice actions.

The server, the Python SDK and (through :mod:`myagent.protocol.render`) the TypeScript types and the
console's JavaScript constants all take these rules from here. No I/O.
"""

from __future__ import annotations

from typing import Any

from myagent.protocol.names import AgentEvents, PipelineEvents, SystemEvents

__all__ = [
    "REQUEST_ERROR_EVENTS",
    "RUN_CLOSING_EVENTS",
    "UNSEQUENCED_REQUEST_ERROR_EVENTS",
    "NoticeActions",
    "ToolStatuses",
    "closes_run",
    "format_event_id",
    "is_request_error",
    "notice_actions",
    "parse_event_id",
    "parse_seq",
    "tool_statuses",
]

#: Sequenced events that end a run: exactly one of them closes every run, direct task mode included.
RUN_CLOSING_EVENTS: frozenset[str] = frozenset(
    {AgentEvents.FINAL_ANSWER, AgentEvents.ERROR, AgentEvents.INTERRUPTED, PipelineEvents.TASKS_COMPLETED}
)

#: Events that always answer a rejected request (connection-level errors, and the replay gap of a resume).
REQUEST_ERROR_EVENTS: frozenset[str] = frozenset({SystemEvents.ERROR})
#: Events that answer a rejected request when they carry no ``seq``: an unsequenced ``agent.error`` names
#: the session the rejected frame named (and ``metadata.request_event``); a sequenced one is a failed run
#: and closes it.
UNSEQUENCED_REQUEST_ERROR_EVENTS: frozenset[str] = frozenset({AgentEvents.ERROR})


def is_request_error(event: str, seq: Any) -> bool:
    """Whether a frame (its ``event`` and ``seq``) reports a rejected request rather than a run's end."""
    return event in REQUEST_ERROR_EVENTS or (event in UNSEQUENCED_REQUEST_ERROR_EVENTS and seq is None)


def closes_run(event: str, seq: Any) -> bool:
    """Whether a frame ends a run: a run-closing event that is not a request error."""
    return event in RUN_CLOSING_EVENTS and not is_request_error(event, seq)


class ToolStatuses:
    """Values of ``metadata.status`` on ``agent.tool_call`` (running) and ``agent.tool_result`` (the rest).

    ``failed`` covers every call that ran or was meant to run and did not succeed (the tool's error,
    invalid arguments, an unknown tool, a time-out: ``metadata.failure`` says which). A confirmation
    the user refused is ``refused``, one that expired unanswered ``expired``; ``cancelled`` is a call
    stopped by a cancel.
    """

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def tool_statuses() -> list[str]:
    return [value for key, value in vars(ToolStatuses).items() if key.isupper()]


class NoticeActions:
    """Values of ``metadata.action`` on ``system.notice``."""

    RECONNECT = "reconnect"
    SESSION_TAKEN_OVER = "session_taken_over"
    SOLVE_TASKS = "solve_tasks"
    CANCEL_TASK = "cancel_task"
    RESTART_TASK = "restart_task"
    CANCEL_PLAN = "cancel_plan"
    REPLAN = "replan"


def notice_actions() -> list[str]:
    return [value for key, value in vars(NoticeActions).items() if key.isupper()]


def format_event_id(session_id: str, seq: int) -> str:
    """The ``event_id`` of the event ``seq`` of a session: ``"<session_id>:<seq>"``."""
    return f"{session_id}:{seq}"


def parse_event_id(event_id: str) -> tuple[str, int] | None:
    """``"<session_id>:<seq>"`` → ``(session_id, seq)``; ``None`` if it is not an id this protocol issues."""
    session_id, _, seq = event_id.rpartition(":")
    # ASCII only: str.isdigit() also accepts e.g. "²", which int() then rejects with ValueError.
    if not session_id or not (seq.isascii() and seq.isdigit()):
        return None
    return session_id, int(seq)


def parse_seq(value: Any) -> int | None:
    """A position given as a number or a numeric string (``7``, ``"7"``); ``None`` if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None
