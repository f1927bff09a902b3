"""``MCPTool``: one tool of an MCP server, callable like any other myagent tool."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

import mcp_types

from myagent.tool.base import BaseTool
from myagent.tool.mcp.results import to_tool_result
from myagent.tool.result import ToolResult

if TYPE_CHECKING:
    from myagent.tool.mcp.connection import MCPConnection

__all__ = ["MCPTool", "local_name"]

_INVALID = re.compile(r"[^A-Za-z0-9_-]")
# Keys model APIs reject or that mean nothing to them at the top of a parameters schema.
_DROPPED_KEYS = ("$schema", "$id")


class MCPTool(BaseTool):
    """A tool listed by an MCP server; arguments are validated against its ``inputSchema``.

    Attributes:
        remote_name: the tool's name on the server (``name`` may carry a prefix).
        spec: the tool as the server listed it.
    """

    def __init__(self, connection: MCPConnection, spec: mcp_types.Tool, *, name: str, user_confirm: bool) -> None:
        self.connection = connection
        self.spec = spec
        self.remote_name = spec.name
        self.name = name
        self.description = spec.description or spec.title or spec.name
        self.parameters = input_parameters(spec.input_schema)
        self.user_confirm = user_confirm

    async def execute(self, **arguments: Any) -> ToolResult:
        result = await self.connection.call_tool(self.remote_name, arguments)
        return to_tool_result(result)

    def same_as(self, other: MCPTool) -> bool:
        """Whether ``other`` describes this tool identically (a refresh can keep this instance)."""
        return (
            self.name == other.name
            and self.description == other.description
            and self.parameters == other.parameters
            and self.user_confirm == other.user_confirm
        )


def input_parameters(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The ``inputSchema`` as a parameters schema model APIs accept (always an object)."""
    parameters = copy.deepcopy(schema) if schema else {}
    for key in _DROPPED_KEYS:
        parameters.pop(key, None)
    parameters.setdefault("type", "object")
    if parameters["type"] == "object":
        parameters.setdefault("properties", {})
    return parameters


def local_name(prefix: str, remote: str) -> str:
    """``prefix + remote`` with characters model APIs reject replaced, at most 64 long."""
    return _INVALID.sub("_", f"{prefix}{remote}")[:64] or "_"
