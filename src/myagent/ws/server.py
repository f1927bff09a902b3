"""``AgentWebSocketServer``: the app on uvicorn, with graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from myagent.auth.authenticator import Authenticator
from myagent.ws.app import Gateway, build_service, create_app
from myagent.ws.control import ControlBus
from myagent.ws.event_log import EventLog
from myagent.ws.lease import LeaseManager
from myagent.ws.options import ServerOptions
from myagent.ws.service import AgentFactory, SessionService
from myagent.ws.store import SessionStore

__all__ = ["AgentWebSocketServer"]

logger = logging.getLogger(__name__)


class _Uvicorn(uvicorn.Server):
    """uvicorn that closes our connections first (1001) and exits quietly on SIGINT/SIGTERM."""

    def __init__(self, config: uvicorn.Config, gateway: Gateway, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self.gateway = gateway
        self.on_started = on_started

    async def startup(self, sockets: Any = None) -> None:
        await self.gateway.service.start()
        await super().startup(sockets)
        if self.started:
            self.on_started()

    async def shutdown(self, sockets: Any = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting first (uvicorn's shutdown closes them again: harmless)
        await self.gateway.shutdown()
        # Let our connections flush their last frames and close with 1001 before uvicorn's own
        # shutdown, which would close every still-open WebSocket with 1012 instead.
        pending = set(self.server_state.tasks)
        if pending:
            await asyncio.wait(pending, timeout=self.config.timeout_graceful_shutdown)
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Unlike uvicorn's default, do not re-raise the signal afterwards: a graceful stop exits 0.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class AgentWebSocketServer:
    """Serve agents from ``agent_factory_func`` (a fresh agent per session) over WebSocket.

    Args:
        agent_factory_func: returns a new agent for each session (sync or async).
        host: interface to bind.
        port: TCP port (0 picks a free one; see :attr:`port` after start).
        state_secret_key: key that signs client-held session state; from ``MYAGENT_STATE_SECRET``
            when omitted, else random (states then do not survive a restart, and a warning says so).
        store, event_log, control, leases: storage seams shared with other processes (in-memory by
            default; see docs/server.md).
        node_id: this process's name among several (random when omitted).
        authenticate: checks each client's credentials (``myagent.auth``; see docs/security.md); off
            when omitted, as the guide's clients expect.
        redis_url: keep sessions in this Redis (seams not passed explicitly), so that other
            processes on it can serve them (see docs/deploy.md).
        **options: any :class:`~myagent.ws.options.ServerOptions` field.

    Raises:
        TypeError: an unknown option.
    """

    def __init__(
        self,
        agent_factory_func: AgentFactory,
        host: str = "localhost",
        port: int = 8080,
        state_secret_key: str | None = None,
        *,
        store: SessionStore | None = None,
        event_log: EventLog | None = None,
        control: ControlBus | None = None,
        leases: LeaseManager | None = None,
        node_id: str | None = None,
        authenticate: Authenticator | None = None,
        redis_url: str | None = None,
        **options: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.options = ServerOptions.from_kwargs(options)
        self.service: SessionService = build_service(
            agent_factory_func,
            self.options,
            state_secret_key=state_secret_key,
            store=store,
            event_log=event_log,
            control=control,
            leases=leases,
            node_id=node_id,
            redis_url=redis_url,
        )
        self.app = create_app(agent_factory_func, service=self.service, authenticate=authenticate)
        self.gateway: Gateway = self.app.state.gateway
        self._server: _Uvicorn | None = None
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()

    def _config(self, log_level: str | None) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            ws="websockets-sansio",
            ws_max_size=self.options.max_message_bytes,  # the transport refuses what the protocol would
            ws_ping_interval=self.options.ping_interval,
            ws_ping_timeout=self.options.ping_timeout,
            ws_per_message_deflate=False,
            lifespan="off",
            log_level=log_level,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )

    async def start_server(self, *, log_level: str | None = None) -> None:
        """Serve until shut down (SIGINT/SIGTERM or :meth:`shutdown`)."""
        self._server = _Uvicorn(self._config(log_level), self.gateway, self._note_started)
        self._stopped.clear()
        try:
            await self._server.serve()
        finally:
            self._stopped.set()

    def _note_started(self) -> None:
        if self._server is not None and self._server.servers:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
        logger.info("myagent server listening on ws://%s:%d", self.host, self.port)
        self._started.set()

    async def wait_started(self) -> None:
        """Return once the server accepts connections (:attr:`port` is then the bound port)."""
        await self._started.wait()

    async def shutdown(self) -> None:
        """Stop accepting, tell clients (close code 1001), cancel runs, and return when stopped."""
        if self._server is not None:
            self._server.should_exit = True
            await self._stopped.wait()
        else:
            await self.gateway.shutdown()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def get_status(self) -> dict[str, Any]:
        return {
            "running": bool(self._server and self._server.started and not self._server.should_exit),
            "host": self.host,
            "port": self.port,
            **self.gateway.status(),
        }
