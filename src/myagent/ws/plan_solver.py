"""Plan & Solve at the import path of the protocol notes (``myagent.ws.plan_solver``)."""

from __future__ import annotations

from myagent.plan_solve import (
    PlanAgent,
    PlanContext,
    PlanSolveAgent,
    PlanSolveResult,
    SolverAgent,
    SolverRunResult,
    TaskCoercionError,
    create_plan_solver,
)

__all__ = [
    "PlanAgent",
    "PlanContext",
    "PlanSolveAgent",
    "PlanSolveResult",
    "SolverAgent",
    "SolverRunResult",
    "TaskCoercionError",
    "create_plan_solver",
]
