"""What a run inherits from whoever started it: the conversation id and a client's trace context.

Both are context variables: the server sets them around the call that creates the run's task,
and the task (which copies the context when it is created) carries them into the agent loop.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["continue_trace", "conversation", "current_conversation", "incoming_trace"]

# W3C Trace Context, version 00: version-traceid-parentid-flags, lower-case hex, ids not all zero.
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_MAX_TRACESTATE = 512

_conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar("myagent_conversation", default=None)
_carrier: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("myagent_trace", default=None)


@contextlib.contextmanager
def conversation(conversation_id: str | None) -> Iterator[None]:
    """Runs started inside this block belong to ``conversation_id`` (the session id)."""
    token = _conversation.set(conversation_id)
    try:
        yield
    finally:
        _conversation.reset(token)


@contextlib.contextmanager
def continue_trace(metadata: Mapping[str, Any] | None) -> Iterator[None]:
    """Runs started inside this block continue the W3C trace named in ``metadata`` (if valid).

    ``metadata`` is a client frame's metadata: ``traceparent`` (and optionally ``tracestate``).
    A malformed value is ignored: the run then starts a trace of its own.
    """
    token = _carrier.set(trace_carrier(metadata))
    try:
        yield
    finally:
        _carrier.reset(token)


def trace_carrier(metadata: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The valid W3C trace headers in ``metadata``, or ``None``."""
    if not metadata:
        return None
    parent = metadata.get("traceparent")
    if not isinstance(parent, str) or not _TRACEPARENT.fullmatch(parent):
        return None
    carrier = {"traceparent": parent}
    state = metadata.get("tracestate")
    if isinstance(state, str) and len(state) <= _MAX_TRACESTATE:
        carrier["tracestate"] = state
    return carrier


def current_conversation() -> str | None:
    return _conversation.get()


def incoming_trace() -> dict[str, str] | None:
    return _carrier.get()
