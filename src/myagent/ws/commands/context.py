"""What a command handler acts on: the connection's identity, its attached sessions, the service, a reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from myagent.auth.principal import Principal
from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.texts import text
from myagent.ws.event_log import LogEntry, Missed
from myagent.ws.limits import FailureThrottle
from myagent.ws.service import Attachment, SessionService

__all__ = ["CommandContext", "Handler", "Peer", "report_gap"]


class Peer(Protocol):
    """The connection side of a command: where replies and session events go."""

    def deliver(self, entry: LogEntry | Missed) -> object:
        """Queue one sequenced event of an attached session (or report events it can no longer get)."""

    def push_replay(self, entries: list[LogEntry]) -> None:
        """Queue a replay as a whole."""

    def send_error(
        self, code: str, message: str, *, session_id: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        """Queue an unsequenced error about a request."""

    def notice(self, action: str, ok: bool, content: str, session_id: str | None = None, **metadata: Any) -> None:
        """Queue an unsequenced ``system.notice``."""

    def session_lost(self, session_id: str, reason: str) -> None:
        """A session left this connection (taken over elsewhere, or closed)."""


@dataclass
class CommandContext:
    """One connection as the commands see it.

    Attributes:
        connection_id: the connection's id.
        service: the session service.
        peer: where replies and events go.
        principal: who is on the other end (``None`` while authentication is off or pending).
        client_key: the client's address key (limits while authentication is off).
        failures: failed resume/restore attempts per client address (``None``: not throttled).
        attached: sessions attached to this connection.
    """

    connection_id: str
    service: SessionService
    peer: Peer
    principal: Principal | None = None
    client_key: str = "anonymous"
    failures: FailureThrottle | None = None
    attached: dict[str, Attachment] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return self.service.language

    @property
    def owner(self) -> str | None:
        """Who sessions created here belong to (``None`` while authentication is off)."""
        return self.principal.key if self.principal is not None else None

    @property
    def quota_key(self) -> str:
        """What session limits count by: the principal, or the client address while authentication is off."""
        return self.owner or self.client_key

    def check_attempts(self) -> None:
        """Refuse a resume or restore while this client address is waiting after failed attempts.

        Raises:
            ProtocolError: ``RATE_LIMITED`` with ``details.retry_after``.
        """
        wait = self.failures.retry_after(self.client_key) if self.failures is not None else 0.0
        if wait > 0:
            raise ProtocolError(
                ErrorCodes.RATE_LIMITED, f"too many failed attempts; retry in {wait:.0f} s"
            ).with_detail("retry_after", round(wait, 1))

    def note_failure(self, error: ProtocolError) -> None:
        """Count a failed resume or restore (wrong token, unknown session, refused state)."""
        if self.failures is not None and (
            error.code in (ErrorCodes.INVALID_RESUME_TOKEN, ErrorCodes.SESSION_NOT_FOUND)
            or error.code.startswith("STATE_")
        ):
            self.failures.record_failure(self.client_key)

    async def resolve(self, frame: InboundFrame) -> str:
        """The session a frame is about; it must be attached to this connection.

        Raises:
            ProtocolError: unknown session, a session of another connection, or an ambiguous frame.
        """
        if frame.session_id is None:
            if len(self.attached) == 1:
                return next(iter(self.attached))
            if not self.attached:
                raise ProtocolError(ErrorCodes.MISSING_FIELD, f"{frame.event} requires `session_id`").with_field(
                    "session_id"
                )
            raise ProtocolError(ErrorCodes.SESSION_AMBIGUOUS, "this connection has several sessions; set `session_id`")
        if frame.session_id in self.attached:
            return frame.session_id
        # Unknown, expired, or another client's: the same answer, so that ids reveal nothing.
        raise ProtocolError(
            ErrorCodes.SESSION_NOT_FOUND,
            "no such session on this connection; to continue a session from an earlier connection send "
            "user.reconnect with its resume token (or user.reconnect_with_state with its signed state)",
        )

    def acknowledge(self, session_id: str, action: str, ok: bool, **extra: Any) -> None:
        """A ``system.notice`` saying whether a control took effect."""
        content = text("control_ok" if ok else "control_refused", self.language, action=action)
        self.peer.notice(action, ok, content, session_id=session_id, **extra)

    async def announce_replay(self, attachment: Attachment) -> None:
        """Tell the client what it gets back (a gap first, if any), queue the replay, then go live."""
        window = attachment.subscription.window
        session_id = attachment.session_id
        if window.missing is not None:
            report_gap(self.peer, Missed(session_id, *window.missing))
        described = await self.service.on_owner(session_id, "describe")
        busy = bool(described.data.get("busy"))
        if not described.ok:  # its node stopped and nobody took it over yet: the checkpoint tells
            record = await self.service.store.get(session_id)
            busy = record is not None and record.running
        self.peer.notice(
            "reconnect",
            True,
            text("session_resumed", self.language),
            session_id=session_id,
            replay_count=len(window.entries),
            last_seq=window.last_seq,
            busy=busy,
            **({"resume_token": attachment.resume_token} if attachment.resume_token else {}),
        )
        self.peer.push_replay(window.entries)
        attachment.subscription.start()


def report_gap(peer: Peer, missed: Missed) -> None:
    """``REPLAY_GAP`` with the lost range: in a replay, or live when a shared log trimmed what a reader had not read."""
    peer.send_error(
        ErrorCodes.REPLAY_GAP,
        f"events {missed.first}..{missed.last} are no longer retained; later events follow",
        session_id=missed.session_id,
        details={"missing_from_seq": missed.first, "missing_to_seq": missed.last},
    )


Handler = Callable[[CommandContext, InboundFrame], Awaitable[None]]
