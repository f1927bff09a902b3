"""An MCP server for the tests, run as its own process: ``python mcp_test_server.py stdio|http [PORT]``.

Over HTTP it binds 127.0.0.1 (port 0: a free one), prints ``PORT <n>`` on stdout once it listens
and serves streamable HTTP at ``/mcp``. Its tools exercise what a client must handle: structured
results, tool errors, a process that dies mid-call, a tool list that changes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("test-server")


@server.tool()
def get_city_time(city: str) -> dict[str, str]:
    """A fixed local time for a city."""
    return {"city": city, "time": "2026-01-01 08:00", "timezone": "Asia/Tokyo"}


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def fail(reason: str) -> str:
    """Always fails with ``reason``."""
    raise ToolError(reason)  # a ToolError's message reaches the client; other exceptions are masked


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """Kills the server process in the middle of the call."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
async def learn_tool(name: str, ctx: Context) -> str:
    """Adds a tool called ``name`` (it echoes its input) and announces the new tool list."""

    def echo(text: str) -> str:
        return text

    server.add_tool(echo, name=name, description=f"Echo (added at run time as {name})")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


def serve_http(port: int) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        serve_http(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    else:
        server.run()
