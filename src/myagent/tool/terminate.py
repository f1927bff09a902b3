"""The built-in ``terminate`` tool: lets the model end a run explicitly."""

from __future__ import annotations

from typing import Literal

from myagent.tool.base import BaseTool
from myagent.tool.result import ToolResult

__all__ = ["TERMINATE_TOOL_NAME", "Terminate"]

TERMINATE_TOOL_NAME = "terminate"


class Terminate(BaseTool):
    """Calling it ends the run after the current step; a plain answer ends a run too."""

    name = TERMINATE_TOOL_NAME
    description = (
        "End the interaction when the request is fully answered or cannot be completed. "
        "Give your final answer to the user in `answer`."
    )

    async def execute(self, status: Literal["success", "failure"] = "success", answer: str = "") -> ToolResult:
        """Finish the run.

        Args:
            status: whether the task was completed.
            answer: the final answer shown to the user.
        """
        return ToolResult(output=answer or f"The interaction has been completed with status: {status}")
