"""Where an MCP server lives: a command to start (stdio) or a URL (streamable HTTP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MCPServer", "StdioServer", "StreamableHttpServer"]


@dataclass(frozen=True)
class StdioServer:
    """An MCP server started as a child process that speaks MCP on its stdin/stdout.

    Attributes:
        command: the executable (e.g. ``sys.executable`` or ``"npx"``).
        args: its arguments.
        env: extra environment variables, merged over a minimal safe environment.
        cwd: working directory of the process.
    """

    command: str
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    cwd: str | Path | None = None

    @property
    def label(self) -> str:
        return " ".join([Path(self.command).name, *self.args])


@dataclass(frozen=True)
class StreamableHttpServer:
    """An MCP server reached over streamable HTTP at ``url`` (e.g. ``http://127.0.0.1:8000/mcp``).

    Attributes:
        url: the MCP endpoint.
        headers: extra HTTP headers sent with every request (e.g. ``Authorization``).
        timeout: seconds to wait for the server to answer one request.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0

    @property
    def label(self) -> str:
        return self.url


MCPServer = StdioServer | StreamableHttpServer
