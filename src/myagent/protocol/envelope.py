"""Building downstream frames. Plain dicts in, plain dicts out: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from myagent.protocol.errors import ERROR_CODES
from myagent.protocol.text import ECHO_LIMIT, truncate_for_echo

__all__ = ["ERROR_MESSAGE_LIMIT", "PROTOCOL_VERSION", "create_error", "create_event", "utc_now_iso"]

PROTOCOL_VERSION = "1.0"

ERROR_MESSAGE_LIMIT = 2000
"""Characters of an error message sent at most (messages may quote the client's input)."""


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_event(
    event: str,
    *,
    session_id: str | None = None,
    content: Any = None,
    metadata: dict[str, Any] | None = None,
    step_id: str | None = None,
    show_content: str | None = None,
    connection_id: str | None = None,
) -> dict[str, Any]:
    """One protocol frame. Optional fields are left out when empty; ``seq``/``event_id`` are added on send."""
    frame: dict[str, Any] = {"event": event, "timestamp": utc_now_iso()}
    if session_id is not None:
        frame["session_id"] = session_id
    if connection_id is not None:
        frame["connection_id"] = connection_id
    if step_id is not None:
        frame["step_id"] = step_id
    if content is not None:
        frame["content"] = content
    if metadata:
        frame["metadata"] = metadata
    if show_content is not None:
        frame["show_content"] = show_content
    return frame


def create_error(
    event: str,
    code: str,
    message: str,
    *,
    session_id: str | None = None,
    details: dict[str, Any] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """An error frame (``agent.error`` or ``system.error``) whose code is in the error table.

    Every string it carries (message, session id, metadata and details values) is bounded and
    encodable: an error about hostile input never repeats that input in full, nor a lone surrogate.
    """
    if code not in ERROR_CODES:
        raise ValueError(f"{code!r} is not in the error table")
    meta: dict[str, Any] = {"error_code": code, **_bounded(metadata)}
    if details:
        meta["details"] = _bounded(details)
    return create_event(
        event,
        session_id=None if session_id is None else truncate_for_echo(session_id),
        content=truncate_for_echo(message, ERROR_MESSAGE_LIMIT),
        metadata=meta,
    )


def _bounded(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: truncate_for_echo(value, ECHO_LIMIT) if isinstance(value, str) else value for key, value in values.items()
    }
