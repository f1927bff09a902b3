"""The WebSocket server: sessions, reliable delivery, confirmations, cancellation."""

from __future__ import annotations

__all__ = ["AgentWebSocketServer", "ServerOptions", "create_app"]


def __getattr__(name: str) -> object:
    # Keep `import myagent.ws.events` light: the server stack loads on first use.
    if name == "AgentWebSocketServer":
        from myagent.ws.server import AgentWebSocketServer

        return AgentWebSocketServer
    if name == "create_app":
        from myagent.ws.app import create_app

        return create_app
    if name == "ServerOptions":
        from myagent.ws.options import ServerOptions

        return ServerOptions
    raise AttributeError(name)
