"""Token usage and timing, kept per agent instance (never shared between agents or sessions)."""

from __future__ import annotations

from dataclasses import dataclass, field

from myagent.agent.events import ModelCallFinished
from myagent.llm.base import Usage

__all__ = ["UsageLedger"]


@dataclass
class UsageLedger:
    """Every model call of one agent; ``since(mark)`` gives one run's share."""

    calls: list[ModelCallFinished] = field(default_factory=list)

    def record(self, call: ModelCallFinished) -> None:
        self.calls.append(call)

    @property
    def total(self) -> Usage:
        return self.since(0)

    @property
    def model_seconds(self) -> float:
        return sum(call.duration for call in self.calls)

    def since(self, mark: int) -> Usage:
        """Usage of the calls recorded after ``mark`` (a previous ``len(calls)``)."""
        total = Usage()
        for call in self.calls[mark:]:
            total = total + call.usage
        return total
