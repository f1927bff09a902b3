"""Tools: ``BaseTool``, ``ToolResult``, ``ToolCollection`` and the built-in ``Terminate``."""

from __future__ import annotations

from myagent.tool.base import BaseTool
from myagent.tool.collection import ToolCollection
from myagent.tool.result import ToolResult
from myagent.tool.schema import ArgumentError
from myagent.tool.terminate import TERMINATE_TOOL_NAME, Terminate

__all__ = ["TERMINATE_TOOL_NAME", "ArgumentError", "BaseTool", "Terminate", "ToolCollection", "ToolResult"]
