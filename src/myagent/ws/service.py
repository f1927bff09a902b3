"""``SessionService``: every session operation, with no knowledge of WebSockets or Starlette.

Events flow one way: runs append to a session's event log (:class:`~myagent.ws.event_log.EventLog`);
a connection subscribes to the log and pumps the subscription into its writer. Commands that need
the live agent go to the process holding the session's run lease, through the
:class:`~myagent.ws.control.ControlBus` (a direct call when that is this process). Records live in a
:class:`~myagent.ws.store.SessionStore`; expiry follows their deadlines (:mod:`myagent.ws.sweeper`).
All four seams have in-memory backends and can be shared by several services.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from myagent.agent.session_agent import SessionAgent
from myagent.auth.principal import Principal
from myagent.errors import ConfigError, MyAgentError, ProtocolError
from myagent.llm.base import Usage
from myagent.llm.http_pool import close_shared_clients
from myagent.protocol.envelope import create_event
from myagent.protocol.errors import ErrorCodes
from myagent.protocol.names import AgentEvents
from myagent.protocol.show_content import render_show_content
from myagent.protocol.texts import text
from myagent.tool.lifecycle import close_all as close_tool_resources
from myagent.ws.control import ControlBus, ControlCommand, ControlResult, InMemoryControlBus, NodeUnreachable
from myagent.ws.event_log import Deliver, EventLog, InMemoryEventLog, LogEntry, Missed, Subscription
from myagent.ws.failover import Takeover
from myagent.ws.host import SessionHost
from myagent.ws.lease import InMemoryLeases, Lease, LeaseManager
from myagent.ws.metrics import Metrics
from myagent.ws.options import ServerOptions
from myagent.ws.session import Session
from myagent.ws.state_manager import StateManager
from myagent.ws.store import InMemorySessionStore, SessionRecord, SessionStore, hash_token, token_matches
from myagent.ws.sweeper import Sweeper
from myagent.ws.translate import Outgoing

__all__ = ["AgentFactory", "Attachment", "SessionContext", "SessionService"]

logger = logging.getLogger(__name__)

AgentFactory = Callable[..., Any]


@dataclass
class Attachment:
    """A session attached to a connection of this process: the subscription feeding its writer.

    ``on_lost`` tells the connection the session left it (taken over elsewhere, or closed).
    """

    session_id: str
    connection_id: str
    subscription: Subscription
    on_lost: Callable[[str, str], None]
    resume_token: str | None = None  # a new token, when attaching rotated it
    token_unconfirmed: bool = False  # the token it replaced works until the client shows it got this one


@dataclass(frozen=True)
class SessionContext:
    """What an agent factory that takes one argument is told about the session it builds for."""

    session_id: str
    principal: Principal | None  # who creates the session (``None`` while authentication is off)


def _frozen(entry: LogEntry) -> dict[str, Any]:
    """The entry's frame as it is sent: sealed, so that no later delta is merged into it unseen."""
    entry.seal()
    return entry.frame


def _takes_an_argument(factory: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return any(p.default is p.empty for p in positional) or any(p.kind is p.VAR_POSITIONAL for p in parameters)


class SessionService:
    """Sessions, runs, confirmations, replay and state for any number of connections.

    Args:
        agent_factory: returns a new agent for each session (sync or async).
        options: server options.
        state: signs and verifies client-held session state.
        store, event_log, control, leases: the storage seams (in-memory when omitted); pass the same
            objects to several services to let them serve each other's sessions.
        node_id: this process's name on the control bus (random when omitted).
    """

    def __init__(
        self,
        agent_factory: AgentFactory,
        options: ServerOptions,
        *,
        state: StateManager,
        store: SessionStore | None = None,
        event_log: EventLog | None = None,
        control: ControlBus | None = None,
        leases: LeaseManager | None = None,
        node_id: str | None = None,
    ) -> None:
        if not callable(agent_factory):
            raise ConfigError("agent_factory_func must be callable and return a new agent")
        self.agent_factory = agent_factory
        self._factory_takes_context = _takes_an_argument(agent_factory)
        self.options = options
        self.language = options.language
        self.state = state
        # ``is None``, not ``or``: an empty in-memory store is falsy (it has a length).
        self.store = InMemorySessionStore() if store is None else store
        self.events = (
            InMemoryEventLog(max_events=options.retention_events, max_bytes=options.retention_bytes)
            if event_log is None
            else event_log
        )
        self.control = InMemoryControlBus() if control is None else control
        self.leases = InMemoryLeases() if leases is None else leases
        self.node_id = node_id or f"node_{uuid.uuid4().hex[:12]}"
        self.metrics = Metrics()
        self.attachments: dict[str, Attachment] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.held: dict[str, Lease] = {}
        self.shutting_down = False
        self.host = SessionHost(
            state=state,
            accepting=lambda: not self.shutting_down,
            on_usage=self._note_usage,
            on_run_started=self._note_run,
            on_finished=self._checkpoint,
            spawn=self.spawn,
        )
        self.sweeper = Sweeper(self)
        self.takeover = Takeover(self)
        self.started_at = time.time()
        self._started = False
        self._sweeper_task: asyncio.Task[None] | None = None
        self.closers: list[Callable[[], Awaitable[None]]] = []  # run last on shutdown (backends built for us)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the control bus and start the sweeper (idempotent; the first operation calls it)."""
        if self._started:
            return
        self._started = True
        await self.control.register(self.node_id, self._receive_control)
        self._sweeper_task = asyncio.create_task(self.sweeper.run(), name=f"sweeper-{self.node_id}")

    def spawn(self, work: Any) -> asyncio.Task[Any]:
        """Start a background task the service owns (cancelled on shutdown); a failure is logged when it happens."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def shutdown(self) -> None:
        """Refuse new work and close every session this process runs (``agent.session_end``)."""
        self.shutting_down = True
        for session in list(self.host.sessions.values()):
            await self._close_local(session, "shutdown")
        await self.control.unregister(self.node_id)
        if self._sweeper_task is not None:
            self._sweeper_task.cancel()
            await asyncio.gather(self._sweeper_task, return_exceptions=True)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for close in self.closers:
            await close()
        await close_tool_resources()  # shared tool resources, e.g. MCP server processes
        await close_shared_clients()  # the model endpoints' HTTP connection pools

    async def _receive_control(self, command: ControlCommand) -> ControlResult:
        """A command from another process (or this one) for a session this process runs or serves."""
        if command.kind == "release_attachment":
            self.release_attachment(command.session_id, str(command.args.get("reason") or "taken_over"))
            return ControlResult()
        if command.kind == "close":
            session = self.host.get(command.session_id)
            if session is None:
                return ControlResult(False, ErrorCodes.SESSION_NOT_FOUND, f"no live session {command.session_id!r}")
            await self._close_local(session, str(command.args.get("reason") or "closed"))
            return ControlResult()
        return await self.host.execute(command)

    # -- creating and attaching ---------------------------------------------------------------

    async def create(
        self,
        *,
        connection_id: str,
        deliver: Deliver,
        on_lost: Callable[[str, str], None],
        owner: str | None = None,
        quota_key: str | None = None,
        principal: Principal | None = None,
    ) -> Attachment:
        """A new session with a fresh agent, attached to ``connection_id``; ``agent.session_created`` follows."""
        session, token, attachment = await self._open(connection_id, deliver, on_lost, owner, quota_key, principal)
        await session.emit(
            AgentEvents.SESSION_CREATED,
            text("session_created", self.language),
            metadata={
                "resume_token": token,
                "agent_name": session.agent.name,
                "agent_description": session.agent.description,
                "grace_period": self.options.grace_period,
            },
        )
        logger.info("connection %s: created session %s (agent %s)", connection_id, session.id, session.agent.name)
        return attachment

    async def _open(
        self,
        connection_id: str,
        deliver: Deliver,
        on_lost: Callable[[str, str], None],
        owner: str | None,
        quota_key: str | None,
        principal: Principal | None,
    ) -> tuple[Session, str, Attachment]:
        """A new session attached to ``connection_id`` and live from its first event; and its resume token."""
        session, token = await self._new_session(
            owner=owner, connection_id=connection_id, quota_key=quota_key, principal=principal
        )
        attachment = await self._attach(session.id, connection_id, 0, deliver, on_lost)
        attachment.subscription.start()
        return session, token, attachment

    async def _new_session(
        self,
        *,
        owner: str | None,
        connection_id: str | None,
        quota_key: str | None = None,
        principal: Principal | None = None,
    ) -> tuple[Session, str]:
        await self.start()
        if self.shutting_down:
            raise ProtocolError(ErrorCodes.SERVER_SHUTTING_DOWN, "the server is shutting down")
        if await self.store.count() >= self.options.max_sessions:
            raise ProtocolError(ErrorCodes.SESSION_LIMIT, "session limit reached; close a session first")
        quota_key = quota_key or owner
        limit = self.options.max_sessions_per_client
        if quota_key is not None and await self.store.count(quota_key=quota_key) >= limit:
            raise ProtocolError(
                ErrorCodes.SESSION_LIMIT, f"you hold {limit} sessions already; close one first"
            ).with_detail("max_sessions_per_client", limit)
        session_id = str(uuid.uuid4())
        agent = await self._new_agent(SessionContext(session_id, principal))
        session = self._live_session(session_id, agent)
        token = secrets.token_urlsafe(24)
        lease = await self.leases.acquire(session.id, self.node_id, self.options.lease_ttl)
        if lease is None:
            raise ProtocolError(ErrorCodes.INTERNAL_ERROR, "could not take the new session's run lease")
        self.held[session.id] = lease
        self.host.sessions[session.id] = session
        record = SessionRecord(
            id=session.id,
            resume_token_hash=hash_token(token),
            node_id=self.node_id,
            owner=owner,
            connection_id=connection_id,
            attached_node=self.node_id if connection_id else None,
            status="attached" if connection_id else "detached",
            created_at=session.created_at,
            agent_name=agent.name,
            quota_key=quota_key,
        )
        await self.store.put(record)
        self.metrics.sessions_total += 1
        return session, token

    async def _new_agent(self, context: SessionContext) -> SessionAgent:
        """Call the factory (sync or async, with the session's context if it takes one); only an agent will do."""
        try:
            agent = self.agent_factory(context) if self._factory_takes_context else self.agent_factory()
            if inspect.isawaitable(agent):
                agent = await agent
        except Exception as exc:  # user code: report it, keep serving
            logger.exception("agent factory failed")
            raise ProtocolError(ErrorCodes.AGENT_FACTORY_FAILED, f"could not create the agent: {exc}") from exc
        if not isinstance(agent, SessionAgent):
            message = f"the agent factory returned {type(agent).__name__}, not an agent"
            raise ProtocolError(ErrorCodes.AGENT_FACTORY_FAILED, f"could not create the agent: {message}")
        return agent

    async def _attach(
        self,
        session_id: str,
        connection_id: str,
        after_seq: int | None,
        deliver: Deliver,
        on_lost: Callable[[str, str], None],
    ) -> Attachment:
        """Subscribe ``connection_id`` to the session's log (not started); any other attachment is closed."""
        record = await self.store.get(session_id)
        if record is not None and record.connection_id not in (None, connection_id):
            await self._release(record, reason="taken_over")
        subscription = await self.events.subscribe(session_id, after_seq, deliver)
        attachment = Attachment(session_id, connection_id, subscription, on_lost)
        self.attachments[session_id] = attachment
        self.sweeper.forget(session_id)
        await self.store.update(
            session_id, connection_id=connection_id, attached_node=self.node_id, status="attached", expires_at=None
        )
        return attachment

    async def _release(self, record: SessionRecord, *, reason: str) -> None:
        """Close the attachment ``record`` names, on whichever process serves it."""
        if record.attached_node == self.node_id or record.attached_node is None:
            self.release_attachment(record.id, reason)
            return
        with contextlib.suppress(NodeUnreachable):  # its connections are gone with it
            await self.control.send(
                record.attached_node, ControlCommand(record.id, "release_attachment", {"reason": reason})
            )

    def release_attachment(self, session_id: str, reason: str) -> None:
        attachment = self.attachments.pop(session_id, None)
        if attachment is not None:
            attachment.subscription.close()
            self.spawn(self.events.unsubscribe(attachment.subscription))
            attachment.on_lost(session_id, reason)

    async def detach(self, attachment: Attachment) -> None:
        """The connection went away: keep the session for the grace period."""
        await self.events.unsubscribe(attachment.subscription)
        if self.attachments.get(attachment.session_id) is not attachment:
            return  # taken over, or closed
        del self.attachments[attachment.session_id]
        deadline = time.time() + self.options.grace_period
        record = await self.store.update(
            attachment.session_id, connection_id=None, attached_node=None, status="detached", expires_at=deadline
        )
        if record is not None:
            self.sweeper.watch(attachment.session_id, deadline)

    async def resume(
        self,
        session_id: str,
        token: str,
        after_seq: int | None,
        *,
        connection_id: str,
        deliver: Deliver,
        on_lost: Callable[[str, str], None],
        owner: str | None = None,
    ) -> Attachment:
        """Re-attach a session by its resume token; the subscription replays every event after ``after_seq``.

        The token is used up: the attachment carries the session's next one.

        Raises:
            ProtocolError: unknown session (or another principal's), wrong token, or a position never sent.
        """
        await self.start()
        record = await self.store.get(session_id)
        if record is None or record.status == "closed" or record.owner != owner:
            raise ProtocolError(ErrorCodes.SESSION_NOT_FOUND, f"no live session {session_id!r}; it may have expired")
        current = token_matches(token, record.resume_token_hash)
        if not current and not token_matches(token, record.previous_token_hash):
            raise ProtocolError(ErrorCodes.INVALID_RESUME_TOKEN, "the resume token does not match this session")
        await self.check_sent(session_id, after_seq)
        attachment = await self.reattach(
            record, after_seq, connection_id=connection_id, deliver=deliver, on_lost=on_lost
        )
        # The token used stays valid until the client shows it got the new one (confirm_token).
        spent = record.resume_token_hash if current else record.previous_token_hash
        attachment.resume_token = await self._rotate_token(session_id, previous=spent)
        attachment.token_unconfirmed = True
        return attachment

    async def _rotate_token(self, session_id: str, *, previous: str | None = None) -> str:
        """A new resume token for the session; any other stops working, but ``previous`` (a hash)."""
        token = secrets.token_urlsafe(24)
        await self.store.update(session_id, resume_token_hash=hash_token(token), previous_token_hash=previous)
        return token

    async def confirm_token(self, attachment: Attachment) -> None:
        """The client got the token its resume handed out: the token it used stops working."""
        if attachment.token_unconfirmed:
            attachment.token_unconfirmed = False
            await self.store.update(attachment.session_id, previous_token_hash=None)

    async def reattach(
        self,
        record: SessionRecord,
        after_seq: int | None,
        *,
        connection_id: str,
        deliver: Deliver,
        on_lost: Callable[[str, str], None],
    ) -> Attachment:
        """Attach an existing session here and count the replay; pending confirmations are announced again."""
        attachment = await self._attach(record.id, connection_id, after_seq, deliver, on_lost)
        window = attachment.subscription.window
        self.metrics.replays_total += 1
        self.metrics.replayed_events_total += len(window.entries)
        if window.missing is not None:
            self.metrics.replay_gaps_total += 1
        replayed = [window.entries[0].seq, window.entries[-1].seq] if window.entries else None
        await self.on_owner(record.id, "announce_again", replayed=replayed)
        return attachment

    async def restore(
        self,
        state: dict[str, Any],
        position: Callable[[str, int], int | None],
        *,
        connection_id: str,
        deliver: Deliver,
        on_lost: Callable[[str, str], None],
        owner: str | None = None,
        quota_key: str | None = None,
        principal: Principal | None = None,
    ) -> tuple[Attachment, bool] | None:
        """Continue a verified signed state: take its session back if it still lives, else a new one.

        ``position(session_id, last_seq)`` is the client's position in that session, if it gave one.
        Returns the attachment and whether it re-attached a live session (its subscription then waits
        for the caller to announce the replay and start it), or ``None`` when the session was already
        attached to this connection. A live session attached to another connection is taken over
        (that connection is told with a ``session_taken_over`` notice).
        """
        await self.start()
        original_id = str(state["session_id"])
        record = await self.store.get(original_id)
        if record is not None and record.status != "closed" and record.owner == owner:
            live = await self._restore_live(
                record, position, connection_id=connection_id, deliver=deliver, on_lost=on_lost
            )
            return None if live is None else (live, True)
        session, token, attachment = await self._open(connection_id, deliver, on_lost, owner, quota_key, principal)
        result = self.state.restore_session_from_state(session, state)
        await session.emit(
            AgentEvents.STATE_RESTORED,
            text("session_restored", self.language),
            metadata={
                "original_session_id": original_id,
                "restored_step": result.restored_step,
                "message_count": result.message_count,
                "warnings": result.warnings,
                "resume_token": token,
                "agent_name": session.agent.name,
                "pending_calls": len(result.pending_calls),
                "reattached": False,
            },
        )
        logger.info("connection %s: restored session %s into %s", connection_id, original_id, session.id)
        if result.pending_calls:
            await self.on_owner(session.id, "resume_calls")
        return attachment, False

    async def _restore_live(
        self,
        record: SessionRecord,
        position: Callable[[str, int], int | None],
        *,
        connection_id: str,
        deliver: Deliver,
        on_lost: Callable[[str, str], None],
    ) -> Attachment | None:
        """The state's session still lives: take it back with replay (from another connection if need be)."""
        attachment = None
        if record.connection_id != connection_id:
            after = position(record.id, await self.events.last_seq(record.id))
            attachment = await self.reattach(
                record, after, connection_id=connection_id, deliver=deliver, on_lost=on_lost
            )
        # Only the token's hash is kept: the client gets a new token, and the old one stops working.
        token = await self._rotate_token(record.id)
        if attachment is not None:
            attachment.resume_token = token
        described = await self.on_owner(record.id, "describe")
        await self.append(
            record.id,
            Outgoing(
                AgentEvents.STATE_RESTORED,
                text("session_restored", self.language),
                {
                    "original_session_id": record.id,
                    "restored_step": described.data.get("current_step", 0),
                    "message_count": described.data.get("message_count", len(record.conversation)),
                    "warnings": [],
                    "resume_token": token,
                    "agent_name": record.agent_name,
                    "reattached": True,
                },
            ),
        )
        return attachment

    async def subscribe(self, session_id: str, after_seq: int = 0) -> AsyncIterator[dict[str, Any]]:
        """Every sequenced frame of a session after ``after_seq``, then live ones, until it ends.

        For transports of your own (an SSE endpoint, a test): a connection of this server uses
        :meth:`create`/:meth:`resume`, which attach the session as well. Ends after ``agent.session_end``.

        Raises:
            MyAgentError: the consumer fell ``outbound_queue_frames`` events behind, or a shared log
                trimmed events before it got them (after every event before the gap was yielded);
                subscribe again from the last seq it got.
        """
        queue: asyncio.Queue[LogEntry] = asyncio.Queue()
        limit = self.options.outbound_queue_frames
        behind: str | None = None

        def deliver(entry: LogEntry | Missed) -> None:
            nonlocal behind
            if behind is not None:
                return
            if isinstance(entry, Missed):
                behind = f"events {entry.first}..{entry.last} were trimmed before the subscriber got them"
            elif queue.qsize() >= limit:  # bounded like a connection's writer: the consumer resubscribes
                behind = f"subscriber fell more than {limit} events behind"
            else:
                queue.put_nowait(entry)

        subscription = await self.events.subscribe(session_id, after_seq, deliver)
        try:
            for entry in subscription.window.entries:
                yield _frozen(entry)
            subscription.start()
            while True:
                if behind is not None and queue.empty():
                    raise MyAgentError(f"{behind}; subscribe again from its seq")
                frame = _frozen(await queue.get())
                yield frame
                if frame.get("event") == AgentEvents.SESSION_END:
                    return
        finally:
            await self.events.unsubscribe(subscription)

    async def check_sent(self, session_id: str, seq: int | None) -> None:
        if seq is None:
            return
        last = await self.events.last_seq(session_id)
        if seq > last:
            raise ProtocolError(
                ErrorCodes.ACK_OUT_OF_RANGE, f"seq {seq} was never sent in session {session_id} (last is {last})"
            )

    async def busy(self, session_id: str) -> bool:
        session = self.host.get(session_id)
        return session is not None and session.busy

    # -- commands -----------------------------------------------------------------------------

    async def on_owner(self, session_id: str, kind: str, **args: Any) -> ControlResult:
        """Execute a command where the session's agent lives (here, or the lease holder's process)."""
        command = ControlCommand(session_id, kind, args)
        for _ in range(2):  # a second look after losing a takeover race to another node
            if session_id in self.host.sessions:
                return await self._receive_control(command)
            holder = await self.leases.holder(session_id)
            if holder is not None and holder != self.node_id:
                try:
                    return await self.control.send(holder, command)
                except NodeUnreachable:
                    logger.warning("session %s: node %s holds its lease but does not answer", session_id, holder)
            if not await self.takeover.now(session_id, holder):
                break
        if session_id in self.host.sessions:
            return await self._receive_control(command)
        return ControlResult(False, ErrorCodes.SESSION_NOT_FOUND, f"no live session {session_id!r}")

    async def command(self, session_id: str, kind: str, **args: Any) -> ControlResult:
        """Like :meth:`on_owner`, but a refusal with an error code raises it for the client."""
        result = await self.on_owner(session_id, kind, **args)
        if not result.ok and result.code is not None:
            raise ProtocolError(result.code, result.message)
        return result

    async def ack(self, session_id: str, seq: int) -> None:
        await self.check_sent(session_id, seq)
        await self.events.ack(session_id, seq)

    async def close(self, session_id: str, reason: str = "closed") -> None:
        """End a session wherever it runs; its attachment ends with ``agent.session_end``."""
        result = await self.on_owner(session_id, "close", reason=reason)
        if not result.ok:
            await self._forget(session_id)

    async def _close_local(self, session: Session, reason: str) -> None:
        await self.host.close(session, reason)
        await self._forget(session.id)

    async def _forget(self, session_id: str) -> None:
        """Drop every trace of a closed session: record, lease, attachment, log."""
        await self.store.delete(session_id)
        lease = self.held.pop(session_id, None)
        if lease is not None:
            await self.leases.release(lease)
        self.sweeper.forget(session_id)
        attachment = self.attachments.pop(session_id, None)
        if attachment is not None:
            attachment.subscription.close()
            attachment.on_lost(session_id, "closed")
        await self.events.drop(session_id)

    async def expire(self, record: SessionRecord) -> None:
        """The sweeper claimed ``record``: its grace period is over."""
        logger.info("session %s: expired after %.0f s without a connection", record.id, self.options.grace_period)
        session = self.host.get(record.id)
        if session is not None:
            await self._close_local(session, "expired")
            return
        await self.close(record.id, "expired")

    # -- events -------------------------------------------------------------------------------

    async def append(self, session_id: str, out: Outgoing) -> int:
        """Sequence one event in the session's log; returns its seq."""
        if (
            out.event == AgentEvents.PARTIAL_ANSWER
            and isinstance(out.content, str)
            and out.content
            and self.events.merge_delta(session_id, out.content, out.metadata or None)
        ):
            return 0  # merged into the delta still waiting to be sent: no frame to build
        frame = create_event(
            out.event, session_id=session_id, content=out.content, metadata=out.metadata, step_id=out.step_id
        )
        if out.event != AgentEvents.PARTIAL_ANSWER:
            show = render_show_content(out.event, out.content, out.metadata, self.language)
            if show is not None:
                frame["show_content"] = show
        lease = self.held.get(session_id)  # a shared log refuses a writer whose lease was taken since
        entry = await self.events.append(session_id, frame, fence=None if lease is None else lease.fence)
        # None: a text delta merged into an earlier entry, or (shared log) queued to be written;
        # nothing waits for a delta's seq, so none is looked up.
        return 0 if entry is None else entry.seq

    def _live_session(self, session_id: str, agent: SessionAgent) -> Session:
        # Progress is checkpointed during runs only where another process could go on with it.
        checkpoint = self._checkpoint if self.store.keeps_checkpoints else None
        return Session(session_id, agent, self.options, self.append, checkpoint)

    async def _checkpoint(self, session: Session, running: bool = False) -> None:
        """Keep the conversation, pending confirmations and plan context in the record.

        Called at the end of every run, and (``running``) after every message, tool result and
        confirmation of a run, so that another process can go on with a run whose process died. A
        store that keeps no checkpoints (the in-memory one, whose sessions live in this process)
        is left alone: a copy of every conversation would double each session's memory.
        """
        if not self.store.keeps_checkpoints:
            return
        async with session.checkpoint_lock:  # in order: a slower, older write never lands last
            if session.id not in self.host.sessions:
                return  # closed here, or its lease was lost: the record is no longer ours to write
            export = getattr(session.agent, "export_plan_context", None)
            plan_context = export() if callable(export) else None
            await self.store.update(
                session.id,
                conversation=[message.to_dict() for message in session.agent.snapshot_messages()],
                pending_confirmations=session.pending_summary(),
                plan_context=plan_context if isinstance(plan_context, dict) else None,
                running=running or session.busy,  # an ended run's last checkpoint, after the next began
                current_step=session.agent.current_step,
            )

    # -- failover -----------------------------------------------------------------------------

    async def adopt_orphans(self) -> None:
        """Take over the sessions of processes that stopped (each sweep; see :mod:`myagent.ws.failover`)."""
        await self.takeover.adopt_orphans()

    async def new_live_session(self, session_id: str, principal: Principal | None) -> Session:
        """A live session with a new agent for an existing session id (raises ``ProtocolError`` as creation does)."""
        agent = await self._new_agent(SessionContext(session_id, principal))
        return self._live_session(session_id, agent)

    async def renew_leases(self) -> None:
        # All at once: one by one, a busy node's pass over ~100 leases outlasted the leases themselves.
        held = list(self.held.items())
        results = await asyncio.gather(
            *(self.leases.renew(lease, self.options.lease_ttl) for _, lease in held), return_exceptions=True
        )
        for (session_id, lease), renewed in zip(held, results, strict=True):
            if self.held.get(session_id) is not lease:
                continue  # closed or handed over meanwhile
            if isinstance(renewed, BaseException):
                if not isinstance(renewed, Exception):
                    raise renewed
                logger.warning("session %s: renewing its run lease failed (%s); retrying", session_id, renewed)
                continue
            if renewed is not None:
                self.held[session_id] = renewed
                continue
            logger.error("session %s: lost its run lease; stopping it here", session_id)
            self.held.pop(session_id, None)
            session = self.host.sessions.pop(session_id, None)
            if session is not None:
                await session.close()

    # -- metrics and status -------------------------------------------------------------------

    def _note_usage(self, usage: Usage) -> None:
        self.metrics.prompt_tokens_total += usage.prompt_tokens
        self.metrics.completion_tokens_total += usage.completion_tokens

    def _note_run(self) -> None:
        self.metrics.runs_total += 1

    @property
    def active_runs(self) -> int:
        return self.host.active_runs

    @property
    def live_sessions(self) -> int:
        return len(self.host.sessions)

    def retained_events(self) -> int:
        events = self.events
        return events.retained() if isinstance(events, InMemoryEventLog) else 0
