"""The import path of older MyAgent versions: ``from myagent.tool.base_tool import BaseTool, ToolResult``.

New code imports from :mod:`myagent.tool`; this module only keeps agent files written for older
versions working (see docs/agent.md, "Agent files from older versions").
"""

from __future__ import annotations

from myagent.tool.base import BaseTool
from myagent.tool.result import ToolResult

__all__ = ["BaseTool", "ToolResult"]
