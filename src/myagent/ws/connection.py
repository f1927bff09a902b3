"""One WebSocket connection, a thin adapter: decode → command → service → subscription → writer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from myagent._version import __version__
from myagent.auth.authenticator import Authenticator
from myagent.auth.connection_auth import ConnectionAuth
from myagent.auth.errors import AuthError
from myagent.auth.gate import SCOPE_KEY, GateResult
from myagent.auth.handshake import Handshake
from myagent.auth.principal import anonymous_principal
from myagent.errors import ProtocolError
from myagent.protocol.close_codes import CLOSE_CODES, CloseCodes
from myagent.protocol.envelope import PROTOCOL_VERSION, create_error, create_event
from myagent.protocol.errors import ErrorCodes, with_resume_hint
from myagent.protocol.inbound import InboundFrame, decode_frame, requested_event
from myagent.protocol.names import AgentEvents, SystemEvents, UserEvents
from myagent.protocol.show_content import render_show_content
from myagent.protocol.texts import text
from myagent.ws.commands import CommandContext, dispatch
from myagent.ws.commands.context import report_gap
from myagent.ws.event_log import LogEntry, Missed, encode_frame
from myagent.ws.limits import FailureThrottle, TokenBucket
from myagent.ws.outbound import OutboundChannel
from myagent.ws.service import SessionService

__all__ = ["CAPABILITIES", "CONNECTION_EVENTS", "Connection", "Guards"]

logger = logging.getLogger(__name__)

CAPABILITIES = ["seq", "ack", "replay", "reconnect", "confirmation", "cancel", "coalesced_deltas", "multi_session"]

_CLOSE_TIMEOUT = 2.0
_CLEAN_CLOSE = (1000, 1001)  # close codes of a client that ended the connection on purpose

#: Client events the connection answers itself (they concern the connection, not a session command).
CONNECTION_EVENTS = frozenset({UserEvents.AUTHENTICATE})
#: Sessions whose unusable ACKs a connection reports; ACKs naming yet more sessions get no error at all.
_MAX_ACK_ERROR_SESSIONS = 64


@dataclass
class Guards:
    """What every connection of a server shares for its security checks.

    Attributes:
        authenticator: verifies credentials (``None``: authentication off).
        failures: failed resume and restore attempts per client address.
    """

    authenticator: Authenticator | None = None
    failures: FailureThrottle | None = None


class Connection:
    """Serves one client until it disconnects, is too slow, or the server shuts down."""

    def __init__(
        self, websocket: WebSocket, service: SessionService, registry: set[Connection], guards: Guards | None = None
    ) -> None:
        guards = guards or Guards()
        self.id = f"conn_{uuid.uuid4().hex[:16]}"
        self.websocket = websocket
        self.service = service
        self.registry = registry
        self.options = service.options
        self.metrics = service.metrics
        scope = getattr(websocket, "scope", None) or {}
        gate: GateResult | None = scope.get(SCOPE_KEY)
        handshake = gate.handshake if gate is not None else Handshake.from_scope(scope)
        principal = gate.principal if gate is not None else None
        self.auth = ConnectionAuth(
            guards.authenticator, handshake, principal=principal, auth_timeout=self.options.auth_timeout
        )
        client_key = gate.limit_key if gate is not None else anonymous_principal(handshake.client_host).key
        self.context = CommandContext(
            self.id, service, self, principal=principal, client_key=client_key, failures=guards.failures
        )
        self.frames = TokenBucket(self.options.frames_per_second, self.options.frame_burst)
        self.outbound = OutboundChannel(
            websocket.send_text,
            max_frames=self.options.outbound_queue_frames,
            max_bytes=self.options.outbound_buffer_bytes,
            on_overflow=self._on_overflow,
            on_sent=self.metrics.note_sent,
            on_failure=lambda exc: self._stop(CloseCodes.INTERNAL_ERROR),
        )
        self._reader: asyncio.Task[Any] | None = None
        self._close_code: int | None = None
        self._ack_errors_sent: set[str | None] = set()  # sessions whose unusable ACK was reported once

    @property
    def sessions(self) -> dict[str, Any]:
        """Sessions attached to this connection, by id."""
        return self.context.attached

    # -- Peer protocol (what commands and subscriptions use) ----------------------------------

    def deliver(self, entry: LogEntry | Missed) -> bool:
        if isinstance(entry, Missed):
            self.metrics.replay_gaps_total += 1
            report_gap(self, entry)
            return not self.outbound.overflowed
        return self.outbound.push(entry)

    def push_replay(self, entries: list[LogEntry]) -> None:
        self.outbound.push_replay(entries)

    def session_lost(self, session_id: str, reason: str) -> None:
        if self.context.attached.pop(session_id, None) is not None and reason == "taken_over":
            self.notice("session_taken_over", True, text("session_taken_over", self.service.language), session_id)

    # -- lifecycle ----------------------------------------------------------------------------

    async def serve(self) -> None:
        await self.websocket.accept()
        self.registry.add(self)
        self.metrics.connections_total += 1
        self.send_system(SystemEvents.CONNECTED, "connected", self._connected_metadata())
        writer = asyncio.create_task(self.outbound.run(), name=f"writer-{self.id}")
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"heartbeat-{self.id}")
        watch = asyncio.create_task(self._watch_credentials(), name=f"auth-{self.id}")
        self._reader = asyncio.current_task()
        try:
            await self._read_frames()
        except WebSocketDisconnect:
            pass
        except asyncio.CancelledError:
            if self._close_code is None:
                raise  # cancelled by someone else: let it propagate
            if self._reader is not None:
                self._reader.uncancel()  # our own stop request (slow consumer, shutdown)
        finally:
            # No stop request may cancel the clean-up below (detaching writes to a shared store).
            self._reader = None
            heartbeat.cancel()
            watch.cancel()
            await self._release_sessions()
            self.registry.discard(self)
            await self._finish(writer)

    def _connected_metadata(self) -> dict[str, Any]:
        return {
            "connection_id": self.id,
            "server_version": __version__,
            "protocol_version": PROTOCOL_VERSION,
            "capabilities": CAPABILITIES,
            "heartbeat_interval": self.options.heartbeat_interval,
            "max_message_bytes": self.options.max_message_bytes,
        }

    async def _read_frames(self) -> None:
        limit = self.options.max_message_bytes
        while self._close_code is None:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                if message.get("code") in _CLEAN_CLOSE:  # the client read what it wanted, tokens included
                    await self._confirm_tokens()
                return
            text = message.get("text")
            if text is None:
                self.send_error(ErrorCodes.BINARY_NOT_SUPPORTED, "binary frames are not supported; send JSON text")
                continue
            await self._confirm_tokens()  # any frame after a resume's notice: the client holds its new token
            if _utf8_length_exceeds(text, limit):
                self.send_error(
                    ErrorCodes.MESSAGE_TOO_LARGE, f"frame exceeds {limit} bytes", details={"max_message_bytes": limit}
                )
                continue
            await self._handle_text(text)

    async def _handle_text(self, text: str) -> None:
        frame: InboundFrame | None = None
        try:
            if not self.frames.try_take():
                wait = round(self.frames.retry_after(), 2)
                raise ProtocolError(ErrorCodes.RATE_LIMITED, f"too many frames; retry in {wait} s").with_detail(
                    "retry_after", wait
                )
            frame = decode_frame(text)
            if not self.auth.admits(frame.event):
                self._close_for(AuthError("authenticate first: send user.authenticate with a token"))
                return
            if frame.event in CONNECTION_EVENTS:
                await self._authenticate(frame)
                return
            await dispatch(self.context, frame)
        except ProtocolError as exc:
            self.metrics.client_errors_total += 1
            event, session_id = (frame.event, frame.session_id) if frame else requested_event(text)
            logger.info("connection %s: rejected %s: %s", self.id, event or "frame", exc.code)
            self.send_error(
                exc.code,
                exc.message,
                request=frame,
                request_event=event,
                session_id=session_id,
                details=exc.details or None,
            )
        except Exception:  # a server bug in a handler: report it, keep the connection and its sessions
            logger.exception("connection %s: error while handling %s", self.id, frame.event if frame else "frame")
            self.send_error(
                ErrorCodes.INTERNAL_ERROR, "internal server error; the frame was not processed", request=frame
            )

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        self.outbound.close()
        if self._close_code == CloseCodes.SLOW_CONSUMER:
            writer.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(writer, _CLOSE_TIMEOUT)
        if self._close_code is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(self._close_code, self._close_reason()), _CLOSE_TIMEOUT)

    def _close_reason(self) -> str:
        known = CLOSE_CODES.get(self._close_code) if self._close_code is not None else None
        return known.reason if known is not None else ""

    # -- credentials --------------------------------------------------------------------------

    async def _authenticate(self, frame: InboundFrame) -> None:
        """``user.authenticate``: the first credentials, or a refresh before the token expires."""
        if self.auth.state == "off":
            raise ProtocolError(ErrorCodes.NOT_SUPPORTED, "this server does not use authentication")
        try:
            principal = await self.auth.authenticate(frame.content)
        except AuthError as exc:
            self._close_for(exc)
            return
        self.context.principal = principal
        expires = principal.expires_at
        self.notice("authenticate", True, "authenticated", principal=principal.id, expires_at=expires)

    async def _watch_credentials(self) -> None:
        """Close with 4401 when the first frame never came or the credentials expired unrefreshed."""
        while self.auth.state != "off":
            deadline = self.auth.deadline()
            await asyncio.sleep(3600 if deadline is None else max(0.0, deadline - time.time()))
            failure = self.auth.overdue()
            if failure is not None:
                self._close_for(failure)
                return

    def _close_for(self, error: AuthError) -> None:
        logger.info("connection %s: closing (%s): %s", self.id, error.close_code, error)
        self._stop(error.close_code)

    async def _confirm_tokens(self) -> None:
        for attachment in list(self.context.attached.values()):
            if attachment.token_unconfirmed:
                await self.service.confirm_token(attachment)

    async def _release_sessions(self) -> None:
        attached = list(self.context.attached.values())
        self.context.attached.clear()
        for attachment in attached:
            try:
                await self.service.detach(attachment)
            except Exception:  # a store failure: the session expires on its own deadline or not at all
                logger.exception("connection %s: could not detach session %s", self.id, attachment.session_id)

    def _on_overflow(self) -> None:
        logger.warning("connection %s: client is not reading; closing (sessions stay resumable)", self.id)
        self.metrics.slow_consumer_disconnects_total += 1
        self._stop(CloseCodes.SLOW_CONSUMER)

    async def close_going_away(self) -> None:
        """Server shutdown: flush what is queued, then close with 1001."""
        self._stop(CloseCodes.GOING_AWAY)

    def _stop(self, code: int) -> None:
        if self._close_code is None:
            self._close_code = code
            if self._reader is not None:
                self._reader.cancel()

    async def _heartbeat(self) -> None:
        interval = self.options.heartbeat_interval
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            self.send_system(SystemEvents.HEARTBEAT, None, None)

    # -- helpers for handlers -----------------------------------------------------------------

    def send_system(self, event: str, content: Any, metadata: dict[str, Any] | None, **extra: Any) -> None:
        """Queue an unsequenced connection-level frame."""
        frame = create_event(event, content=content, metadata=metadata, **extra)
        show = render_show_content(event, content, metadata, self.service.language)
        if show is not None:
            frame["show_content"] = show
        self.outbound.push(encode_frame(frame))

    def send_error(
        self,
        code: str,
        message: str,
        *,
        request: InboundFrame | None = None,
        session_id: str | None = None,
        request_event: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Queue an unsequenced error about a request (see :func:`myagent.protocol.rules.is_request_error`).

        A rejected frame that named a session is answered with ``agent.error`` carrying that session id
        and how to resume it; other errors are ``system.error``. ACKs are advisory: one that cannot be
        applied gets one error per session on this connection, later ones are dropped silently.
        """
        event = request.event if request else request_event
        session_id = session_id or (request.session_id if request else None)
        if event == UserEvents.ACK:
            if session_id in self._ack_errors_sent or len(self._ack_errors_sent) >= _MAX_ACK_ERROR_SESSIONS:
                return
            self._ack_errors_sent.add(session_id)
        extra = {"request_event": event} if event else {}
        name = AgentEvents.ERROR if event and session_id else SystemEvents.ERROR
        if name == AgentEvents.ERROR:
            message = with_resume_hint(code, message)
        frame = create_error(name, code, message, session_id=session_id, details=details, **extra)
        frame["show_content"] = render_show_content(name, message, None, self.service.language)
        self.outbound.push(encode_frame(frame))

    def notice(self, action: str, ok: bool, content: str, session_id: str | None = None, **metadata: Any) -> None:
        self.send_system(SystemEvents.NOTICE, content, {"action": action, "ok": ok, **metadata}, session_id=session_id)


def _utf8_length_exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` takes more than ``limit`` bytes in UTF-8 (1-4 bytes per character)."""
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit
