"""What a command handler acts on: the connection's identity, its attached sessions, the service, a reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from myagent.errors import ProtocolError
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.inbound import InboundFrame
from myagent.protocol.texts import text
from myagent.ws.event_log import LogEntry
from myagent.ws.service import Attachment, SessionService

__all__ = ["CommandContext", "Handler", "Peer"]


class Peer(Protocol):
    """The connection side of a command: where replies and session events go."""

    def deliver(self, entry: LogEntry) -> object:
        """Queue one sequenced event of an attached session."""

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
        principal: who is on the other end (``None`` while authentication is off).
        attached: sessions attached to this connection.
    """

    connection_id: str
    service: SessionService
    peer: Peer
    principal: Any = None
    attached: dict[str, Attachment] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return self.service.language

    @property
    def owner(self) -> str | None:
        return getattr(self.principal, "id", None)

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
        if await self.service.store.get(frame.session_id) is None:
            raise ProtocolError(ErrorCodes.SESSION_NOT_FOUND, f"no live session {frame.session_id!r}")
        raise ProtocolError(
            ErrorCodes.SESSION_NOT_OWNED,
            "the session is not attached to this connection; send user.reconnect with its resume token",
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
            first, last = window.missing
            self.peer.send_error(
                ErrorCodes.REPLAY_GAP,
                f"events {first}..{last} are no longer retained; later events follow",
                session_id=session_id,
                details={"missing_from_seq": first, "missing_to_seq": last},
            )
        described = await self.service.on_owner(session_id, "describe")
        self.peer.notice(
            "reconnect",
            True,
            text("session_resumed", self.language),
            session_id=session_id,
            replay_count=len(window.entries),
            last_seq=window.last_seq,
            busy=bool(described.data.get("busy")),
        )
        self.peer.push_replay(window.entries)
        attachment.subscription.start()


Handler = Callable[[CommandContext, InboundFrame], Awaitable[None]]
