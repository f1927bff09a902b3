"""myagent: serve tool-calling LLM agents over one WebSocket.

Importing this package has no side effects: no files, network or environment reads.
"""

from __future__ import annotations

from myagent._version import __version__
from myagent.agent import ToolCallAgent, create_react_agent, create_toolcall_agent

__all__ = ["ToolCallAgent", "__version__", "create_react_agent", "create_toolcall_agent"]
