"""The server's shared state: options, agent factory, live sessions and connections, metrics."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from myagent.agent.session_agent import SessionAgent
from myagent.errors import ConfigError
from myagent.llm.base import Usage
from myagent.llm.http_pool import close_shared_clients
from myagent.protocol.names import AgentEvents
from myagent.ws.metrics import Metrics
from myagent.ws.options import ServerOptions
from myagent.ws.run_bridge import AnyRunEvent, start_run
from myagent.ws.session import Session, Sink
from myagent.ws.state_manager import StateManager, resolve_secret_key
from myagent.ws.store import InMemorySessionStore, SessionStore

__all__ = ["AgentFactory", "Hub"]

logger = logging.getLogger(__name__)

AgentFactory = Callable[[], Any]


class Hub:
    """Owns every session and every background task of the server."""

    def __init__(
        self,
        agent_factory: AgentFactory,
        options: ServerOptions,
        *,
        state_secret_key: str | None = None,
        store: SessionStore | None = None,
    ) -> None:
        if not callable(agent_factory):
            raise ConfigError("agent_factory_func must be callable and return a new agent")
        self.agent_factory = agent_factory
        self.options = options
        self.store = store or InMemorySessionStore()
        self.state = StateManager(
            resolve_secret_key(state_secret_key),
            previous_keys=options.state_previous_keys,
            max_age=options.state_max_age,
            max_state_bytes=options.state_max_bytes,
            max_messages=options.state_max_messages,
            encrypt=options.state_encrypt,
        )
        self.metrics = Metrics()
        self.connections: set[Any] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.started_at = time.time()
        self.shutting_down = False

    # -- sessions -----------------------------------------------------------------------------

    async def new_agent(self) -> SessionAgent:
        """Call the factory (sync or async); anything but an agent is an error."""
        agent = self.agent_factory()
        if inspect.isawaitable(agent):
            agent = await agent
        if not isinstance(agent, SessionAgent):
            raise ConfigError(f"the agent factory returned {type(agent).__name__}, not an agent")
        return agent

    def add_session(self, session: Session) -> None:
        self.store.add(session)
        self.metrics.sessions_total += 1

    def find(self, session_id: str) -> Session | None:
        return self.store.get(session_id)

    def detach(self, session: Session, sink: Sink) -> None:
        """The connection went away: keep the session for the grace period."""
        if not session.detach(sink) or session.closed:
            return
        loop = asyncio.get_running_loop()
        session.expiry = loop.call_later(self.options.grace_period, self._expire, session)

    def _expire(self, session: Session) -> None:
        session.expiry = None
        if session.sink is None and not session.closed:
            self.store.remove(session.id)  # now, so that no reconnect can attach it while it closes
            logger.info("session %s: expired after %.0f s without a connection", session.id, self.options.grace_period)
            self.spawn(self.close_session(session, "expired"))

    async def close_session(self, session: Session, reason: str) -> None:
        """End a session: cancel its run, tell the client if attached, free everything."""
        if session.closed:
            return
        await session.close()
        text = "会话已结束" if self.options.language == "zh" else "Session ended"
        session.emit(AgentEvents.SESSION_END, text, metadata={"reason": reason})
        session.sink = None
        self.store.remove(session.id)

    def start_run(self, session: Session, work: str | AsyncIterator[AnyRunEvent]) -> None:
        """Start a run in ``session`` (the caller checked it is idle)."""
        self.metrics.runs_total += 1
        start_run(session, work, on_usage=self.note_usage)

    def note_usage(self, usage: Usage) -> None:
        self.metrics.prompt_tokens_total += usage.prompt_tokens
        self.metrics.completion_tokens_total += usage.completion_tokens

    # -- tasks --------------------------------------------------------------------------------

    def spawn(self, work: Any) -> asyncio.Task[Any]:
        """Start a background task the hub owns (cancelled on shutdown)."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    @property
    def active_runs(self) -> int:
        return sum(1 for session in self.store if session.busy)

    async def shutdown(self) -> None:
        """Stop accepting work, close every session, then every connection (1001).

        Sessions first: their runs end with ``agent.interrupted`` (and ``agent.session_end``) while
        the client is still attached, and each connection then flushes those frames before it closes.
        """
        self.shutting_down = True
        for session in self.store:
            await self.close_session(session, "shutdown")
        for connection in list(self.connections):
            await connection.close_going_away()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await close_shared_clients()  # the model endpoints' pooled connections (myagent.llm.http_pool)

    def status(self) -> dict[str, Any]:
        return {
            "connections": len(self.connections),
            "sessions": len(self.store),
            "active_runs": self.active_runs,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "shutting_down": self.shutting_down,
        }
