"""``ToolCollection``: the tools an agent may call, by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from myagent.errors import ToolError
from myagent.tool.base import BaseTool

__all__ = ["ToolCollection"]


class ToolCollection:
    """An ordered set of tools with unique names."""

    def __init__(self, *tools: BaseTool) -> None:
        self._tools: dict[str, BaseTool] = {}
        for tool in tools:
            self.add(tool)

    @classmethod
    def of(cls, tools: Iterable[BaseTool] | ToolCollection | None) -> ToolCollection:
        if isinstance(tools, ToolCollection):
            return tools
        return cls(*(tools or ()))

    def add(self, tool: BaseTool) -> None:
        """Add ``tool``.

        Raises:
            ToolError: not a ``BaseTool``, no name, a duplicate name, or an unusable schema.
        """
        if not isinstance(tool, BaseTool):
            raise ToolError(f"{tool!r} is not a BaseTool instance")
        tool.to_schema()  # fail at construction, not at the first model call
        if tool.name in self._tools:
            raise ToolError(f"two tools are named {tool.name!r}")
        self._tools[tool.name] = tool

    def discard(self, name: str) -> BaseTool | None:
        """Remove the tool called ``name`` (if any) and return it."""
        return self._tools.pop(name, None)

    def get(self, name: str) -> BaseTool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def to_schemas(self) -> list[dict[str, Any]]:
        return [tool.to_schema() for tool in self._tools.values()]

    def __iter__(self) -> Iterator[BaseTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools
