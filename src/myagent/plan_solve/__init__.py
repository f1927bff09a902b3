"""Plan & Solve: a planner splits a question into tasks, solvers work on them in parallel, an aggregator
combines the results. Runs on top of the agent loop; knows nothing about WebSockets."""

from __future__ import annotations

from myagent.plan_solve.events import PipelineEvent, SubAgentEvent
from myagent.plan_solve.pipeline import Aggregator, PlanSolveAgent
from myagent.plan_solve.roles import PlanAgent, SolverAgent, SubAgentFailed, SubAgentRun
from myagent.plan_solve.types import (
    PlanContext,
    PlanSolveResult,
    SolverRunResult,
    TaskCoercionError,
    task_id,
    task_to_dict,
)

__all__ = [
    "Aggregator",
    "PipelineEvent",
    "PlanAgent",
    "PlanContext",
    "PlanSolveAgent",
    "PlanSolveResult",
    "SolverAgent",
    "SolverRunResult",
    "SubAgentEvent",
    "SubAgentFailed",
    "SubAgentRun",
    "TaskCoercionError",
    "create_plan_solver",
    "task_id",
    "task_to_dict",
]


def create_plan_solver(
    *,
    planner: PlanAgent,
    solver: SolverAgent,
    aggregator: Aggregator | None = None,
    concurrency: int | None = None,
    confirm_plan: bool = False,
    confirm_timeout: float | None = None,
    name: str = "plan_solver",
    description: str = "",
) -> PlanSolveAgent:
    """A Plan & Solve agent for one session; return it from your agent file's ``create_agent()``.

    Args:
        planner: turns the question into tasks.
        solver: solves one task (one sub-agent per task).
        aggregator: combines the results (sync or async); default joins the outputs.
        concurrency: most solvers running at once (default: all tasks at once).
        confirm_plan: ask the user to confirm (and possibly edit) the plan before solving.
        confirm_timeout: seconds the plan confirmation stays open (default: the server's).
    """
    return PlanSolveAgent(
        planner=planner,
        solver=solver,
        aggregator=aggregator,
        concurrency=concurrency,
        confirm_plan=confirm_plan,
        confirm_timeout=confirm_timeout,
        name=name,
        description=description,
    )
