"""Plan & Solve data: tasks are plain dicts or dataclasses with an ``id``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "PlanContext",
    "PlanSolveResult",
    "SolverRunResult",
    "SolverStatus",
    "TaskCoercionError",
    "same_task_id",
    "task_id",
    "task_to_dict",
]

SolverStatus = Literal["pending", "running", "completed", "failed", "cancelled"]


class TaskCoercionError(ValueError):
    """Tasks (edited by the user or supplied by a client) cannot be used."""


def task_id(task: Any) -> str | int:
    """The ``id`` of a dict or dataclass task."""
    value = task.get("id") if isinstance(task, dict) else getattr(task, "id", None)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TaskCoercionError(f"task {task!r} has no string or integer `id`")
    return value


def same_task_id(a: Any, b: Any) -> bool:
    """Ids match loosely: ``2`` and ``"2"`` name the same task (clients differ in how they send ids)."""
    return a == b or str(a) == str(b)


def task_to_dict(task: Any) -> dict[str, Any]:
    if isinstance(task, dict):
        return dict(task)
    if dataclasses.is_dataclass(task) and not isinstance(task, type):
        return dataclasses.asdict(task)
    raise TaskCoercionError(f"task {task!r} is neither a dict nor a dataclass")


@dataclass
class SolverRunResult:
    """The outcome of one task's solver (the latest run, when the task was restarted)."""

    task_id: str | int
    task: Any
    status: SolverStatus = "pending"
    output: Any = None
    summary: str = ""
    agent_name: str = ""
    error: str | None = None
    statistics: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "task": task_to_dict(self.task),
            "status": self.status,
            "output": self.output,
            "summary": self.summary,
            "agent_name": self.agent_name,
            "error": self.error,
            "statistics": self.statistics,
        }


@dataclass
class PlanContext:
    """Everything one pipeline knows: the question, the plan, the results so far."""

    question: str = ""
    tasks: list[Any] = field(default_factory=list)
    plan_summary: str = ""
    results: dict[str, SolverRunResult] = field(default_factory=dict)
    output: Any = None
    direct: bool = False

    def result_for(self, task: Any) -> SolverRunResult:
        key = str(task_id(task))
        if key not in self.results:
            self.results[key] = SolverRunResult(task_id(task), task)
        return self.results[key]

    def find_task(self, wanted: Any) -> Any | None:
        return next((task for task in self.tasks if same_task_id(task_id(task), wanted)), None)

    def ordered_results(self) -> list[SolverRunResult]:
        return [self.result_for(task) for task in self.tasks]

    def status_counts(self) -> dict[str, int]:
        """How many tasks ended ``completed``, ``failed`` and ``cancelled``."""
        results = self.ordered_results()
        return {status: sum(r.status == status for r in results) for status in ("completed", "failed", "cancelled")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, stored in the signed session state."""
        return {
            "question": self.question,
            "tasks": [task_to_dict(task) for task in self.tasks],
            "plan_summary": self.plan_summary,
            "results": [result.to_dict() for result in self.ordered_results()],
            "output": self.output,
            "direct": self.direct,
        }


@dataclass
class PlanSolveResult:
    """What a finished pipeline produced."""

    context: PlanContext
    results: list[SolverRunResult]
    output: Any
    final_text: str
