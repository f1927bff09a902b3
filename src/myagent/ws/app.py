"""The Starlette application: WebSocket at ``/`` and ``/ws``, the web console at ``/ui/``, health, readiness
and metrics over HTTP, and the AG-UI endpoint at ``POST /agui``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from myagent._version import __version__
from myagent.agui import AGUIEndpoint
from myagent.ui import ConsoleFiles
from myagent.ws.connection import Connection
from myagent.ws.hub import AgentFactory, Hub
from myagent.ws.options import ServerOptions

__all__ = ["create_app"]


def create_app(
    agent_factory_func: AgentFactory,
    *,
    state_secret_key: str | None = None,
    options: ServerOptions | None = None,
    hub: Hub | None = None,
    **kwargs: Any,
) -> Starlette:
    """A Starlette app serving ``agent_factory_func`` agents; mount it in an existing app if you like.

    Args:
        agent_factory_func: returns a new agent for each session (sync or async).
        state_secret_key: signs client-held session state (default ``MYAGENT_STATE_SECRET``, else random).
        options: server options; or pass them as keyword arguments.
        hub: an existing hub (used by ``AgentWebSocketServer``).

    Raises:
        TypeError: an unknown option.
    """
    if hub is None:
        hub = Hub(agent_factory_func, options or ServerOptions.from_kwargs(kwargs), state_secret_key=state_secret_key)

    async def websocket_endpoint(websocket: WebSocket) -> None:
        await Connection(websocket, hub).serve()

    async def index(request: Request) -> Response:
        # Plain HTTP on "/" (a browser) goes to the console; WebSocket upgrades on "/" never get here.
        return RedirectResponse(request.url_for("ui", path="/").path, status_code=307)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(request: Request) -> Response:
        ready = not hub.shutting_down
        return JSONResponse({"ready": ready, **hub.status()}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        gauges = {
            "connections": lambda: len(hub.connections),
            "sessions": lambda: _by_agent(hub.store),
            "active_runs": lambda: _by_agent(s for s in hub.store if s.busy),
            "pending_confirmations": lambda: sum(len(s.confirmations.pending) for s in hub.store),
            "outbound_queue_depth": lambda: sum(c.outbound.depth for c in hub.connections),
            "outbound_bytes_queued": lambda: sum(c.outbound.queued_bytes for c in hub.connections),
            "retained_events": lambda: sum(s.log.retained for s in hub.store),
        }
        return PlainTextResponse(hub.metrics.render(gauges), media_type="text/plain; version=0.0.4")

    agui = AGUIEndpoint(hub.agent_factory, confirm_timeout=hub.options.confirm_timeout)
    app = Starlette(
        routes=[
            WebSocketRoute("/", websocket_endpoint),
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/", index),
            Mount("/ui", app=GZipMiddleware(ConsoleFiles(), minimum_size=1024), name="ui"),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/agui", agui.handle, methods=["POST"]),
        ]
    )
    app.state.hub = hub
    app.state.agui = agui
    return app


def _by_agent(sessions: Iterable[Any]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for session in sessions:
        counts[session.agent.name] = counts.get(session.agent.name, 0) + 1
    return counts
