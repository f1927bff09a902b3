"""Plan & Solve in process: ``PlanSolveAgent.stream()``/``solve_tasks()`` and the controls, with scripted models.

The planner, solvers and aggregator of :class:`Lab` are instrumented: every model reply can be held
on an ``asyncio.Event`` the test releases, and counters record what ran. A :class:`Recorder` pumps a
run's events in the background so a test can wait for one, act, and go on. No sleeps: every wait is
for an event, bounded by ``WAIT``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from myagent import create_toolcall_agent
from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest
from myagent.agent.events import FinalAnswer, ModelCallFinished, StepStarted, ToolCallFinished, ToolCallStarted
from myagent.agent.toolcall import ToolCallAgent
from myagent.errors import ModelError
from myagent.llm.base import ModelRequest
from myagent.llm.testing import FunctionModel, Script, call
from myagent.plan_solve import (
    PipelineEvent,
    PlanAgent,
    PlanContext,
    PlanSolveAgent,
    SolverAgent,
    SolverRunResult,
    SubAgentEvent,
    SubAgentRun,
    create_plan_solver,
    task_id,
)
from myagent.tool import BaseTool, ToolResult

WAIT = 15.0  # upper bound for one expected event; never an assertion about speed
THREE = [{"id": 1, "title": "A"}, {"id": 2, "title": "B"}, {"id": 3, "title": "C"}]

# -- the instrumented planner, solver and aggregator -----------------------------------------------


class Lookup(BaseTool):
    name = "lookup"
    description = "Look something up"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    async def execute(self, item: int) -> ToolResult:
        self.lab.tool_runs["lookup"] += 1
        return ToolResult(output=f"found {item}")


class Publish(BaseTool):
    name = "publish"
    description = "Publish a result (asks the user first)"
    user_confirm = True

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    async def execute(self, item: int) -> ToolResult:
        self.lab.tool_runs["publish"] += 1
        return ToolResult(output=f"published {item}")


_SOLVER_TAG = re.compile(r"solver of session (\d+) for task (\S+)")


class LabPlanner(PlanAgent):
    """An LLM-style planner: its model answers with the lab's tasks as JSON (default ``parse_tasks``)."""

    def __init__(self, lab: Lab, tag: int) -> None:
        self.lab = lab
        self.name = f"planner_{tag}"
        self.model = FunctionModel(self._reply, name=f"model_{tag}")

    def build_agent(self, question: str) -> ToolCallAgent:
        return create_toolcall_agent(name=self.name, llm=self.model, system_prompt="planner")

    async def _reply(self, request: ModelRequest) -> Script:
        prompt = request.messages[-1].content or ""
        self.lab.questions.append(prompt.split("\n\nSplit this")[0])
        self.lab.planning.set()
        await self.lab.plan_gate.wait()
        return self.lab.plan_answer if self.lab.plan_answer is not None else json.dumps(self.lab.tasks)


class LabSolver(SolverAgent):
    """One tool-calling sub-agent per task; a task's ``tool`` is called first, ``raise`` makes solve() raise."""

    def __init__(self, lab: Lab, tag: int) -> None:
        self.lab = lab
        self.tag = tag
        self.name = f"solver_{tag}"
        self.model = FunctionModel(self._reply, name=f"model_{tag}")

    def build_agent(self, task: Any, context: PlanContext) -> ToolCallAgent:
        return create_toolcall_agent(
            name=f"solver_{self.tag}_{task_id(task)}",
            llm=self.model,
            tools=[Lookup(self.lab), Publish(self.lab)],
            system_prompt=f"solver of session {self.tag} for task {task_id(task)}",
        )

    async def solve(self, task: Any, context: PlanContext, run: SubAgentRun) -> Any:
        lab, key = self.lab, str(task_id(task))
        lab.runs[key] += 1
        lab.active += 1
        lab.max_active = max(lab.max_active, lab.active)
        try:
            if isinstance(task, dict) and task.get("raise"):
                raise RuntimeError(f"solver exploded on task {key}")
            return await super().solve(task, context, run)
        finally:
            lab.active -= 1

    async def _reply(self, request: ModelRequest) -> Script:
        system = request.messages[0].content or ""
        match = _SOLVER_TAG.search(system)
        assert match is not None, system
        key = match.group(2)
        task = json.loads((request.messages[1].content or "").split("Your task: ", 1)[1])
        if task.get("tool") and not any(m.role == "tool" for m in request.messages):
            return call(task["tool"], {"item": task["id"]})
        if task.get("model_error"):
            return ModelError("the model is down")
        if key in self.lab.held:
            await self.lab.gate(key).wait()
        return f"result {key}"


class Lab:
    """Shared gates and counters of every agent one test creates (one agent per session)."""

    def __init__(self, tasks: list[dict[str, Any]] | None = None, **options: Any) -> None:
        self.tasks = THREE if tasks is None else tasks
        self.options = options
        self.plan_answer: str | None = None
        self.plan_gate = asyncio.Event()
        self.plan_gate.set()
        self.planning = asyncio.Event()
        self.aggregate_gate = asyncio.Event()
        self.aggregate_gate.set()
        self.aggregating = asyncio.Event()
        self.held: set[str] = set()
        self._gates: dict[str, asyncio.Event] = {}
        self.questions: list[str] = []
        self.runs: Counter[str] = Counter()
        self.tool_runs: Counter[str] = Counter()
        self.active = 0
        self.max_active = 0
        self.agents: list[PlanSolveAgent] = []
        self.planners: list[LabPlanner] = []
        self.solvers: list[LabSolver] = []

    def gate(self, key: str) -> asyncio.Event:
        return self._gates.setdefault(key, asyncio.Event())

    def hold(self, *keys: Any) -> None:
        self.held.update(str(k) for k in keys)

    def release(self, *keys: Any) -> None:
        for key in keys or list(self.held):
            self.gate(str(key)).set()

    def hold_planning(self) -> None:
        self.plan_gate.clear()

    def hold_aggregation(self) -> None:
        self.aggregate_gate.clear()

    def release_all(self) -> None:
        self.plan_gate.set()
        self.aggregate_gate.set()
        self.release()

    async def aggregate(self, context: PlanContext, results: list[SolverRunResult]) -> str:
        self.aggregating.set()
        await self.aggregate_gate.wait()
        return "report: " + "; ".join(f"{r.task_id}={r.status}:{r.output}" for r in results)

    def factory(self) -> PlanSolveAgent:
        tag = len(self.agents) + 1
        planner, solver = LabPlanner(self, tag), LabSolver(self, tag)
        agent = create_plan_solver(planner=planner, solver=solver, aggregator=self.aggregate, **self.options)
        self.agents.append(agent)
        self.planners.append(planner)
        self.solvers.append(solver)
        return agent

    def requests_of(self, tag: int) -> int:
        """Model calls made by session ``tag`` (its planner's and its solvers' model)."""
        return len(self.planners[tag - 1].model.requests) + len(self.solvers[tag - 1].model.requests)


# -- driving a run in process ----------------------------------------------------------------------


def label(item: Any) -> str:
    if isinstance(item, PipelineEvent):
        return item.name
    if isinstance(item, SubAgentEvent):
        return f"sub:{type(item.event).__name__}"
    return type(item).__name__


def tid_of(item: Any) -> Any:
    if isinstance(item, PipelineEvent):
        return item.metadata.get("task_id")
    return item.task_id if isinstance(item, SubAgentEvent) else None


class Recorder:
    """Consumes a run's event stream in a background task; ``wait`` for an event, ``done`` for the end."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.items: list[Any] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self._pump(stream))

    async def _pump(self, stream: AsyncIterator[Any]) -> None:
        try:
            async for item in stream:
                self.items.append(item)
                async with self._changed:
                    self._changed.notify_all()
        except Exception as exc:
            self.error = exc
        finally:
            async with self._changed:
                self._changed.notify_all()

    def find(self, name: str, task: Any = None, count: int = 1) -> Any | None:
        hits = [i for i in self.items if label(i) == name and (task is None or str(tid_of(i)) == str(task))]
        return hits[count - 1] if len(hits) >= count else None

    async def wait(self, name: str, task: Any = None, count: int = 1) -> Any:
        async def found() -> Any:
            async with self._changed:
                await self._changed.wait_for(lambda: self.find(name, task, count) is not None or self.task.done())
            hit = self.find(name, task, count)
            assert hit is not None, f"the run ended without {name} (task {task}): {self.labels()}"
            return hit

        return await asyncio.wait_for(found(), WAIT)

    async def done(self) -> list[Any]:
        await asyncio.wait_for(asyncio.shield(self.task), WAIT)
        return self.items

    async def cancel(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def labels(self, *, pipeline_only: bool = True) -> list[str]:
        return [label(i) for i in self.items if not pipeline_only or not isinstance(i, SubAgentEvent)]

    def final(self) -> str:
        answers = [i.text for i in self.items if isinstance(i, FinalAnswer)]
        assert len(answers) == 1, self.labels()
        return answers[0]

    def content(self, name: str, task: Any = None) -> Any:
        hit = self.find(name, task)
        assert hit is not None, f"no {name}: {self.labels()}"
        return hit.content


class Confirmer:
    """A confirmation callback whose requests the test answers (never decided automatically)."""

    def __init__(self) -> None:
        self.requests: asyncio.Queue[tuple[ConfirmationRequest, asyncio.Future[ConfirmationDecision]]] = asyncio.Queue()

    async def __call__(self, request: ConfirmationRequest) -> ConfirmationDecision:
        answer: asyncio.Future[ConfirmationDecision] = asyncio.get_running_loop().create_future()
        await self.requests.put((request, answer))
        return await answer

    async def next(self) -> tuple[ConfirmationRequest, asyncio.Future[ConfirmationDecision]]:
        """The next request still waiting for an answer (one withdrawn by a replan is skipped)."""
        while True:
            request, answer = await asyncio.wait_for(self.requests.get(), WAIT)
            if not answer.done():
                return request, answer


async def confirm_plan(confirmer: Confirmer, data: Any = None, confirmed: bool = True) -> ConfirmationRequest:
    request, answer = await confirmer.next()
    assert request.extra["scope"] == "plan"
    answer.set_result(ConfirmationDecision(confirmed, None, "user", data))
    return request


def start(lab: Lab, question: str = "write a report", **options: Any) -> tuple[PlanSolveAgent, Recorder, Confirmer]:
    lab.options = {**lab.options, **options}
    agent = lab.factory()
    confirmer = Confirmer()
    return agent, Recorder(agent.stream(question, confirm=confirmer)), confirmer


def only_pipeline(labels: list[str]) -> list[str]:
    return [name for name in labels if not name.startswith("sub:")]


# -- the two modes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("confirm", [False, True], ids=["no-confirm", "confirm"])
async def test_standard_mode_runs_plan_solve_aggregate_in_order(confirm: bool) -> None:
    lab = Lab(confirm_plan=confirm)
    agent, rec, confirmer = start(lab)
    if confirm:
        request = await confirm_plan(confirmer)
        assert request.extra["tasks"] == THREE and request.extra["plan_summary"] == "3 tasks: A, B, C"
    items = await rec.done()
    labels = only_pipeline(rec.labels())
    assert labels[:2] == ["plan.start", "plan.completed"]
    assert labels[-4:] == ["aggregate.start", "aggregate.completed", "pipeline.completed", "FinalAnswer"]
    middle = labels[2:-4]
    assert sorted(middle) == sorted(["solver.start", "solver.completed"] * 3)
    for key in (1, 2, 3):
        started = items.index(rec.find("solver.start", key))
        assert started < items.index(rec.find("solver.completed", key))
    assert rec.content("plan.start") == {"question": "write a report"}
    completed = rec.content("plan.completed")
    assert completed["tasks"] == THREE and completed["plan_summary"] == "3 tasks: A, B, C"
    assert rec.content("solver.completed", 2)["result"]["output"] == "result 2"
    assert rec.final().startswith("report: 1=completed:result 1; 2=completed:result 2; 3=completed:result 3")
    assert rec.content("pipeline.completed")["completed"] == 3
    assert agent.context is not None and agent.context.output == rec.content("aggregate.completed")["output"]
    assert [m.role for m in agent.memory] == ["user", "assistant"] and not agent.is_running
    # what was aggregated comes with the result; the statistics are in metadata too (older clients read them there)
    aggregated = rec.content("aggregate.completed")["context"]
    assert aggregated == {"question": "write a report", "plan_summary": "3 tasks: A, B, C", "tasks": 3}
    finished = rec.find("pipeline.completed")
    assert finished.metadata["statistics"] == finished.content["statistics"]


async def test_direct_mode_emits_solver_events_only() -> None:
    lab = Lab()
    agent = lab.factory()
    rec = Recorder(agent.solve_tasks([{"id": "x", "title": "X"}, {"id": 7}], question="q", plan_summary="s"))
    await rec.done()
    assert rec.error is None
    labels = only_pipeline(rec.labels())
    assert sorted(labels) == sorted(["solver.start", "solver.completed"] * 2)
    assert not [n for n in labels if n.split(".")[0] in ("plan", "aggregate", "pipeline")]
    assert "FinalAnswer" not in labels and lab.questions == []
    assert rec.content("solver.completed", "x")["result"]["output"] == "result x"
    assert agent.context is not None and agent.context.direct and agent.context.question == "q"


async def test_direct_mode_with_an_unusable_task_list_reports_a_coercion_error() -> None:
    agent = Lab().factory()
    rec = Recorder(agent.solve_tasks([{"title": "no id"}]))
    await rec.done()
    assert rec.labels() == ["plan.coercion_error"] and "id" in rec.content("plan.coercion_error")["error"]
    assert not agent.is_running


# -- every control in every phase ------------------------------------------------------------------

PHASES = ["planning", "confirming", "solving", "aggregating"]


async def reach(phase: str, lab: Lab, rec: Recorder, confirmer: Confirmer) -> None:
    if phase == "planning":
        await rec.wait("plan.start")
        await asyncio.wait_for(lab.planning.wait(), WAIT)
        return
    if phase == "confirming":
        await rec.wait("plan.completed")
        return
    if lab.options.get("confirm_plan"):
        await confirm_plan(confirmer)
    if phase == "solving":
        await rec.wait("solver.start", 2)
        return
    await rec.wait("aggregate.start")
    await asyncio.wait_for(lab.aggregating.wait(), WAIT)


def setup_phase(phase: str, confirm: bool) -> Lab:
    lab = Lab(confirm_plan=confirm or phase == "confirming")
    if phase == "planning":
        lab.hold_planning()
    elif phase == "solving":
        lab.hold(1, 2, 3)
    elif phase == "aggregating":
        lab.hold_aggregation()
    return lab


async def finish(lab: Lab, rec: Recorder, confirmer: Confirmer, *, answer_plan: bool) -> None:
    lab.release_all()
    if answer_plan:
        await confirm_plan(confirmer)
    await rec.done()
    assert rec.error is None


PHASE_CASES = [(p, c) for p in PHASES for c in (False, True) if not (p == "confirming" and not c)]
PHASE_IDS = [f"{p}-{'confirm' if c else 'no-confirm'}" for p, c in PHASE_CASES]


@pytest.mark.parametrize(("phase", "confirm"), PHASE_CASES, ids=PHASE_IDS)
async def test_cancel_task_only_while_solving(phase: str, confirm: bool) -> None:
    lab = setup_phase(phase, confirm)
    agent, rec, confirmer = start(lab)
    await reach(phase, lab, rec, confirmer)
    ok = agent.cancel_task(2)
    assert ok is (phase == "solving")
    await finish(lab, rec, confirmer, answer_plan=phase in ("planning", "confirming") and confirm)
    if phase == "solving":
        assert rec.find("solver.cancelled", 2) is not None and rec.find("solver.completed", 2) is None
        assert rec.find("solver.completed", 1) and rec.find("solver.completed", 3)
        assert rec.content("pipeline.completed")["cancelled"] == 1
        assert "2=cancelled" in rec.final() and "cancelled tasks: 2" in rec.final()
    else:
        assert rec.find("solver.cancelled") is None and rec.content("pipeline.completed")["completed"] == 3
    assert agent.cancel_task(2) is False  # after completion


@pytest.mark.parametrize(("phase", "confirm"), PHASE_CASES, ids=PHASE_IDS)
async def test_restart_task_while_solving_reruns_it(phase: str, confirm: bool) -> None:
    lab = setup_phase(phase, confirm)
    agent, rec, confirmer = start(lab)
    await reach(phase, lab, rec, confirmer)
    assert agent.restart_task(2) is (phase == "solving")
    if phase == "solving":
        await rec.wait("solver.start", 2, count=2)
    await finish(lab, rec, confirmer, answer_plan=phase in ("planning", "confirming") and confirm)
    if phase == "solving":
        assert lab.runs["2"] == 2 and rec.find("solver.restarted", 2) is not None
        assert rec.find("solver.cancelled") is None  # the superseded run is not reported as cancelled
        assert len([i for i in rec.items if label(i) == "solver.completed" and tid_of(i) == 2]) == 1
    else:
        assert lab.runs["2"] == 1 and rec.find("solver.restarted") is None
    assert rec.labels().count("aggregate.completed") == 1 and rec.content("pipeline.completed")["completed"] == 3


@pytest.mark.parametrize(("phase", "confirm"), PHASE_CASES, ids=PHASE_IDS)
async def test_cancel_plan_only_before_solving(phase: str, confirm: bool) -> None:
    lab = setup_phase(phase, confirm)
    agent, rec, confirmer = start(lab)
    await reach(phase, lab, rec, confirmer)
    ok = agent.cancel_plan()
    assert ok is (phase in ("planning", "confirming"))
    if ok:
        lab.release_all()
        await rec.done()
        assert only_pipeline(rec.labels())[-2:] == ["plan.cancelled", "FinalAnswer"]
        assert rec.content("plan.cancelled") == {"question": "write a report", "reason": "cancel_plan"}
        assert rec.find("solver.start") is None and "计划已取消" in rec.final()
        assert lab.runs == Counter()
    else:
        await finish(lab, rec, confirmer, answer_plan=False)
        assert rec.content("pipeline.completed")["completed"] == 3
    assert not agent.is_running and agent.cancel_plan() is False


@pytest.mark.parametrize(("phase", "confirm"), PHASE_CASES, ids=PHASE_IDS)
async def test_replan_only_before_solving(phase: str, confirm: bool) -> None:
    lab = setup_phase(phase, confirm)
    agent, rec, confirmer = start(lab)
    await reach(phase, lab, rec, confirmer)
    ok = agent.replan("a new question")
    assert ok is (phase in ("planning", "confirming"))
    if ok:
        assert (await rec.wait("plan.start", count=2)).content == {"question": "a new question"}
    await finish(lab, rec, confirmer, answer_plan=(ok and confirm) or (phase == "planning" and confirm))
    assert rec.content("pipeline.completed")["completed"] == 3 and rec.find("plan.cancelled") is None
    if ok:
        assert lab.questions[-1] == "a new question" and agent.last_question == "a new question"
        assert rec.labels().count("plan.completed") == (2 if phase == "confirming" else 1)
    else:
        assert lab.questions == ["write a report"]


@pytest.mark.parametrize(("phase", "confirm"), PHASE_CASES, ids=PHASE_IDS)
async def test_cancelling_the_stream_stops_everything_and_the_agent_runs_again(phase: str, confirm: bool) -> None:
    lab = setup_phase(phase, confirm)
    agent, rec, confirmer = start(lab)
    await reach(phase, lab, rec, confirmer)
    await rec.cancel()  # what user.cancel does to the server's run task
    assert not agent.is_running and "FinalAnswer" not in rec.labels()
    assert lab.active == 0
    lab.release_all()
    again = Recorder(agent.stream("again", confirm=confirmer))
    if lab.options.get("confirm_plan"):
        await confirm_plan(confirmer)
    await again.done()
    assert again.content("pipeline.completed")["completed"] == 3


async def test_controls_when_idle() -> None:
    lab = Lab()
    agent = lab.factory()
    assert agent.last_question is None
    assert not (agent.cancel_task(1) or agent.restart_task(1) or agent.cancel_plan() or agent.replan("x"))
    rec = Recorder(agent.stream("first question"))
    await rec.done()
    assert not (agent.cancel_task(1) or agent.restart_task(1) or agent.cancel_plan() or agent.replan("x"))
    assert agent.last_question == "first question"


async def test_rerun_after_completion_solves_one_task_and_aggregates_again() -> None:
    lab = Lab()
    agent = lab.factory()
    await Recorder(agent.stream("q")).done()
    rerun = Recorder(agent.rerun_task("2"))  # ids match loosely: "2" names task 2
    await rerun.done()
    assert only_pipeline(rerun.labels()) == [
        "solver.restarted",
        "solver.start",
        "solver.completed",
        "aggregate.start",
        "aggregate.completed",
        "pipeline.completed",
        "FinalAnswer",
    ]
    assert lab.runs == Counter({"1": 1, "2": 2, "3": 1})
    assert rerun.content("pipeline.completed")["completed"] == 3
    missing = Recorder(agent.rerun_task(99))
    await missing.done()
    assert isinstance(missing.error, LookupError) and not agent.is_running


async def test_restart_then_cancel_at_once_leaves_no_solver_behind() -> None:
    """A client may send restart_task and cancel_task back to back: both are handled before any task runs."""
    lab = Lab()
    lab.hold(1, 2, 3)
    agent, rec, _ = start(lab)
    await rec.wait("solver.start", 3)
    assert agent.restart_task(2) and agent.cancel_task(2)
    lab.release(1, 3)
    await rec.wait("aggregate.completed")
    lab.release(2)  # had the first run of task 2 survived, it would now complete
    await rec.done()
    assert rec.find("solver.cancelled", 2) is not None and rec.find("solver.completed", 2) is None
    assert rec.content("pipeline.completed")["cancelled"] == 1 and lab.active == 0
    labels = only_pipeline(rec.labels())
    assert labels.index("aggregate.start") > max(i for i, n in enumerate(labels) if n.startswith("solver."))


async def test_two_restarts_at_once_run_the_task_once_more() -> None:
    lab = Lab()
    lab.hold(2)
    agent, rec, _ = start(lab)
    await rec.wait("solver.start", 2)
    assert agent.restart_task(2) and agent.restart_task(2)
    lab.release(2)
    await rec.done()
    assert lab.runs["2"] == 2 and lab.active == 0  # the first restart was superseded before it began
    assert len([i for i in rec.items if label(i) == "solver.restarted"]) == 2
    assert len([i for i in rec.items if label(i) == "solver.completed" and tid_of(i) == 2]) == 1
    assert rec.find("solver.cancelled") is None and rec.content("pipeline.completed")["completed"] == 3


async def test_cancel_then_restart_runs_the_task_again() -> None:
    lab = Lab()
    lab.hold(1, 2)
    agent, rec, _ = start(lab)
    await rec.wait("solver.start", 2)
    assert agent.cancel_task(2)
    await rec.wait("solver.cancelled", 2)
    assert agent.restart_task(2)
    lab.release(1, 2)
    await rec.done()
    assert rec.find("solver.completed", 2) is not None and rec.content("pipeline.completed")["completed"] == 3


# -- plans: confirmation, edits, refusal, bad tasks ------------------------------------------------


async def test_edited_plan_replaces_the_tasks() -> None:
    lab = Lab(confirm_plan=True)
    agent, rec, confirmer = start(lab)
    edited = [{"id": 10, "title": "Ten"}, {"id": "eleven", "title": "Eleven"}]
    await confirm_plan(confirmer, data=edited)
    await rec.done()
    assert sorted(str(tid_of(i)) for i in rec.items if label(i) == "solver.start") == ["10", "eleven"]
    assert agent.context is not None and agent.context.tasks == edited
    assert "10=completed:result 10; eleven=completed:result eleven" in rec.final()


@pytest.mark.parametrize(
    "edited",
    [[{"id": 1}, {"id": 1}], [{"id": 1}, {"title": "no id"}], {"id": 1}, "tasks", [], [{"id": True}], [3]],
    ids=["duplicate-ids", "missing-id", "not-a-list", "a-string", "empty", "bool-id", "not-an-object"],
)
async def test_bad_edited_plan_ends_the_run_with_a_coercion_error(edited: Any) -> None:
    lab = Lab(confirm_plan=True)
    agent, rec, confirmer = start(lab)
    await confirm_plan(confirmer, data=edited)
    await rec.done()
    assert rec.error is None
    assert only_pipeline(rec.labels())[-2:] == ["plan.coercion_error", "FinalAnswer"]
    assert rec.find("solver.start") is None and "Invalid task list" in rec.final()
    assert not agent.is_running
    again = Recorder(agent.stream("again", confirm=confirmer))
    await confirm_plan(confirmer)
    await again.done()
    assert again.content("pipeline.completed")["completed"] == 3


@pytest.mark.parametrize("reason", ["user", "timeout"])
async def test_refused_or_expired_plan_runs_nothing(reason: str) -> None:
    lab = Lab(confirm_plan=True)
    _agent, rec, confirmer = start(lab)
    _, answer = await confirmer.next()
    answer.set_result(ConfirmationDecision(False, None, reason))  # type: ignore[arg-type]
    await rec.done()
    assert only_pipeline(rec.labels()) == ["plan.start", "plan.completed", "plan.cancelled", "FinalAnswer"]
    assert rec.content("plan.cancelled")["reason"] == reason and lab.runs == Counter()


async def test_plan_confirmation_without_a_handler_is_refused() -> None:
    lab = Lab(confirm_plan=True)
    agent = lab.factory()
    rec = Recorder(agent.stream("q"))  # no confirm callback: nothing is approved by default
    await rec.done()
    assert rec.content("plan.cancelled")["reason"] == "no_handler" and lab.runs == Counter()


async def test_planner_answer_without_tasks_is_a_coercion_error() -> None:
    lab = Lab()
    lab.plan_answer = "I cannot plan that."
    agent = lab.factory()
    rec = Recorder(agent.stream("q"))
    await rec.done()
    assert only_pipeline(rec.labels()) == ["plan.start", "plan.coercion_error", "FinalAnswer"]


async def test_a_failing_planner_fails_the_run() -> None:
    class Broken(PlanAgent):
        async def plan(self, question: str, run: SubAgentRun) -> tuple[list[Any], str]:
            raise RuntimeError("planner bug")

    agent = create_plan_solver(planner=Broken(), solver=LabSolver(Lab(), 1))
    rec = Recorder(agent.stream("q"))
    await rec.done()
    assert isinstance(rec.error, RuntimeError) and not agent.is_running


# -- solvers ---------------------------------------------------------------------------------------


async def test_a_failing_solver_is_reported_and_the_others_are_aggregated() -> None:
    tasks = [{"id": 1}, {"id": 2, "raise": True}, {"id": 3, "model_error": True}]
    lab = Lab(tasks)
    _agent, rec, _ = start(lab)
    await rec.done()
    assert rec.content("solver.failed", 2)["error"] == "RuntimeError: solver exploded on task 2"
    assert "the model is down" in rec.content("solver.failed", 3)["error"]
    assert rec.find("solver.completed", 1) is not None
    assert rec.content("pipeline.completed") | {"statistics": None} == {
        "statistics": None,
        "tasks": 3,
        "completed": 1,
        "failed": 2,
        "cancelled": 0,
    }
    assert "2=failed" in rec.final() and "failed tasks: 2, 3" in rec.final()
    results = rec.content("aggregate.completed")["solver_results"]
    assert [r["status"] for r in results] == ["completed", "failed", "failed"]


async def test_concurrency_limits_the_solvers_running_at_once() -> None:
    tasks = [{"id": n} for n in range(1, 6)]
    lab = Lab(tasks, concurrency=2)
    lab.hold(1, 2, 3, 4, 5)
    _agent, rec, _ = start(lab)
    await rec.wait("solver.start", 1)
    await rec.wait("solver.start", 2)
    assert lab.active == 2 and rec.find("solver.start", 3) is None
    for n in range(1, 6):
        lab.release(n)
        await rec.wait("solver.completed", n)
        assert lab.active <= 2
    await rec.done()
    assert lab.max_active == 2 and rec.content("pipeline.completed")["completed"] == 5
    with pytest.raises(ValueError, match="concurrency"):
        create_plan_solver(planner=LabPlanner(lab, 9), solver=LabSolver(lab, 9), concurrency=0)


async def test_sub_agent_activity_is_forwarded_with_its_task() -> None:
    lab = Lab([{"id": 1, "tool": "lookup"}])
    _agent, rec, _ = start(lab)
    await rec.done()
    subs = [i for i in rec.items if isinstance(i, SubAgentEvent)]
    assert {i.origin for i in subs} == {"plan", "solver"}
    solver_events = [i for i in subs if i.origin == "solver"]
    assert {i.task_id for i in solver_events} == {1} and {i.agent for i in solver_events} == {"solver_1_1"}
    kinds = {type(i.event) for i in solver_events}
    assert {StepStarted, ToolCallStarted, ToolCallFinished, ModelCallFinished, FinalAnswer} <= kinds
    assert lab.tool_runs["lookup"] == 1
    assert all(i.task_id is None for i in subs if i.origin == "plan")


@pytest.mark.parametrize("approve", [False, True])
async def test_a_sub_agent_tool_needing_confirmation_asks_the_user(approve: bool) -> None:
    lab = Lab([{"id": 4, "tool": "publish"}])
    _agent, rec, confirmer = start(lab)
    request, answer = await confirmer.next()
    assert request.tool_name == "publish" and request.extra["task_id"] == 4 and request.extra["origin"] == "solver"
    assert lab.tool_runs["publish"] == 0
    answer.set_result(ConfirmationDecision(approve))
    await rec.done()
    assert lab.tool_runs["publish"] == (1 if approve else 0)
    finished = [i.event for i in rec.items if isinstance(i, SubAgentEvent) and isinstance(i.event, ToolCallFinished)]
    assert len(finished) == 1 and (finished[0].status == "ok") is approve


async def test_a_sub_agent_tool_needing_confirmation_is_refused_without_a_handler() -> None:
    lab = Lab([{"id": 4, "tool": "publish"}])
    agent = lab.factory()
    rec = Recorder(agent.stream("q"))
    await rec.done()
    assert lab.tool_runs["publish"] == 0 and rec.content("pipeline.completed")["completed"] == 1
