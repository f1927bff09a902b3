"""Plan & Solve statistics, saved plan context, and tasks given as dataclasses."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from myagent.plan_solve import (
    PlanAgent,
    PlanContext,
    SolverAgent,
    SubAgentRun,
    TaskCoercionError,
    create_plan_solver,
    task_id,
)
from tests.test_plan_solve import Lab, Recorder, confirm_plan, start

# -- statistics and state --------------------------------------------------------------------------


async def test_statistics_list_every_model_call_of_the_run() -> None:
    lab = Lab([{"id": 1, "tool": "lookup"}, {"id": 2}])
    agent, rec, _ = start(lab)
    await rec.done()
    plan_stats = rec.content("plan.completed")["statistics"]
    assert [(s["origin"], s["agent"]) for s in plan_stats] == [("plan", "planner_1")]
    solver_stats = rec.content("solver.completed", 1)["result"]["statistics"]
    assert [(s["origin"], s["agent"], s["task_id"]) for s in solver_stats] == [("solver", "solver_1_1", 1)] * 2
    everything = rec.content("pipeline.completed")["statistics"]
    assert len(everything) == lab.requests_of(1) == 4
    assert all(s["total_tokens"] == s["input_tokens"] + s["output_tokens"] for s in everything)
    assert len(agent.usage.calls) == 4


async def test_plan_context_survives_export_and_import() -> None:
    lab = Lab(confirm_plan=True)
    agent, rec, confirmer = start(lab)
    await confirm_plan(confirmer, data=[{"id": 5, "title": "Five"}, {"id": 6}])
    await rec.done()
    saved = json.loads(json.dumps(agent.export_plan_context()))
    assert saved["question"] == "write a report" and [t["id"] for t in saved["tasks"]] == [5, 6]
    restored = lab.factory()
    assert restored.export_plan_context() is None
    restored.import_plan_context(saved)
    assert restored.last_question == "write a report"
    assert restored.context is not None and restored.context.result_for({"id": 6}).output == "result 6"
    rerun = Recorder(restored.rerun_task(6))
    await rerun.done()
    assert "5=completed:result 5; 6=completed:result 6" in rerun.final()
    assert lab.runs == Counter({"5": 1, "6": 2})


@pytest.mark.parametrize(
    "saved",
    [
        {"question": "write a report", "tasks": [], "results": []},  # saved after a refused or cancelled plan
        {"question": "write a report", "tasks": [{"id": 1}, {"id": 1}]},  # tasks this planner does not accept
    ],
    ids=["no-plan-yet", "unusable-plan"],
)
async def test_a_context_without_a_usable_plan_restores_the_question_only(saved: dict[str, Any]) -> None:
    lab = Lab()
    agent = lab.factory()
    agent.import_plan_context(saved)
    assert agent.context is not None and agent.context.tasks == [] and agent.last_question == "write a report"
    assert agent.restart_task(1) is False
    rec = Recorder(agent.stream(agent.last_question))
    await rec.done()
    assert rec.content("pipeline.completed")["completed"] == 3


async def test_a_context_saved_mid_run_restores_unfinished_tasks_as_cancelled() -> None:
    lab = Lab()
    lab.hold(2, 3)
    agent, rec, _ = start(lab)
    await rec.wait("solver.completed", 1)
    saved = json.loads(json.dumps(agent.export_plan_context()))
    assert [r["status"] for r in saved["results"]] == ["completed", "running", "running"]
    await rec.cancel()
    restored = lab.factory()
    restored.import_plan_context(saved)
    lab.release()
    rerun = Recorder(restored.rerun_task(2))
    await rerun.done()
    assert rerun.content("pipeline.completed") | {"statistics": []} == {
        "statistics": [],
        "tasks": 3,
        "completed": 2,
        "failed": 0,
        "cancelled": 1,
    }
    assert "cancelled tasks: 3" in rerun.final()


# -- the task helpers ------------------------------------------------------------------------------


@dataclass
class Slide:
    id: int
    title: str
    notes: str = ""


async def test_coerce_tasks_converts_to_the_task_type() -> None:
    planner = PlanAgent()
    planner.task_type = Slide
    tasks = planner.coerce_tasks([{"id": 1, "title": "One"}, Slide(2, "Two")])
    assert tasks == [Slide(1, "One"), Slide(2, "Two")]
    with pytest.raises(TaskCoercionError, match="does not fit Slide"):
        planner.coerce_tasks([{"id": 1, "colour": "red"}])
    with pytest.raises(TaskCoercionError, match="must be an object"):
        planner.coerce_tasks([SimpleNamespace(id=1)])
    with pytest.raises(TaskCoercionError, match="no string or integer `id`"):
        planner.coerce_tasks([Lab])
    with pytest.raises(NotImplementedError):
        PlanAgent().build_agent("q")
    assert task_id(dataclasses.replace(Slide(3, "x"))) == 3


async def test_dataclass_tasks_go_through_a_whole_pipeline() -> None:
    class SlidePlanner(PlanAgent):
        task_type = Slide

        async def plan(self, question: str, run: SubAgentRun) -> tuple[list[Any], str]:
            return [Slide(1, "One"), Slide(2, "Two")], "two slides"

    class SlideSolver(SolverAgent):
        async def solve(self, task: Any, context: PlanContext, run: SubAgentRun) -> Any:
            return {"slide": task.title}

    agent = create_plan_solver(planner=SlidePlanner(), solver=SlideSolver())
    rec = Recorder(agent.stream("q"))
    await rec.done()
    assert rec.content("plan.completed")["tasks"] == [
        {"id": 1, "title": "One", "notes": ""},
        {"id": 2, "title": "Two", "notes": ""},
    ]
    assert '{"slide": "Two"}' in rec.final() and rec.content("plan.completed")["statistics"] == []
