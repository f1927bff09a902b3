"""The Starlette application: WebSocket at ``/`` and ``/ws``, health, readiness and metrics over HTTP."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from myagent._version import __version__
from myagent.ws.connection import Connection
from myagent.ws.hub import AgentFactory, Hub
from myagent.ws.options import ServerOptions

__all__ = ["create_app"]

_INDEX = """<!doctype html><meta charset="utf-8"><title>myagent</title>
<h1>myagent {version}</h1>
<p>This is a MyAgent WebSocket server. Connect a WebSocket client to <code>ws://HOST:PORT/</code> (or
<code>/ws</code>). Health: <a href="/healthz">/healthz</a>, metrics: <a href="/metrics">/metrics</a>.</p>
"""


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
        return HTMLResponse(_INDEX.format(version=__version__))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(request: Request) -> Response:
        ready = not hub.shutting_down
        return JSONResponse({"ready": ready, **hub.status()}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        gauges = {
            "connections": lambda: len(hub.connections),
            "sessions": lambda: len(hub.store),
            "active_runs": lambda: hub.active_runs,
            "outbound_queue_depth": lambda: sum(c.outbound.depth for c in hub.connections),
            "retained_events": lambda: sum(s.log.retained for s in hub.store),
        }
        return PlainTextResponse(hub.metrics.render(gauges), media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            WebSocketRoute("/", websocket_endpoint),
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/", index),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
    app.state.hub = hub
    return app
