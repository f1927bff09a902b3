"""Events a Plan & Solve run yields besides the ordinary agent events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from myagent.agent.events import RunEvent

__all__ = ["Origin", "PipelineEvent", "SubAgentEvent"]

Origin = Literal["plan", "solver", "aggregate"]


@dataclass(frozen=True)
class PipelineEvent:
    """A pipeline milestone; ``name`` is one of the ``plan.*``/``solver.*``/``aggregate.*``/``pipeline.*`` events."""

    name: str
    content: Any
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubAgentEvent:
    """Activity of a planner or solver sub-agent (thinking, tool calls, text), tagged with its task."""

    origin: Origin
    task_id: str | int | None
    agent: str
    event: RunEvent
