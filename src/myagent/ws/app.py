"""The Starlette application: WebSocket at ``/`` and ``/ws``, the web console at ``/ui/``, health, readiness
and metrics over HTTP, and the AG-UI endpoint at ``POST /agui``."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from myagent._version import __version__
from myagent.agui import AGUIEndpoint
from myagent.auth.authenticator import Authenticator
from myagent.auth.gate import HandshakeGate
from myagent.auth.origin import DEFAULT_ALLOWED_ORIGINS, OriginPolicy
from myagent.errors import ConfigError
from myagent.ui import ConsoleFiles
from myagent.ws.connection import Connection, Guards
from myagent.ws.control import ControlBus
from myagent.ws.event_log import EventLog
from myagent.ws.lease import LeaseManager
from myagent.ws.limits import FailureThrottle
from myagent.ws.metrics import GaugeReader
from myagent.ws.options import ServerOptions
from myagent.ws.service import AgentFactory, SessionService
from myagent.ws.state_manager import StateManager, resolve_secret_key
from myagent.ws.store import SessionStore

if TYPE_CHECKING:
    from myagent.ws.redis import RedisBackends

__all__ = ["Gateway", "build_service", "create_app"]


def build_service(
    agent_factory: AgentFactory,
    options: ServerOptions,
    *,
    state_secret_key: str | None = None,
    store: SessionStore | None = None,
    event_log: EventLog | None = None,
    control: ControlBus | None = None,
    leases: LeaseManager | None = None,
    node_id: str | None = None,
    redis_url: str | None = None,
) -> SessionService:
    """A :class:`SessionService` with the state manager the options describe (and Redis seams for ``redis_url``)."""
    state = StateManager(
        resolve_secret_key(state_secret_key),
        previous_keys=options.state_previous_keys,
        max_age=options.state_max_age,
        max_state_bytes=options.state_max_bytes,
        max_messages=options.state_max_messages,
        encrypt=options.state_encrypt,
    )
    redis = _connect_redis(redis_url, options) if redis_url else None
    if redis is not None:
        store, event_log = store or redis.store, event_log or redis.event_log
        control, leases = control or redis.control, leases or redis.leases
    service = SessionService(
        agent_factory,
        options,
        state=state,
        store=store,
        event_log=event_log,
        control=control,
        leases=leases,
        node_id=node_id,
    )
    if redis is not None:
        service.closers.append(redis.aclose)
    return service


def _connect_redis(url: str, options: ServerOptions) -> RedisBackends:
    try:
        from myagent.ws.redis import connect_redis_backends
    except ImportError as exc:
        raise ConfigError("a Redis URL needs the redis extra: pip install 'myagent[redis]'") from exc
    return connect_redis_backends(url, max_events=options.retention_events)


class Gateway:
    """The WebSocket transport of one service: its live connections and their shutdown."""

    def __init__(self, service: SessionService, *, authenticator: Authenticator | None = None) -> None:
        options = service.options
        self.service = service
        self.connections: set[Connection] = set()
        self.started_at = time.time()
        self.guards = Guards(
            authenticator=authenticator,
            failures=FailureThrottle(free_failures=options.failed_attempts_free, window=options.failed_attempts_window),
        )

    async def serve(self, websocket: WebSocket) -> None:
        await Connection(websocket, self.service, self.connections, self.guards).serve()

    def guard(self, app: ASGIApp) -> HandshakeGate:
        """``app`` behind the checks made before the upgrade: Origin, credentials, connections per client."""
        options = self.service.options
        origins = options.allowed_origins
        policy = (
            None if origins == ("*",) else OriginPolicy(origins if origins is not None else DEFAULT_ALLOWED_ORIGINS)
        )
        return HandshakeGate(
            app,
            origins=policy,
            authenticator=self.guards.authenticator,
            max_connections_per_principal=options.max_connections_per_client,
        )

    async def shutdown(self) -> None:
        """Close every session (``agent.session_end`` reaches attached clients), then every connection (1001)."""
        await self.service.shutdown()
        for connection in list(self.connections):
            await connection.close_going_away()

    def status(self) -> dict[str, Any]:
        return {
            "connections": len(self.connections),
            "sessions": self.service.live_sessions,
            "active_runs": self.service.active_runs,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "shutting_down": self.service.shutting_down,
        }


def create_app(
    agent_factory_func: AgentFactory,
    *,
    state_secret_key: str | None = None,
    options: ServerOptions | None = None,
    service: SessionService | None = None,
    store: SessionStore | None = None,
    event_log: EventLog | None = None,
    control: ControlBus | None = None,
    leases: LeaseManager | None = None,
    node_id: str | None = None,
    authenticate: Authenticator | None = None,
    redis_url: str | None = None,
    **kwargs: Any,
) -> Starlette:
    """A Starlette app serving ``agent_factory_func`` agents; mount it in an existing app if you like.

    Args:
        agent_factory_func: returns a new agent for each session (sync or async).
        state_secret_key: signs client-held session state (default ``MYAGENT_STATE_SECRET``, else random).
        options: server options; or pass them as keyword arguments.
        service: an existing service (used by ``AgentWebSocketServer``).
        store, event_log, control, leases: storage seams shared with other processes (in-memory by default).
        node_id: this process's name among several.
        authenticate: checks credentials (sync or async; see docs/security.md); ``None``: off.
        redis_url: keep sessions in this Redis so that other processes on it can serve them.

    Raises:
        TypeError: an unknown option.
    """
    if service is None:
        service = build_service(
            agent_factory_func,
            options or ServerOptions.from_kwargs(kwargs),
            state_secret_key=state_secret_key,
            store=store,
            event_log=event_log,
            control=control,
            leases=leases,
            node_id=node_id,
            redis_url=redis_url,
        )
    gateway = Gateway(service, authenticator=authenticate)
    _install_client_mistake_filter()

    async def index(request: Request) -> Response:
        # Plain HTTP on "/" (a browser) goes to the console; WebSocket upgrades on "/" never get here.
        return RedirectResponse(request.url_for("ui", path="/").path, status_code=307)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(request: Request) -> Response:
        ready = not service.shutting_down
        return JSONResponse({"ready": ready, **gateway.status()}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        gauges: dict[str, GaugeReader] = {
            "connections": lambda: len(gateway.connections),
            "sessions": lambda: _by_agent(service.host.sessions.values()),
            "active_runs": lambda: _by_agent(s for s in service.host.sessions.values() if s.busy),
            "pending_confirmations": lambda: sum(len(s.confirmations.pending) for s in service.host.sessions.values()),
            "outbound_queue_depth": lambda: sum(c.outbound.depth for c in gateway.connections),
            "outbound_bytes_queued": lambda: sum(c.outbound.queued_bytes for c in gateway.connections),
            "retained_events": service.retained_events,
        }
        return PlainTextResponse(service.metrics.render(gauges), media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        yield
        await gateway.shutdown()

    agui = AGUIEndpoint(service.agent_factory, confirm_timeout=service.options.confirm_timeout)
    app = Starlette(
        middleware=[Middleware(_Guarded, gateway=gateway)],
        routes=[
            WebSocketRoute("/", gateway.serve),
            WebSocketRoute("/ws", gateway.serve),
            Route("/", index),
            Mount("/ui", app=GZipMiddleware(ConsoleFiles(), minimum_size=1024), name="ui"),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/agui", agui.handle, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.gateway = gateway
    app.state.agui = agui
    return app


class ClientMistakeLogFilter(logging.Filter):
    """A client's mistake that the transport already answered is one INFO line, never an ERROR traceback.

    uvicorn closes a connection that sends invalid UTF-8 with 1007, as it should, and logs the
    decoding error with its traceback: one hostile client could flood the log that way.
    """

    MISTAKES = frozenset({"Invalid UTF-8 sequence received from client."})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() in self.MISTAKES:
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _install_client_mistake_filter() -> None:
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientMistakeLogFilter) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(ClientMistakeLogFilter())


class _Guarded:
    """Starlette middleware form of :meth:`Gateway.guard` (WebSocket handshakes only)."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self._gate = gateway.guard(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._gate(scope, receive, send)


def _by_agent(sessions: Iterable[Any]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for session in sessions:
        counts[session.agent.name] = counts.get(session.agent.name, 0) + 1
    return counts
