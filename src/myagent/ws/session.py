"""A session: one agent, its event log, its run, its confirmations, and the connection it is attached to."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest
from myagent.agent.session_agent import SessionAgent
from myagent.protocol.envelope import create_event
from myagent.protocol.names import AgentEvents, SystemEvents
from myagent.protocol.show_content import render_show_content
from myagent.tool.lifecycle import close_agent
from myagent.ws.confirmations import ConfirmationBook, PendingConfirmation
from myagent.ws.event_log import InMemoryEventLog, LogEntry, ReplayWindow, encode_frame
from myagent.ws.options import ServerOptions

__all__ = ["Session", "Sink"]

logger = logging.getLogger(__name__)

_CLOSE_WAIT = 10.0


class Sink(Protocol):
    """Where a session's events go while it is attached (a connection)."""

    id: str

    def push(self, item: LogEntry | str) -> bool: ...

    def push_replay(self, entries: list[LogEntry]) -> None: ...


class Session:
    """State that outlives a connection for ``options.grace_period``."""

    def __init__(self, agent: SessionAgent, options: ServerOptions, *, session_id: str | None = None) -> None:
        self.id = session_id or str(uuid.uuid4())
        self.resume_token = secrets.token_urlsafe(24)
        self.agent = agent
        self.options = options
        self.log = InMemoryEventLog(self.id, max_events=options.retention_events, max_bytes=options.retention_bytes)
        self.confirmations = ConfirmationBook(options.confirm_timeout)
        self.sink: Sink | None = None
        self.run_task: asyncio.Task[None] | None = None
        self.created_at = time.time()
        self.detached_at: float | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def busy(self) -> bool:
        return self.run_task is not None and not self.run_task.done()

    # -- events -------------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        content: Any = None,
        *,
        metadata: dict[str, Any] | None = None,
        step_id: str | None = None,
    ) -> int:
        """Sequence an event, retain it, and send it if a connection is attached; returns its seq."""
        frame = create_event(event, session_id=self.id, content=content, metadata=metadata, step_id=step_id)
        if event != AgentEvents.PARTIAL_ANSWER:
            show = render_show_content(event, content, metadata, self.options.language)
            if show is not None:
                frame["show_content"] = show
        entry = self.log.append(frame)
        if entry is not None and self.sink is not None:
            self.sink.push(entry)
        return self.log.last_seq

    # -- attachment ---------------------------------------------------------------------------

    def attach(
        self, sink: Sink, after_seq: int | None, *, before_replay: Callable[[ReplayWindow], None] | None = None
    ) -> ReplayWindow:
        """Attach ``sink`` and queue, in order, every retained event after ``after_seq``.

        ``before_replay`` may queue frames (a gap error, a notice) ahead of the replay. Pending
        confirmations the replay does not carry (already seen, or lost in a gap) are announced again
        afterwards.
        """
        self.cancel_expiry()
        self.sink = sink
        self.detached_at = None
        position = self.log.acked_seq if after_seq is None else after_seq
        window = self.log.after(position)
        if before_replay is not None:
            before_replay(window)
        sink.push_replay(window.entries)
        # Announce again every pending request the replay does not carry: the client saw it already
        # (seq <= position) or it fell out of the retention window (inside ``window.missing``).
        replayed = {entry.seq for entry in window.entries}
        for pending in list(self.confirmations.pending.values()):
            if pending.seq not in replayed:
                pending.seq = self._announce(pending, resent=True)
        return window

    def detach(self, sink: Sink) -> bool:
        """Forget ``sink`` if it is the attached one; the caller schedules expiry."""
        if self.sink is not sink:
            return False
        self.sink = None
        self.detached_at = time.monotonic()
        return True

    def cancel_expiry(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None

    # -- runs and confirmations ---------------------------------------------------------------

    def start_run(self, work: Coroutine[Any, Any, None]) -> None:
        self.run_task = asyncio.create_task(work, name=f"run-{self.id}")

    def cancel_run(self, reason: str) -> bool:
        if not self.busy:
            return False
        assert self.run_task is not None
        self.run_task.cancel(reason)
        return True

    async def confirm(self, request: ConfirmationRequest) -> ConfirmationDecision:
        """The agent's confirmation callback: ask the client and wait (expiry counts as refusal)."""
        return await self.confirmations.ask(request, self._announce, self._withdraw)

    def _withdraw(self, pending: PendingConfirmation) -> None:
        if self.sink is None:
            return  # a resuming client is only re-sent the requests still pending
        text = "确认请求已撤回" if self.options.language == "zh" else "Confirmation request withdrawn"
        metadata = {"action": "confirmation_withdrawn", "ok": True, "step_id": pending.step_id}
        frame = create_event(SystemEvents.NOTICE, session_id=self.id, content=text, metadata=metadata)
        self.sink.push(encode_frame(frame))

    def _announce(self, pending: PendingConfirmation, *, resent: bool = False) -> int:
        request = pending.request
        metadata: dict[str, Any] = {
            "tool_name": request.tool_name,
            "tool_description": request.tool_description,
            "tool_args": request.arguments,
            "requires_confirmation": True,
            "call_id": request.call_id,
            "scope": request.extra.get("scope", "tool"),
            "expires_at": pending.expires_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "timeout_seconds": request.timeout if request.timeout is not None else self.confirmations.timeout,
            **{k: v for k, v in request.extra.items() if k != "scope"},
        }
        if resent:
            metadata["resent"] = True
        zh = self.options.language == "zh"
        if metadata["scope"] == "plan":
            text = "请确认计划后开始执行" if zh else "Confirm the plan before solving"
        else:
            text = f"确认执行工具: {request.tool_name}" if zh else f"Confirm running tool: {request.tool_name}"
        return self.emit(AgentEvents.USER_CONFIRM, text, metadata=metadata, step_id=pending.step_id)

    async def close(self) -> None:
        """Cancel the run and wait for it to finish unwinding."""
        self.closed = True
        self.cancel_expiry()
        task = self.run_task
        if task is not None and not task.done():
            task.cancel("session_closed")
            # A tool that swallows cancellation must not hang shutdown or expiry forever.
            done, _ = await asyncio.wait({task}, timeout=_CLOSE_WAIT)
            if not done:
                logger.warning("session %s: run did not stop within %.0f s of being cancelled", self.id, _CLOSE_WAIT)
        await close_agent(self.agent)  # per-session tool resources (e.g. an MCP server process)
