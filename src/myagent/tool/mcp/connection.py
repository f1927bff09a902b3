"""One live MCP client session, owned by a background task, re-opened when it is gone.

The ``mcp`` SDK runs on anyio: a ``Client`` must be entered and left by the same task. So each
connection has an owner task that enters the client, publishes it, and waits to be told to leave;
tool calls from any task then go through the published client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client._transport import TransportStreams
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from myagent._version import __version__
from myagent.tool.mcp.errors import MCPConnectionError, MCPSessionLost
from myagent.tool.mcp.servers import MCPServer, StdioServer

__all__ = ["MCPConnection"]

logger = logging.getLogger(__name__)

_CLIENT_INFO = mcp_types.Implementation(name="myagent", version=__version__)
_CONNECTION_CLOSED = mcp_types.CONNECTION_CLOSED


class MCPConnection:
    """A client session with one MCP server; opened lazily, re-opened after the server lost it.

    Args:
        server: where the server is.
        on_tools_changed: awaited (in a task the connection owns) when the server sends
            ``notifications/tools/list_changed``.
        connect_timeout: seconds to start the server and finish the MCP handshake.
    """

    def __init__(
        self,
        server: MCPServer,
        *,
        on_tools_changed: Callable[[], Awaitable[object]] | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        self.server = server
        self.on_tools_changed = on_tools_changed
        self.connect_timeout = connect_timeout
        self._client: Client | None = None
        self._owner: asyncio.Task[None] | None = None
        self._leave: asyncio.Event | None = None
        self._opening: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.opened = 0  # how many client sessions were opened (the first one and re-opens)

    @property
    def label(self) -> str:
        return self.server.label

    @property
    def is_open(self) -> bool:
        return self._client is not None

    # -- lifecycle ----------------------------------------------------------------------------

    async def client(self) -> Client:
        """The open client, opening it first if needed.

        Raises:
            MCPConnectionError: the server could not be started or did not complete the handshake.
        """
        if self._client is not None:
            return self._client
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._client is None:
                await self._open()
            assert self._client is not None
            return self._client

    async def _open(self) -> None:
        ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
        self._leave = asyncio.Event()
        self._owner = asyncio.create_task(self._own(ready, self._leave), name=f"mcp-{self.label}")
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._client = await asyncio.shield(ready)
        except TimeoutError as exc:
            await self.close()
            message = f"MCP server {self.label} did not answer within {self.connect_timeout:g} s"
            raise MCPConnectionError(message) from exc
        except MCPConnectionError:
            await self.close()
            raise
        self.opened += 1
        logger.info("MCP server %s: session open (%s)", self.label, self._client.protocol_version)

    async def _own(self, ready: asyncio.Future[Client], leave: asyncio.Event) -> None:
        """Enter the client, publish it, and hold it until told to leave (the SDK needs one task)."""
        try:
            client = Client(
                self._transport(),
                mode="legacy",
                client_info=_CLIENT_INFO,
                message_handler=self._on_message,
                cache=None,
            )
            async with client:
                ready.set_result(client)
                await leave.wait()
        except Exception as exc:  # the owner task's boundary: report to whoever waits for the client
            if not ready.done():
                error = MCPConnectionError(f"cannot open MCP server {self.label}: {_describe(exc)}")
                ready.set_exception(error)
            else:
                logger.info("MCP server %s: session ended: %s", self.label, _describe(exc))
        finally:
            if not ready.done():
                ready.cancel()

    def _transport(self) -> Any:
        server = self.server
        if isinstance(server, StdioServer):
            return StdioServerParameters(
                command=server.command,
                args=list(server.args),
                env=dict(server.env) if server.env is not None else None,
                cwd=server.cwd,
            )
        return _http_transport(server.url, dict(server.headers), server.timeout)

    async def close(self) -> None:
        """Leave the client session (a stdio server process is ended); a later call opens a new one."""
        owner, self._owner, self._client = self._owner, None, None
        for task in list(self._tasks):
            task.cancel()
        if self._leave is not None:
            self._leave.set()
        if owner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                done, _ = await asyncio.wait({owner}, timeout=10.0)
                if not done:  # a transport that does not let go: do not hang shutdown on it
                    owner.cancel()
                    await asyncio.gather(owner, return_exceptions=True)

    async def _reopen(self, stale: Client) -> Client:
        if self._client is stale:
            await self.close()
        return await self.client()

    # -- requests -----------------------------------------------------------------------------

    async def list_tools(self) -> list[mcp_types.Tool]:
        """Every tool the server lists (all pages)."""
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _ in range(1000):  # a server that pages forever must not hang us
            page: mcp_types.ListToolsResult = await self._request(_list_page(cursor), retry=True)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call ``name``; re-open once and retry when the server says the MCP session is gone.

        Raises:
            MCPSessionLost: the connection ended during the call (e.g. the server process died);
                the next request opens a new session.
            MCPConnectionError: the server could not be reached.
        """
        result = await self._request(lambda client: client.call_tool(name, arguments), retry=True)
        if not isinstance(result, mcp_types.CallToolResult):
            raise MCPConnectionError(f"MCP server {self.label} answered tools/call with {type(result).__name__}")
        return result

    async def _request(self, send: Callable[[Client], Awaitable[Any]], *, retry: bool) -> Any:
        client = await self.client()
        try:
            return await send(client)
        except MCPError as exc:
            if retry and self._session_gone(exc):
                logger.info("MCP server %s: session gone (%s), initialising a new one", self.label, exc.message)
                return await self._request_again(send, client)
            if exc.code == _CONNECTION_CLOSED:
                await self._forget(client)
                raise MCPSessionLost(f"MCP server {self.label} closed the connection during the request") from exc
            raise
        except (OSError, httpx2.HTTPError) as exc:
            await self._forget(client)
            raise MCPConnectionError(f"MCP server {self.label} is unreachable: {_describe(exc)}") from exc

    async def _request_again(self, send: Callable[[Client], Awaitable[Any]], stale: Client) -> Any:
        client = await self._reopen(stale)
        try:
            return await send(client)
        except MCPError as exc:
            if self._session_gone(exc) or exc.code == _CONNECTION_CLOSED:
                await self._forget(client)
                raise MCPSessionLost(f"MCP server {self.label} lost the session again after re-initialising") from exc
            raise

    def _session_gone(self, exc: MCPError) -> bool:
        """Whether the server no longer knows our MCP session (so a new one may be opened and asked again).

        Over streamable HTTP the server answers 404 for an unknown ``Mcp-Session-Id`` (the SDK
        reports "Session terminated" or the server's "Session not found"), and a restarted server
        also ends the SDK's transport (``CONNECTION_CLOSED``): both mean the session is gone. Over
        stdio a closed connection means the process died, perhaps mid-call: never asked again.
        """
        if exc.code == mcp_types.INVALID_REQUEST and "session" in exc.message.lower():
            return True
        return exc.code == _CONNECTION_CLOSED and not isinstance(self.server, StdioServer)

    async def _forget(self, client: Client) -> None:
        if self._client is client:
            await self.close()

    # -- notifications ------------------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification) and self.on_tools_changed is not None:
            task = asyncio.create_task(self._tools_changed(self.on_tools_changed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _tools_changed(self, callback: Callable[[], Awaitable[object]]) -> None:
        try:
            await callback()
        except Exception:  # a refresh that failed keeps the old list; the next change tries again
            logger.warning("MCP server %s: refreshing the tool list failed", self.label, exc_info=True)


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str], seconds: float) -> AsyncIterator[TransportStreams]:
    http_timeout = httpx2.Timeout(seconds, read=max(seconds, 300.0))
    async with (
        create_mcp_http_client(headers=headers, timeout=http_timeout) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


def _list_page(cursor: str | None) -> Callable[[Client], Awaitable[mcp_types.ListToolsResult]]:
    async def send(client: Client) -> mcp_types.ListToolsResult:
        return await client.list_tools(cursor=cursor)

    return send


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
