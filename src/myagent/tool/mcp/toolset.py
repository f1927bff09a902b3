"""``MCPToolset``: the tools of one MCP server, for one agent or shared by all sessions."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Collection
from types import TracebackType
from typing import Any, Literal

import mcp_types

from myagent.errors import ToolError
from myagent.tool import lifecycle
from myagent.tool.collection import ToolCollection
from myagent.tool.mcp.connection import MCPConnection
from myagent.tool.mcp.servers import MCPServer
from myagent.tool.mcp.tool import MCPTool, local_name

__all__ = ["ConfirmPolicy", "MCPToolset"]

logger = logging.getLogger(__name__)

#: Which tools ask the user first: all (True), none (False), the named ones, the ones the
#: server marks destructive (``annotations.destructiveHint``), or a predicate on the server's name.
ConfirmPolicy = bool | Collection[str] | Literal["destructive"] | Callable[[str], bool]


class MCPToolset:
    """Expose an MCP server's tools as myagent tools.

    Shared (the default): one connection (one stdio process) serves every agent; it is closed
    when the server shuts down or by :meth:`aclose`. Per session (``per_session=True``): each
    agent given to :meth:`install` gets its own connection, closed when its session ends.

    Args:
        server: a :class:`~myagent.tool.mcp.StdioServer` or :class:`~myagent.tool.mcp.StreamableHttpServer`.
        confirm: which tools need ``user_confirm`` (see :data:`ConfirmPolicy`).
        prefix: put before every tool name (to keep names of several servers apart).
        include: only these tools (server names); ``None`` for all.
        exclude: never these tools (server names).
        per_session: one connection per agent instead of one shared connection.
        connect_timeout: seconds to start the server and finish the MCP handshake.
    """

    def __init__(
        self,
        server: MCPServer,
        *,
        confirm: ConfirmPolicy = False,
        prefix: str = "",
        include: Collection[str] | None = None,
        exclude: Collection[str] = (),
        per_session: bool = False,
        connect_timeout: float = 30.0,
    ) -> None:
        self.server = server
        self.confirm = confirm
        self.prefix = prefix
        self.include = None if include is None else frozenset(include)
        self.exclude = frozenset(exclude)
        self.per_session = per_session
        self.connect_timeout = connect_timeout
        self.connection = MCPConnection(server, on_tools_changed=self.refresh, connect_timeout=connect_timeout)
        self._tools: list[MCPTool] | None = None
        self._installed: weakref.WeakSet[ToolCollection] = weakref.WeakSet()
        self._listing = asyncio.Lock()
        #: set after every refresh of the tool list (clear it, then wait for the next one)
        self.refreshed = asyncio.Event()

    # -- tools --------------------------------------------------------------------------------

    async def tools(self) -> list[MCPTool]:
        """The server's tools (listed on first use, then kept current by ``tools/list_changed``).

        Raises:
            MCPConnectionError: the server could not be started or reached.
        """
        if self._tools is None or not self.connection.is_open:
            await self.refresh()
        assert self._tools is not None
        return list(self._tools)

    async def refresh(self) -> list[MCPTool]:
        """List the tools again and update every agent they were installed in."""
        async with self._listing:
            listed = [self._wrap(spec) for spec in await self.connection.list_tools() if self._wanted(spec.name)]
            self._tools = self._keep_unchanged(listed)
            for collection in list(self._installed):
                self._sync(collection)
            self.refreshed.set()
        logger.info("MCP server %s: %d tools: %s", self.server.label, len(listed), ", ".join(t.name for t in listed))
        return list(self._tools)

    async def install(self, agent: Any) -> list[MCPTool]:
        """Add the tools to ``agent.tools`` and keep them current there.

        With ``per_session`` the agent gets its own connection, closed with its session.

        Raises:
            ToolError: a tool name is already taken in the agent.
            MCPConnectionError: the server could not be started or reached.
        """
        collection = getattr(agent, "tools", None)
        if not isinstance(collection, ToolCollection):
            raise ToolError(f"{type(agent).__name__} has no ToolCollection in .tools to install MCP tools into")
        owner = self
        if self.per_session:
            owner = self.copy()
            lifecycle.on_agent_close(agent, owner.aclose)
        else:
            lifecycle.keep_until_shutdown(self)
        tools = await owner.tools()
        for tool in tools:
            collection.add(tool)
        owner._installed.add(collection)
        return tools

    def copy(self) -> MCPToolset:
        """A toolset with the same settings and its own (not yet opened) connection."""
        return MCPToolset(
            self.server,
            confirm=self.confirm,
            prefix=self.prefix,
            include=self.include,
            exclude=self.exclude,
            per_session=False,
            connect_timeout=self.connect_timeout,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection (ends a stdio server process); the next use opens a new one."""
        await self.connection.close()

    async def __aenter__(self) -> MCPToolset:
        await self.tools()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- helpers ------------------------------------------------------------------------------

    def _wanted(self, name: str) -> bool:
        return (self.include is None or name in self.include) and name not in self.exclude

    def _wrap(self, spec: mcp_types.Tool) -> MCPTool:
        name = local_name(self.prefix, spec.name)
        return MCPTool(self.connection, spec, name=name, user_confirm=self._needs_confirmation(spec))

    def _needs_confirmation(self, spec: mcp_types.Tool) -> bool:
        policy = self.confirm
        if isinstance(policy, bool):
            return policy
        if policy == "destructive":
            annotations = spec.annotations
            # The MCP default for a tool that is not read-only is "destructive".
            return bool(annotations is None or not annotations.read_only_hint) and (
                annotations is None or annotations.destructive_hint is not False
            )
        if callable(policy):
            return bool(policy(spec.name))
        return spec.name in policy

    def _keep_unchanged(self, listed: list[MCPTool]) -> list[MCPTool]:
        """Reuse the instances whose definition did not change (agents hold them)."""
        previous = {tool.name: tool for tool in self._tools or ()}
        kept = []
        for tool in listed:
            old = previous.get(tool.name)
            kept.append(old if old is not None and old.same_as(tool) else tool)
        return kept

    def _sync(self, collection: ToolCollection) -> None:
        current = {tool.name: tool for tool in self._tools or ()}
        for tool in list(collection):
            if isinstance(tool, MCPTool) and tool.connection is self.connection and current.get(tool.name) is not tool:
                collection.discard(tool.name)
        for name, tool in current.items():
            if name not in collection:
                collection.add(tool)
