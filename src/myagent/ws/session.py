"""The live part of a session, in the process that runs it: its agent, run task and confirmations.

Everything the session says goes through ``append`` into the session's event log; connections
read the log, never the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest
from myagent.agent.session_agent import SessionAgent
from myagent.protocol.names import AgentEvents
from myagent.protocol.rules import RUN_CLOSING_EVENTS
from myagent.protocol.texts import text
from myagent.tool.lifecycle import close_agent
from myagent.ws.confirmations import ConfirmationBook, PendingConfirmation
from myagent.ws.options import ServerOptions
from myagent.ws.translate import Outgoing

__all__ = ["Append", "Checkpoint", "Session"]

logger = logging.getLogger(__name__)

_CLOSE_WAIT = 10.0

#: Sequences one event of a session in its log; returns its seq.
Append = Callable[[str, Outgoing], Awaitable[int]]

#: Keeps a session's progress where another process can go on with it (``True``: a run is under way).
Checkpoint = Callable[["Session", bool], Awaitable[None]]


class Session:
    """An agent with its run and pending confirmations; lives as long as the session is open here."""

    def __init__(
        self,
        session_id: str,
        agent: SessionAgent,
        options: ServerOptions,
        append: Append,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.id = session_id
        self.agent = agent
        self.options = options
        self.language = options.language
        self.confirmations = ConfirmationBook(options.confirm_timeout)
        self.run_task: asyncio.Task[None] | None = None
        self.run_closed = False  # the run said its closing event (its task may still be finishing)
        self.created_at = time.time()
        self.closed = False
        self._append = append
        self._checkpoint = checkpoint
        self.checkpoint_lock = asyncio.Lock()  # one checkpoint at a time, each of the latest progress

    @property
    def busy(self) -> bool:
        """A run is under way: from its start until its closing event is in the log.

        Idle as soon as the client can have seen the closing event, so a message sent right after
        it starts the next run (the ended run's task may still be saving its checkpoint).
        """
        return self.run_task is not None and not self.run_task.done() and not self.run_closed

    async def emit(
        self, event: str, content: Any = None, *, metadata: dict[str, Any] | None = None, step_id: str | None = None
    ) -> int:
        """Append one event to the session's log; returns its seq."""
        seq = await self._append(self.id, Outgoing(event, content, metadata, step_id))
        if event in RUN_CLOSING_EVENTS:
            self.run_closed = True
        return seq

    async def save_progress(self) -> None:
        """A run made progress (a message, a tool result, a confirmation asked or answered): checkpoint it."""
        if self._checkpoint is not None:
            await self._checkpoint(self, True)

    # -- confirmations ------------------------------------------------------------------------

    async def confirm(self, request: ConfirmationRequest) -> ConfirmationDecision:
        """The agent's confirmation callback: ask the client and wait (expiry counts as refusal)."""
        decision = await self.confirmations.ask(request, self._announce, self._withdraw)
        await self.save_progress()  # no longer waiting: a call that now runs is not asked again elsewhere
        return decision

    async def _withdraw(self, pending: PendingConfirmation) -> None:
        await self.emit(
            AgentEvents.CONFIRMATION_WITHDRAWN,
            text("confirmation_withdrawn", self.language),
            metadata={"step_id": pending.step_id},
            step_id=pending.step_id,
        )

    async def _announce(self, pending: PendingConfirmation, *, resent: bool = False) -> int:
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
        if metadata["scope"] == "plan":
            content = text("confirm_plan", self.language)
        else:
            content = text("confirm_tool", self.language, name=request.tool_name)
        seq = await self.emit(AgentEvents.USER_CONFIRM, content, metadata=metadata, step_id=pending.step_id)
        if not resent:
            pending.seq = seq
            await self.save_progress()  # waiting: another process asks again rather than call it interrupted
        return seq

    async def announce_again(self, replayed: tuple[int, int] | None) -> None:
        """After a resume: announce every pending request the replay (``(first, last)`` seq) did not carry.

        The client saw it already (before its position), or it fell out of the retention window.
        """
        for pending in list(self.confirmations.pending.values()):
            if replayed is None or not replayed[0] <= pending.seq <= replayed[1]:
                pending.seq = await self._announce(pending, resent=True)

    def pending_summary(self) -> list[dict[str, Any]]:
        return [
            {"step_id": p.step_id, "call_id": p.request.call_id, "tool_name": p.request.tool_name, "seq": p.seq}
            for p in self.confirmations.pending.values()
        ]

    # -- runs ---------------------------------------------------------------------------------

    def cancel_run(self, reason: str) -> bool:
        if not self.busy:
            return False
        assert self.run_task is not None
        self.run_task.cancel(reason)
        return True

    async def close(self) -> None:
        """Cancel the run and wait for it to finish unwinding."""
        self.closed = True
        task = self.run_task
        if task is not None and not task.done():
            task.cancel("session_closed")
            # A tool that swallows cancellation must not hang shutdown or expiry forever.
            done, _ = await asyncio.wait({task}, timeout=_CLOSE_WAIT)
            if not done:
                logger.warning("session %s: run did not stop within %.0f s of being cancelled", self.id, _CLOSE_WAIT)
        await close_agent(self.agent)  # per-session tool resources (e.g. an MCP server process)
