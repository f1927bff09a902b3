"""An agent whose tools come from an MCP server (examples/mcp_server.py, started over stdio).

Serve it with::

    pip install 'myagent[mcp]'
    myagent server examples/mcp_agent.py --port 8080

and ask "东京现在几点？" / "What time is it in Paris?". One server process is shared by every
session and ended when the server shuts down; pass ``per_session=True`` to ``MCPToolset`` for one
process per session instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.tool.mcp import MCPToolset, StdioServer

SERVER = Path(__file__).with_name("mcp_server.py")

clock = MCPToolset(StdioServer(sys.executable, [str(SERVER)]))


async def create_agent() -> ToolCallAgent:
    """A fresh agent for each session, with the MCP server's tools (kept current on tools/list_changed)."""
    agent = create_toolcall_agent(name="clock_agent", description="Tells the local time in cities (via MCP)")
    await clock.install(agent)
    return agent
