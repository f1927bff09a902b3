"""Exceptions raised by the client SDK.

Every one derives from :class:`ClientError` (itself a :class:`myagent.errors.MyAgentError`)::

    ClientError
    ├── ClientProtocolError      the server rejected a request (``system.error``); carries the code
    ├── RunFailedError           a run ended with ``agent.error`` (raised by ``Session.ask``)
    ├── RunInterruptedError      a run ended with ``agent.interrupted`` (raised by ``Session.ask``)
    ├── RunLostError             the outcome of a run is unknown (its session expired mid-run)
    ├── SessionClosedError       the session ended (closed, shut down, expired)
    │   └── SessionTakenOverError  another connection resumed the session
    └── ClientConnectionError    no connection to the server
        └── ConnectionLostError  the connection dropped and could not be re-established

They carry data (codes, the event that caused them) and never log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from myagent.errors import MyAgentError

if TYPE_CHECKING:
    from myagent.client.events import Event

__all__ = [
    "ClientConnectionError",
    "ClientError",
    "ClientProtocolError",
    "ConnectionLostError",
    "RunFailedError",
    "RunInterruptedError",
    "RunLostError",
    "SessionClosedError",
    "SessionTakenOverError",
]


class ClientError(MyAgentError):
    """Root of every exception the client SDK raises on purpose."""


class ClientProtocolError(ClientError):
    """The server answered a request with ``system.error`` (or the client refused it locally).

    Attributes:
        code: the error code (see the table in ``docs/protocol.md``), e.g. ``SESSION_BUSY``.
        message: the server's explanation.
        details: ``metadata.details`` of the error frame (field name, ranges, limits).
        request_event: the event of the rejected frame, e.g. ``user.message``.
        session_id: the session the request was about, if any.
        local: true when the client refused the request without sending it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        request_event: str | None = None,
        session_id: str | None = None,
        local: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self.request_event = request_event
        self.session_id = session_id
        self.local = local

    @classmethod
    def from_event(cls, event: Event) -> ClientProtocolError:
        details = event.metadata.get("details")
        return cls(
            event.error_code or "INTERNAL_ERROR",
            event.text,
            details=details if isinstance(details, dict) else None,
            request_event=event.metadata.get("request_event"),
            session_id=event.session_id,
        )


class RunFailedError(ClientError):
    """A run ended with ``agent.error``; ``code`` is its ``metadata.error_code``."""

    def __init__(self, code: str, message: str, event: Event) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.event = event


class RunInterruptedError(ClientError):
    """A run ended with ``agent.interrupted``; ``reason`` is e.g. ``user_cancel``."""

    def __init__(self, reason: str, event: Event) -> None:
        super().__init__(f"the run was interrupted ({reason})")
        self.reason = reason
        self.event = event


class RunLostError(ClientError):
    """The run's outcome cannot be known: the session expired (and was restored) while it ran."""


class SessionClosedError(ClientError):
    """The session has ended; ``reason`` is ``closed``, ``shutdown``, ``expired``, ``taken_over``...."""

    def __init__(self, message: str, reason: str = "closed") -> None:
        super().__init__(message)
        self.reason = reason


class SessionTakenOverError(SessionClosedError):
    """Another connection resumed the session with its token; this client no longer receives it."""


class ClientConnectionError(ClientError):
    """The client has no connection to the server (it could not connect, or it was closed)."""


class ConnectionLostError(ClientConnectionError):
    """The connection dropped and reconnecting failed (or is disabled)."""
