"""Errors of the MCP integration (both are :class:`~myagent.errors.ToolError`)."""

from __future__ import annotations

from myagent.errors import ToolError

__all__ = ["MCPConnectionError", "MCPSessionLost"]


class MCPConnectionError(ToolError):
    """The MCP server could not be started, reached, or did not finish the handshake."""


class MCPSessionLost(MCPConnectionError):
    """The connection ended while a request was in flight (e.g. the server process exited)."""
