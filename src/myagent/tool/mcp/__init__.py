"""MCP tools: the tools of Model Context Protocol servers as myagent tools (needs ``pip install myagent[mcp]``).

::

    from myagent.tool.mcp import MCPToolset, StdioServer

    clock = MCPToolset(StdioServer(sys.executable, ["examples/mcp_server.py"]))

    async def create_agent():
        agent = create_toolcall_agent(name="clock")
        await clock.install(agent)     # lists the server's tools and follows tools/list_changed
        return agent

See docs/integrations.md.
"""

from __future__ import annotations

from myagent.tool.mcp.connection import MCPConnection
from myagent.tool.mcp.errors import MCPConnectionError, MCPSessionLost
from myagent.tool.mcp.results import to_tool_result
from myagent.tool.mcp.servers import MCPServer, StdioServer, StreamableHttpServer
from myagent.tool.mcp.tool import MCPTool
from myagent.tool.mcp.toolset import ConfirmPolicy, MCPToolset

__all__ = [
    "ConfirmPolicy",
    "MCPConnection",
    "MCPConnectionError",
    "MCPServer",
    "MCPSessionLost",
    "MCPTool",
    "MCPToolset",
    "StdioServer",
    "StreamableHttpServer",
    "to_tool_result",
]
