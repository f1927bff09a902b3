"""``AgentClient``: one WebSocket connection, one reader task, any number of sessions.

The reader routes every frame to its session by ``session_id``. A throttled task acknowledges
what was received. When the connection drops the client reconnects with exponential backoff and
jitter, re-attaches every session with ``user.reconnect`` (its resume token and the last event id
it received) and, when the server no longer knows a session, restores it from its signed state.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
from collections import deque
from collections.abc import Awaitable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

from myagent.client.errors import ClientConnectionError, ClientError, ClientProtocolError, ConnectionLostError
from myagent.client.events import Event
from myagent.client.session import ConfirmCallback, Session
from myagent.client.state_store import StateStore
from myagent.protocol.names import AgentEvents, SystemEvents, UserEvents
from myagent.protocol.rules import parse_event_id

__all__ = ["AgentClient", "Link"]

logger = logging.getLogger(__name__)

_MAX_FRAME_BYTES = 64 << 20  # signed states and long answers; the server bounds what it sends


@dataclass(eq=False)
class Link:
    """One WebSocket connection of the client (a new one after each reconnect)."""

    ws: ClientConnection
    generation: int
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None


@dataclass(eq=False)
class _OpenRequest:
    """``user.create_session``/``user.reconnect_with_state``: answered by an event of a session not known yet."""

    request: str
    frame: dict[str, Any]
    future: asyncio.Future[Session]
    target: Session | None = None
    generation: int = 0


class _LinkLost(ClientConnectionError):
    """The connection a request was sent on dropped before the answer came."""


class AgentClient:
    """An asyncio client for a myagent server.

    Args:
        url: ``ws://host:port`` of the server.
        ack_interval: at most one ``user.ack`` per session per this many seconds.
        reconnect: reconnect and resume every session when the connection drops.
        max_backoff: longest pause between reconnect attempts (seconds).
        initial_backoff: first pause; doubled after each failed attempt, with jitter.
        max_reconnect_attempts: give up after this many failed attempts (``None``: never).
        confirm: answers ``agent.user_confirm`` automatically: ``(ConfirmRequest) -> bool | ConfirmAnswer``,
            sync or async. A sync callback runs in the event loop, so it must not block.
        state_store: when set, the signed state is exported after each final answer and saved
            there; it is loaded to restore a session the server no longer knows.
        request_timeout: seconds to wait for the answer to a request (``None``: no limit).
        open_timeout: seconds for the WebSocket handshake and the server's greeting.
        connect_options: extra keyword arguments for :func:`websockets.asyncio.client.connect`.
    """

    def __init__(
        self,
        url: str,
        *,
        ack_interval: float = 0.2,
        reconnect: bool = True,
        max_backoff: float = 10.0,
        initial_backoff: float = 0.2,
        max_reconnect_attempts: int | None = 20,
        confirm: ConfirmCallback | None = None,
        state_store: StateStore | None = None,
        request_timeout: float | None = 60.0,
        open_timeout: float = 10.0,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.ack_interval = ack_interval
        self.reconnect = reconnect
        self.max_backoff = max_backoff
        self.initial_backoff = initial_backoff
        self.max_reconnect_attempts = max_reconnect_attempts
        self.confirm = confirm
        self.state_store = state_store
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.connect_options = dict(connect_options or {})
        self.connection_id: str | None = None
        self.server_info: dict[str, Any] = {}
        self.errors: list[ClientProtocolError] = []
        self.reconnects = 0  # connections re-established after a loss
        self._sessions: dict[str, Session] = {}
        self._opening: list[_OpenRequest] = []
        self._orphans: dict[str, list[dict[str, Any]]] = {}
        self._link: Link | None = None
        self._generation = 0
        self._ready = asyncio.Event()
        self._ack_wanted = asyncio.Event()
        self._ack_task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: deque[tuple[dict[str, Any], Session | None, asyncio.Future[int]]] = deque()
        self._outbox_wakeup = asyncio.Event()
        self._reconnector: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._failure: ClientError | None = None
        self._closing = False

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- public API ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ready.is_set() and self._link is not None and self._failure is None

    @property
    def websocket(self) -> ClientConnection | None:
        """The current WebSocket connection (``None`` while reconnecting)."""
        return self._link.ws if self._link is not None else None

    @property
    def sessions(self) -> list[Session]:
        return list(self._sessions.values())

    async def connect(self) -> None:
        """Open the connection.

        Raises:
            ClientConnectionError: the server cannot be reached or did not greet with ``system.connected``.
        """
        if self._link is not None or self._closing:
            return
        try:
            await self._connect_link()
        except (OSError, WebSocketException, TimeoutError, ValueError) as exc:
            raise ClientConnectionError(f"cannot connect to {self.url}: {exc}") from exc
        self._ack_task = asyncio.create_task(self._ack_loop(), name="myagent-client-ack")
        self._writer = asyncio.create_task(self._write(), name="myagent-client-writer")
        self._ready.set()

    async def close(self) -> None:
        """Acknowledge what was received and close the connection; sessions stay resumable on the server."""
        if self._closing:
            return
        self._closing = True
        link = self._link
        if link is not None and self._ready.is_set():
            with contextlib.suppress(ConnectionClosed):
                await self._send_acks(link)
        tasks = [t for t in (self._reconnector, self._ack_task, self._writer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if link is not None:
            await link.ws.close()
            if link.reader is not None:
                await asyncio.gather(link.reader, return_exceptions=True)
        self._give_up(ClientConnectionError("the client is closed"))

    async def create_session(self) -> Session:
        """Create a session on the server (``user.create_session`` → ``agent.session_created``)."""
        frame = {"event": UserEvents.CREATE_SESSION}
        return await self._open_session(_OpenRequest(UserEvents.CREATE_SESSION, frame, self._future()))

    async def resume_session(
        self,
        session_id: str,
        resume_token: str,
        *,
        last_seq: int = 0,
        last_event_id: str | None = None,
        signed_state: dict[str, Any] | None = None,
    ) -> Session:
        """Attach a session created elsewhere (e.g. by an earlier process) and replay what came after ``last_seq``.

        With ``signed_state`` a session the server no longer knows is restored instead.
        Replayed events, and the rest of a run still in progress, are read with ``session.follow()``.

        Raises:
            ClientProtocolError: e.g. ``SESSION_NOT_FOUND`` or ``INVALID_RESUME_TOKEN``.
        """
        if last_event_id is not None:
            parsed = parse_event_id(last_event_id)
            last_seq = parsed[1] if parsed is not None else 0
        existing = self._sessions.get(session_id)
        if existing is not None:
            return existing
        session = Session(self, session_id, resume_token, last_seq=last_seq)
        session.signed_state = signed_state
        self._sessions[session_id] = session
        try:
            link = await self._wait_link()
            await session._reattach(link)
        except _LinkLost:
            await self._wait_link()  # the reconnect loop re-attached it (or failed it)
            session._check_usable()
        except BaseException:
            self._forget(session)
            raise
        await self._await_reply(session._replayed.wait())
        session._check_usable()
        return session

    async def restore_session(self, signed_state: dict[str, Any], *, last_event_id: str | None = None) -> Session:
        """Continue a conversation from a signed state (``user.reconnect_with_state``).

        Usually a new session (new id and resume token) that holds the saved conversation; if the
        original session is still alive and detached on this server, it is re-attached instead.

        Raises:
            ClientProtocolError: the state was refused (``STATE_SIGNATURE_MISMATCH``, ``STATE_EXPIRED`` ...).
        """
        frame: dict[str, Any] = {"event": UserEvents.RECONNECT_WITH_STATE, "signed_state": signed_state}
        if last_event_id is not None:
            frame["last_event_id"] = last_event_id
        session = await self._open_session(_OpenRequest(UserEvents.RECONNECT_WITH_STATE, frame, self._future()))
        session.signed_state = signed_state
        return session

    # -- sending ------------------------------------------------------------------------------

    def _enqueue(self, frame: dict[str, Any], session: Session | None = None) -> asyncio.Future[int]:
        """Queue ``frame`` for the writer; the future gives the generation of the connection it went out on.

        One writer sends every frame in the order it was queued, waiting while the client
        reconnects. The frame names ``session`` by its id at sending time (a restore may change
        it). A frame lost because the connection dropped under it is not an error here: requests
        that wait for an answer are sent again once their session has been resumed.
        """
        self._check_usable()
        if session is not None:
            session._check_usable()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._outbox.append((frame, session, future))
        self._outbox_wakeup.set()
        return future

    async def _send(self, frame: dict[str, Any], session: Session | None = None) -> int:
        return await self._enqueue(frame, session)

    async def _write(self) -> None:
        while True:
            await self._outbox_wakeup.wait()
            self._outbox_wakeup.clear()
            while self._outbox:
                try:
                    link = await self._wait_link()
                except ClientError as exc:
                    self._fail_outbox(exc)
                    return
                frame, session, future = self._outbox.popleft()
                if session is not None:
                    if session._closed_error is not None:
                        if not future.done():
                            future.set_exception(session._closed_error)
                        continue
                    frame["session_id"] = session.session_id
                await self._send_on(link, frame)
                if not future.done():
                    future.set_result(link.generation)

    def _fail_outbox(self, error: ClientError) -> None:
        while self._outbox:
            _, _, future = self._outbox.popleft()
            if not future.done():
                future.set_exception(error)

    async def _send_on(self, link: Link, frame: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await link.ws.send(json.dumps(frame, ensure_ascii=False))

    async def _wait_link(self) -> Link:
        while True:
            self._check_usable()
            if self._ready.is_set() and self._link is not None:
                return self._link
            await self._ready.wait()

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def _await_reply(self, future: Awaitable[Any]) -> Any:
        return await asyncio.wait_for(future, self.request_timeout)

    async def _await_on_link(self, future: asyncio.Future[Any], link: Link) -> Any:
        lost = asyncio.ensure_future(link.lost.wait())
        try:
            await asyncio.wait({future, lost}, timeout=self.request_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if future.done():
            return future.result()
        future.cancel()
        if link.lost.is_set():
            raise _LinkLost("the connection dropped while waiting for an answer")
        raise TimeoutError("no answer from the server")

    async def _open_session(self, request: _OpenRequest) -> Session:
        self._opening.append(request)
        try:
            request.generation = await self._send(request.frame)
            session: Session = await self._await_reply(request.future)
            return session
        finally:
            if request in self._opening:
                self._opening.remove(request)
            if not any(r.request == UserEvents.RECONNECT_WITH_STATE for r in self._opening):
                self._orphans.clear()

    async def _restore_into(self, session: Session, state: dict[str, Any], link: Link) -> None:
        """Restore ``session`` from ``state`` on ``link``; the reader rebinds it to the new session id."""
        frame = {"event": UserEvents.RECONNECT_WITH_STATE, "signed_state": state}
        request = _OpenRequest(UserEvents.RECONNECT_WITH_STATE, frame, self._future(), target=session)
        request.generation = link.generation
        self._opening.append(request)
        try:
            await self._send_on(link, frame)
            await self._await_on_link(request.future, link)
        finally:
            if request in self._opening:
                self._opening.remove(request)

    def _future(self) -> asyncio.Future[Session]:
        return asyncio.get_running_loop().create_future()

    # -- receiving ----------------------------------------------------------------------------

    async def _read(self, link: Link) -> None:
        try:
            async for message in link.ws:
                if isinstance(message, bytes):
                    continue
                try:
                    frame = json.loads(message)
                except ValueError:
                    logger.warning("connection %s: ignoring a frame that is not JSON", self.connection_id)
                    continue
                if not isinstance(frame, dict):
                    continue
                try:
                    self._route(frame)
                except Exception:  # a bug in routing must not end the connection
                    logger.exception("connection %s: failed to route %s", self.connection_id, frame.get("event"))
        except ConnectionClosed:
            pass
        finally:
            link.lost.set()
            if link is self._link:
                self._on_lost(link)

    def _route(self, frame: dict[str, Any]) -> None:
        name = frame.get("event")
        if name in (SystemEvents.HEARTBEAT, SystemEvents.CONNECTED):
            return
        event = Event.from_frame(frame)
        sid = event.session_id
        if name in (AgentEvents.SESSION_CREATED, AgentEvents.STATE_RESTORED) and self._bind_opened(event):
            return
        session = self._sessions.get(sid) if sid is not None else None
        if session is None:
            if sid is not None and any(r.request == UserEvents.RECONNECT_WITH_STATE for r in self._opening):
                self._orphans.setdefault(sid, []).append(frame)  # a re-attach replays before state_restored
            elif event.is_request_error:
                self._route_unowned_error(event)
            else:
                logger.debug("connection %s: %s for unknown session %s", self.connection_id, name, sid)
            return
        if event.is_request_error:
            session._receive_error(event)
        elif name == SystemEvents.NOTICE:
            session._receive_notice(event)
        else:
            session._receive_event(event)

    def _bind_opened(self, event: Event) -> bool:
        """The answer to a pending create/restore request: bind it to its ``Session``."""
        created = event.name == AgentEvents.SESSION_CREATED
        wanted = UserEvents.CREATE_SESSION if created else UserEvents.RECONNECT_WITH_STATE
        request = next((r for r in self._opening if r.request == wanted and not r.future.done()), None)
        if request is None or event.session_id is None:
            return False
        self._opening.remove(request)
        sid = event.session_id
        token = str(event.metadata.get("resume_token", ""))
        if request.target is not None:  # an automatic restore: the same Session object goes on
            session = request.target
            if self._sessions.get(session.session_id) is session:
                del self._sessions[session.session_id]
            self._sessions[sid] = session
            session._restored(event, deliver=True)
        else:
            session = self._sessions.get(sid) or Session(self, sid, token)
            self._sessions[sid] = session
            for frame in self._orphans.pop(sid, []):
                self._route(frame)
            if event.name == AgentEvents.STATE_RESTORED:
                session._restored(event, deliver=False)
            else:
                session._receive_event(event, consumed=True)
        session.created = event
        request.future.set_result(session)
        return True

    def _route_unowned_error(self, event: Event) -> None:
        request = event.metadata.get("request_event")
        error = ClientProtocolError.from_event(event)
        opening = next((r for r in self._opening if r.request == request and not r.future.done()), None)
        if opening is not None:
            self._opening.remove(opening)
            opening.future.set_exception(error)
            return
        # Frames the server rejects while validating them carry no session id: attribute the error
        # when exactly one session is waiting for an answer to that kind of request.
        candidates = [s for s in self._sessions.values() if s._expects(request)]
        if len(candidates) == 1:
            candidates[0]._receive_error(event)
            return
        self.errors.append(error)
        logger.warning("connection %s: server error not tied to a request: %s", self.connection_id, error)

    # -- connection lifecycle -----------------------------------------------------------------

    async def _connect_link(self) -> Link:
        ws = await websockets.connect(
            self.url, open_timeout=self.open_timeout, max_size=_MAX_FRAME_BYTES, **self.connect_options
        )
        try:
            greeting = json.loads(await asyncio.wait_for(ws.recv(), self.open_timeout))
            if not isinstance(greeting, dict) or greeting.get("event") != SystemEvents.CONNECTED:
                raise ClientConnectionError(f"{self.url} did not greet with {SystemEvents.CONNECTED}")
        except BaseException:
            await ws.close()
            raise
        metadata = greeting.get("metadata")
        self.server_info = metadata if isinstance(metadata, dict) else {}
        self.connection_id = str(self.server_info.get("connection_id", "")) or None
        self._generation += 1
        link = Link(ws, self._generation)
        self._link = link
        link.reader = asyncio.create_task(self._read(link), name=f"myagent-client-reader-{link.generation}")
        return link

    def _on_lost(self, link: Link) -> None:
        self._ready.clear()
        self._link = None
        if self._closing or self._failure is not None:
            return
        code = link.ws.close_code
        logger.info("connection %s to %s lost (close code %s)", self.connection_id, self.url, code)
        if not self.reconnect:
            self._give_up(ConnectionLostError(f"the connection to {self.url} was lost (close code {code})"))
        elif self._reconnector is None or self._reconnector.done():
            self._reconnector = asyncio.create_task(self._reconnect_loop(), name="myagent-client-reconnect")

    async def _reconnect_loop(self) -> None:
        delay = self.initial_backoff
        attempt = 0
        last_error: BaseException | None = None
        while True:
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            try:
                link = await self._connect_link()
            except (OSError, WebSocketException, TimeoutError, ValueError, ClientConnectionError) as exc:
                last_error = exc
                logger.info("reconnect attempt %d to %s failed: %s", attempt, self.url, exc)
            else:
                self.reconnects += 1
                if await self._reattach_all(link):
                    self._ready.set()
                    self._resend_opening(link)
                    self._want_ack()
                    return
            if self.max_reconnect_attempts is not None and attempt >= self.max_reconnect_attempts:
                message = f"could not reconnect to {self.url} after {attempt} attempts: {last_error}"
                self._give_up(ConnectionLostError(message))
                return
            delay = min(self.max_backoff, delay * 2)

    async def _reattach_all(self, link: Link) -> bool:
        sessions = [s for s in self._sessions.values() if not s.closed]
        results = await asyncio.gather(*(s._reattach(link) for s in sessions), return_exceptions=True)
        if link.lost.is_set():
            return False
        for session, result in zip(sessions, results, strict=True):
            if isinstance(result, ClientError):
                logger.warning("session %s could not be resumed: %s", session.session_id, result)
                session._mark_closed(result.code if isinstance(result, ClientProtocolError) else "closed", result)
            elif isinstance(result, BaseException):
                raise result
        return True

    def _resend_opening(self, link: Link) -> None:
        for request in self._opening:
            if request.target is None and request.generation < link.generation:
                request.generation = link.generation
                self._spawn(self._send_on(link, request.frame))

    def _give_up(self, error: ClientError) -> None:
        if self._failure is None:
            self._failure = error
        self._ready.set()  # wake senders so that they see the failure
        for session in list(self._sessions.values()):
            session._connection_failed(error)
        for request in self._opening:
            if not request.future.done():
                request.future.set_exception(error)
        self._opening.clear()
        self._fail_outbox(error)

    # -- acknowledgements ---------------------------------------------------------------------

    def _want_ack(self) -> None:
        self._ack_wanted.set()

    async def _ack_loop(self) -> None:
        while True:
            await self._ack_wanted.wait()
            self._ack_wanted.clear()
            try:
                link = await self._wait_link()
            except ClientError:
                return
            await self._send_acks(link)
            await asyncio.sleep(self.ack_interval)  # throttle: one ACK per session per interval

    async def _send_acks(self, link: Link) -> None:
        for session in list(self._sessions.values()):
            if session.last_seq > session._acked_seq and not session.closed:
                session._acked_seq = session.last_seq
                frame = {"event": UserEvents.ACK, "session_id": session.session_id}
                frame["last_event_id"] = str(session.last_event_id)
                await self._send_on(link, frame)

    # -- helpers for sessions -----------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, ClientError):
            logger.error("background task of the client failed", exc_info=error)

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]

    def _after_final_answer(self, session: Session) -> None:
        if self.state_store is not None:
            self._spawn(session._auto_export())

    def _can_restore(self, session: Session) -> bool:
        return self.reconnect and (session.signed_state is not None or self.state_store is not None)

    async def _save_state(self, session_id: str, state: dict[str, Any]) -> None:
        if self.state_store is not None:
            result = self.state_store.save(session_id, state)
            if inspect.isawaitable(result):
                await result

    async def _load_state(self, session_id: str) -> dict[str, Any] | None:
        if self.state_store is None:
            return None
        result = self.state_store.load(session_id)
        if inspect.isawaitable(result):
            result = await result
        return result if isinstance(result, dict) else None
