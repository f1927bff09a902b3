"""Plan & Solve over a real WebSocket: both modes, every control in every phase, confirmations,
statistics per session, signed state, and the example ``examples/plan_solve_report.py``.

The server runs in the test's event loop, so the :class:`~tests.test_plan_solve.Lab` gates the
test opens are the ones the server's planner, solvers and aggregator wait on. Nothing sleeps: the
test waits for frames (bounded by ``WAIT``), and for the end of a run by awaiting the session's run
task, never by time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from myagent.llm.offline import OfflineModel
from myagent.protocol.rules import closes_run
from myagent.ws.server import AgentWebSocketServer
from tests.fakes.memory_socket import in_process_server
from tests.harness import WAIT, Client, find_session
from tests.test_plan_solve import THREE, Lab
from tests.test_plan_solve_example import csv_sql, load_example

PIPELINE_PREFIXES = ("plan.", "aggregate.", "pipeline.")


class Watch:
    """A client plus lookups over everything it received; ``mark()`` scopes lookups to what follows."""

    def __init__(self, client: Client, server: AgentWebSocketServer) -> None:
        self.client = client
        self.server = server
        self.since = 0

    @property
    def sid(self) -> str:
        assert self.client.session_id is not None
        return self.client.session_id

    def mark(self) -> None:
        self.since = len(self.client.frames)

    def frames(self) -> list[dict[str, Any]]:
        return self.client.frames[self.since :]

    def events(self) -> list[str]:
        return [f["event"] for f in self.frames()]

    def pipeline(self) -> list[str]:
        """The run's milestones and closing event (sub-agent activity and notices left out)."""
        keep = ("plan.", "solver.", "aggregate.", "pipeline.", "agent.final_answer", "agent.interrupted")
        return [e for e in self.events() if e.startswith(keep) or e == "agent.user_confirm"]

    def find(self, event: str, task: Any = None, count: int = 1, **metadata: Any) -> dict[str, Any] | None:
        hits = [
            f
            for f in self.frames()
            if f["event"] == event
            and (task is None or str(f.get("metadata", {}).get("task_id")) == str(task))
            and all(f.get("metadata", {}).get(k) == v for k, v in metadata.items())
        ]
        return hits[count - 1] if len(hits) >= count else None

    def all(self, event: str, task: Any = None) -> list[dict[str, Any]]:
        return [
            f
            for f in self.frames()
            if f["event"] == event and (task is None or str(f.get("metadata", {}).get("task_id")) == str(task))
        ]

    async def wait(self, event: str, task: Any = None, count: int = 1, **metadata: Any) -> dict[str, Any]:
        while (hit := self.find(event, task, count, **metadata)) is None:
            await self.client.recv()
        return hit

    async def send(self, event: str, **fields: Any) -> None:
        await self.client.send(event, session_id=self.sid, **fields)

    async def notice(self, action: str) -> dict[str, Any]:
        return await self.wait("system.notice", action=action)

    async def closing(self) -> dict[str, Any]:
        while not (hits := [f for f in self.frames() if closes_run(f["event"], f.get("seq"))]):
            await self.client.recv()
        return hits[0]

    async def run_over(self) -> None:
        """The session's run task has ended (its every frame was sent before that)."""
        session = find_session(self.server, self.sid)
        assert session is not None
        if session.run_task is not None:
            await asyncio.wait_for(asyncio.gather(session.run_task, return_exceptions=True), WAIT)

    async def idle_marker(self) -> dict[str, Any]:
        """Prove the session idle: ``user.cancel`` on an idle session is refused (after all earlier frames)."""
        await self.run_over()
        await self.send("user.cancel")
        return await self.wait("agent.error")

    async def confirm_plan(self, **answer: Any) -> dict[str, Any]:
        request = await self.wait("agent.user_confirm", scope="plan")
        await self.send("user.response", step_id=request["step_id"], content={"confirmed": True, **answer})
        return request


@contextlib.asynccontextmanager
async def serve(lab: Lab, **options: Any) -> AsyncIterator[Watch]:
    async with in_process_server(lab.factory, **options) as server:
        client = await Client.connect(server.url)
        try:
            await client.create_session()
            yield Watch(client, server)
        finally:
            await client.close()


def content(frame: dict[str, Any] | None) -> Any:
    assert frame is not None
    return frame["content"]


# -- the two modes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("confirm", [False, True], ids=["no-confirm", "confirm"])
async def test_standard_mode_over_the_websocket(confirm: bool) -> None:
    lab = Lab(confirm_plan=confirm)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        if confirm:
            request = await ws.confirm_plan()
            assert request["metadata"]["tasks"] == THREE and request["metadata"]["plan_summary"] == "3 tasks: A, B, C"
        final = await ws.closing()
        assert final["event"] == "agent.final_answer"
        milestones = ws.pipeline()
        head = ["plan.start", "plan.completed", *(["agent.user_confirm"] if confirm else [])]
        assert milestones[: len(head)] == head
        tail = ["aggregate.start", "aggregate.completed", "pipeline.completed", "agent.final_answer"]
        assert milestones[-4:] == tail
        assert sorted(milestones[len(head) : -4]) == sorted(["solver.start", "solver.completed"] * 3)
        for key in (1, 2, 3):
            frames = ws.frames()
            started, completed = ws.find("solver.start", key), ws.find("solver.completed", key)
            assert started is not None and completed is not None
            assert frames.index(started) < frames.index(completed)
            result = content(ws.find("solver.completed", key))["result"]
            assert result["output"] == f"result {key}" and result["agent_name"] == f"solver_1_{key}"
        assert content(ws.find("plan.start")) == {"question": "write a report"}
        finished = ws.find("pipeline.completed")
        assert finished is not None and content(finished)["completed"] == 3
        assert finished["metadata"]["statistics"] == content(finished)["statistics"]
        assert content(ws.find("aggregate.completed"))["context"]["question"] == "write a report"
        assert final["content"].startswith("report: 1=completed:result 1")
        seqs = [f["seq"] for f in ws.frames() if "seq" in f]
        assert seqs == sorted(seqs)


async def test_direct_mode_over_the_websocket_sends_solver_events_only() -> None:
    lab = Lab()
    async with serve(lab) as ws:
        tasks = [{"id": 1, "title": "X"}, {"id": "b", "title": "Y"}]
        await ws.send("user.solve_tasks", content={"tasks": tasks, "question": "q"})
        notice = await ws.notice("solve_tasks")
        assert notice["metadata"]["ok"] is True and notice["metadata"]["tasks"] == 2
        await ws.wait("solver.completed", 1)
        await ws.wait("solver.completed", "b")
        error = await ws.idle_marker()
        assert error["metadata"]["error_code"] == "NO_ACTIVE_RUN"
        assert sorted(ws.pipeline()) == sorted(["solver.start", "solver.completed"] * 2 + ["pipeline.tasks_completed"])
        assert ws.pipeline()[-1] == "pipeline.tasks_completed"  # the one closing event of a direct run
        assert not [e for e in ws.events() if e.startswith(PIPELINE_PREFIXES) and e != "pipeline.tasks_completed"]
        assert not [f for f in ws.frames() if closes_run(f["event"], f.get("seq")) and f["event"].startswith("agent.")]
        assert lab.questions == []
        # after a direct run, restarting a task re-runs it, still without aggregation
        ws.mark()
        await ws.send("user.restart_task", content={"task_id": "b"})
        assert (await ws.notice("restart_task"))["metadata"]["ok"] is True
        await ws.wait("solver.completed", "b")
        await ws.idle_marker()
        assert ws.pipeline() == ["solver.restarted", "solver.start", "solver.completed", "pipeline.tasks_completed"]
        assert lab.runs == {"1": 1, "b": 2}


async def test_direct_mode_controls_and_errors() -> None:
    lab = Lab()
    lab.hold(1, 2)
    async with serve(lab) as ws:
        await ws.send("user.solve_tasks", content={"tasks": [{"id": 1}, {"id": 2}]})
        await ws.wait("solver.start", 2)
        await ws.send("user.solve_tasks", content={"tasks": [{"id": 3}]})
        assert (await ws.wait("agent.error"))["metadata"]["error_code"] == "SESSION_BUSY"
        await ws.send("user.cancel_task", content={"task_id": 1})
        assert (await ws.notice("cancel_task"))["metadata"] == {"action": "cancel_task", "ok": True, "task_id": 1}
        await ws.wait("solver.cancelled", 1)
        lab.release()
        await ws.wait("solver.completed", 2)
        await ws.idle_marker()
        assert ws.find("solver.completed", 1) is None and ws.find("agent.final_answer") is None
        ws.mark()
        await ws.send("user.solve_tasks", content={"tasks": [{"id": 1}, {"id": 1}]})
        await ws.wait("plan.coercion_error")
        assert "unique" in content(ws.find("plan.coercion_error"))["error"]


# -- every control in every phase ------------------------------------------------------------------

PHASES = ["planning", "confirming", "solving", "aggregating", "idle"]
CASES = [(p, c) for p in PHASES for c in (False, True) if not (p == "confirming" and not c)]
IDS = [f"{p}-{'confirm' if c else 'no-confirm'}" for p, c in CASES]


def lab_for(phase: str, confirm: bool) -> Lab:
    lab = Lab(confirm_plan=confirm)
    if phase == "planning":
        lab.hold_planning()
    elif phase == "solving":
        lab.hold(1, 2, 3)
    elif phase == "aggregating":
        lab.hold_aggregation()
    return lab


async def reach(phase: str, lab: Lab, ws: Watch) -> None:
    """Start a pipeline and stop in ``phase`` (for ``idle``: after it finished)."""
    await ws.send("user.message", content="write a report")
    if phase == "planning":
        await ws.wait("plan.start")
        await asyncio.wait_for(lab.planning.wait(), WAIT)
        return
    if lab.options.get("confirm_plan"):
        if phase == "confirming":
            await ws.wait("agent.user_confirm", scope="plan")
            return
        await ws.confirm_plan()
    if phase == "solving":
        await ws.wait("solver.start", 2)
    elif phase == "aggregating":
        await ws.wait("aggregate.start")
        await asyncio.wait_for(lab.aggregating.wait(), WAIT)
    else:
        await ws.closing()
        await ws.run_over()
    ws.mark()


async def finish(phase: str, lab: Lab, ws: Watch, *, replanned: bool = False) -> dict[str, Any]:
    """Let a run the control did not end go on to its closing event."""
    lab.release_all()
    if (lab.options.get("confirm_plan") and (phase == "planning" or replanned)) or phase == "confirming":
        await ws.confirm_plan()
    return await ws.closing()


@pytest.mark.parametrize(("phase", "confirm"), CASES, ids=IDS)
async def test_cancel_task_in_every_phase(phase: str, confirm: bool) -> None:
    lab = lab_for(phase, confirm)
    async with serve(lab) as ws:
        await reach(phase, lab, ws)
        await ws.send("user.cancel_task", content={"task_id": 2})
        notice = await ws.notice("cancel_task")
        assert notice["metadata"] == {"action": "cancel_task", "ok": phase == "solving", "task_id": 2}
        if phase == "idle":
            return
        final = await finish(phase, lab, ws)
        assert final["event"] == "agent.final_answer"
        stats = content(ws.find("pipeline.completed"))
        if phase == "solving":
            assert content(ws.find("solver.cancelled", 2)) == {"task": {"id": 2, "title": "B"}}
            assert ws.find("solver.completed", 2) is None
            assert ws.find("solver.completed", 1) and ws.find("solver.completed", 3)  # the others went on
            assert (stats["completed"], stats["cancelled"]) == (2, 1)
            results = content(ws.find("aggregate.start"))["solver_results"]
            assert [r["status"] for r in results] == ["completed", "cancelled", "completed"]
            assert "2=cancelled" in final["content"] and "cancelled tasks: 2" in final["content"]
        else:
            assert ws.find("solver.cancelled") is None and stats["completed"] == 3


@pytest.mark.parametrize(("phase", "confirm"), CASES, ids=IDS)
async def test_restart_task_in_every_phase(phase: str, confirm: bool) -> None:
    lab = lab_for(phase, confirm)
    async with serve(lab) as ws:
        await reach(phase, lab, ws)
        await ws.send("user.restart_task", content={"task_id": 2})
        notice = await ws.notice("restart_task")
        assert notice["metadata"] == {"action": "restart_task", "ok": phase in ("solving", "idle"), "task_id": 2}
        if phase == "solving":
            await ws.wait("solver.start", 2)  # the new run (frames before the phase are marked off)
        final = await finish(phase, lab, ws)
        assert final["event"] == "agent.final_answer"
        assert content(ws.find("pipeline.completed"))["completed"] == 3
        if phase == "idle":  # one task again, then a new aggregation and answer; no planning
            assert ws.pipeline() == [
                "solver.restarted",
                "solver.start",
                "solver.completed",
                "aggregate.start",
                "aggregate.completed",
                "pipeline.completed",
                "agent.final_answer",
            ]
            assert lab.runs == {"1": 1, "2": 2, "3": 1}
        elif phase == "solving":
            assert lab.runs["2"] == 2 and ws.find("solver.restarted", 2) is not None
            assert ws.find("solver.cancelled") is None and len(ws.all("solver.completed", 2)) == 1
            assert ws.events().count("aggregate.completed") == 1
        else:
            assert lab.runs["2"] == 1 and ws.find("solver.restarted") is None


@pytest.mark.parametrize(("phase", "confirm"), CASES, ids=IDS)
async def test_cancel_plan_in_every_phase(phase: str, confirm: bool) -> None:
    lab = lab_for(phase, confirm)
    async with serve(lab) as ws:
        await reach(phase, lab, ws)
        await ws.send("user.cancel_plan")
        ok = phase in ("planning", "confirming")
        assert (await ws.notice("cancel_plan"))["metadata"] == {"action": "cancel_plan", "ok": ok}
        if phase == "idle":
            return
        if ok:
            final = await ws.closing()
            lab.release_all()
            assert ws.pipeline()[-2:] == ["plan.cancelled", "agent.final_answer"]
            assert content(ws.find("plan.cancelled")) == {"question": "write a report", "reason": "cancel_plan"}
            assert final["event"] == "agent.final_answer" and "计划已取消" in final["content"]
            assert ws.find("solver.start") is None and not lab.runs
        else:
            final = await finish(phase, lab, ws)
            assert final["event"] == "agent.final_answer" and ws.find("plan.cancelled") is None


@pytest.mark.parametrize(("phase", "confirm"), CASES, ids=IDS)
async def test_replan_in_every_phase(phase: str, confirm: bool) -> None:
    lab = lab_for(phase, confirm)
    async with serve(lab) as ws:
        await reach(phase, lab, ws)
        stale = ws.find("agent.user_confirm", scope="plan") if phase == "confirming" else None
        await ws.send("user.replan", content={"question": "a new question"})
        ok = phase in ("planning", "confirming", "idle")
        assert (await ws.notice("replan"))["metadata"] == {"action": "replan", "ok": ok}
        if ok:
            assert content(await ws.wait("plan.start", count=2 if phase != "idle" else 1)) == {
                "question": "a new question"
            }
        if stale is not None:  # the withdrawn plan confirmation can no longer be answered
            await ws.send("user.response", step_id=stale["step_id"], content={"confirmed": True})
            assert (await ws.wait("agent.error"))["metadata"]["error_code"] == "STEP_ALREADY_ANSWERED"
        if ok:
            ws.mark()  # what follows belongs to the new plan
        final = await finish(phase, lab, ws, replanned=ok)
        assert final["event"] == "agent.final_answer" and ws.find("plan.cancelled") is None
        assert content(ws.find("pipeline.completed"))["completed"] == 3
        assert lab.questions[-1] == ("a new question" if ok else "write a report")


async def test_replan_when_idle_without_a_question_plans_the_last_one_again() -> None:
    lab = Lab()
    async with serve(lab) as ws:
        await ws.send("user.replan")
        assert (await ws.notice("replan"))["metadata"]["ok"] is False  # nothing asked yet
        await reach("idle", lab, ws)
        await ws.send("user.replan")
        assert (await ws.notice("replan"))["metadata"]["ok"] is True
        await ws.closing()
        assert content(ws.find("plan.start")) == {"question": "write a report"}
        assert lab.questions == ["write a report", "write a report"]


@pytest.mark.parametrize(("phase", "confirm"), [c for c in CASES if c[0] != "idle"], ids=IDS[:-2])
async def test_user_cancel_in_every_phase_and_the_session_goes_on(phase: str, confirm: bool) -> None:
    lab = lab_for(phase, confirm)
    async with serve(lab) as ws:
        await reach(phase, lab, ws)
        await ws.send("user.cancel")
        interrupted = await ws.closing()
        assert interrupted["event"] == "agent.interrupted"
        await ws.run_over()
        assert lab.active == 0 and ws.find("agent.final_answer") is None
        session = find_session(ws.server, ws.sid)
        assert session is not None and not session.confirmations.pending
        lab.release_all()
        ws.mark()
        await ws.send("user.message", content="once more")
        if confirm:
            await ws.confirm_plan()
        final = await ws.closing()
        assert final["event"] == "agent.final_answer" and content(ws.find("pipeline.completed"))["completed"] == 3


async def test_user_cancel_when_idle_is_refused() -> None:
    lab = Lab()
    async with serve(lab) as ws:
        await reach("idle", lab, ws)
        assert (await ws.idle_marker())["metadata"]["error_code"] == "NO_ACTIVE_RUN"


# -- plans: edits, bad edits, refusal --------------------------------------------------------------


async def test_an_edited_plan_replaces_the_tasks() -> None:
    lab = Lab(confirm_plan=True)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        edited = [{"id": 1, "title": "A2"}, {"id": 9, "title": "Nine"}]
        await ws.confirm_plan(tasks=edited)
        final = await ws.closing()
        assert sorted(str(f["metadata"]["task_id"]) for f in ws.all("solver.start")) == ["1", "9"]
        assert content(ws.find("solver.start", 1))["task"] == {"id": 1, "title": "A2"}
        assert final["content"].startswith("report: 1=completed:result 1; 9=completed:result 9")
        assert lab.runs == {"1": 1, "9": 1}


@pytest.mark.parametrize(
    ("tasks", "error"),
    [
        ([{"id": 1}, {"id": 1}], "unique"),
        ([{"id": 1}, {"title": "no id"}], "id"),
        ([], "non-empty list"),
        ([{"id": 1}, "two"], "id"),
    ],
    ids=["duplicate-ids", "missing-id", "empty", "not-an-object"],
)
async def test_a_bad_edited_plan_ends_the_run_cleanly(tasks: list[Any], error: str) -> None:
    lab = Lab(confirm_plan=True)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        await ws.confirm_plan(tasks=tasks)
        final = await ws.closing()
        assert ws.pipeline()[-2:] == ["plan.coercion_error", "agent.final_answer"]
        assert error in content(ws.find("plan.coercion_error"))["error"]
        assert "Invalid task list" in final["content"] and ws.find("solver.start") is None
        await ws.run_over()
        ws.mark()
        await ws.send("user.message", content="again")
        await ws.confirm_plan()
        assert (await ws.closing())["event"] == "agent.final_answer"


@pytest.mark.parametrize("tasks", [{"id": 1}, "1, 2", 3], ids=["object", "string", "number"])
async def test_an_edited_plan_that_is_not_a_list_is_refused_and_the_plan_still_waits(tasks: Any) -> None:
    """On the wire ``tasks`` must be an array: frame validation refuses anything else before the
    pipeline sees it (in process, such a value gives ``plan.coercion_error``), so the user can answer again."""
    lab = Lab(confirm_plan=True)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        request = await ws.wait("agent.user_confirm", scope="plan")
        await ws.send("user.response", step_id=request["step_id"], content={"confirmed": True, "tasks": tasks})
        error = await ws.wait("agent.error")
        assert error["metadata"]["error_code"] == "INVALID_FIELD" and error["metadata"]["details"] == {"field": "tasks"}
        await ws.send("user.response", step_id=request["step_id"], content={"confirmed": True})
        assert (await ws.closing())["event"] == "agent.final_answer"
        assert content(ws.find("pipeline.completed"))["completed"] == 3


async def test_a_refused_plan_runs_nothing() -> None:
    lab = Lab(confirm_plan=True)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        request = await ws.wait("agent.user_confirm", scope="plan")
        await ws.send("user.response", step_id=request["step_id"], content={"confirmed": False})
        final = await ws.closing()
        assert ws.pipeline() == [
            "plan.start",
            "plan.completed",
            "agent.user_confirm",
            "plan.cancelled",
            "agent.final_answer",
        ]
        assert content(ws.find("plan.cancelled"))["reason"] == "user" and "计划未获确认" in final["content"]
        assert not lab.runs


# -- solvers ---------------------------------------------------------------------------------------


async def test_a_failing_solver_is_reported_and_the_rest_aggregated() -> None:
    lab = Lab([{"id": 1}, {"id": 2, "raise": True}, {"id": 3}])
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        final = await ws.closing()
        failed = content(ws.find("solver.failed", 2))
        assert failed["error"] == "RuntimeError: solver exploded on task 2" and failed["task"]["id"] == 2
        assert ws.find("solver.completed", 1) and ws.find("solver.completed", 3)
        stats = content(ws.find("pipeline.completed"))
        assert (stats["completed"], stats["failed"]) == (2, 1)
        assert final["event"] == "agent.final_answer" and "failed tasks: 2" in final["content"]


async def test_concurrency_is_honoured() -> None:
    lab = Lab([{"id": n} for n in range(1, 6)], concurrency=2)
    lab.hold(1, 2, 3, 4, 5)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        await ws.wait("solver.start", 1)
        await ws.wait("solver.start", 2)
        assert lab.active == 2 and ws.find("solver.start", 3) is None
        for n in (2, 1, 4, 3, 5):
            lab.release(n)
            await ws.wait("solver.completed", n)
            assert lab.active <= 2
        await ws.closing()
        assert lab.max_active == 2 and content(ws.find("pipeline.completed"))["completed"] == 5
        starts = [f["metadata"]["task_id"] for f in ws.all("solver.start")]
        assert sorted(starts) == [1, 2, 3, 4, 5]


async def test_sub_agent_activity_is_forwarded_with_its_task() -> None:
    lab = Lab([{"id": 7, "tool": "lookup"}])
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        await ws.closing()
        for event in ("agent.thinking", "agent.tool_call", "agent.tool_result", "agent.partial_answer"):
            frames = ws.all(event, 7)
            assert frames, event
            assert all(f["metadata"]["origin"] == "solver" and f["metadata"]["agent"] == "solver_1_7" for f in frames)
        call = ws.find("agent.tool_call", 7)
        assert call is not None and call["metadata"]["tool_name"] == "lookup"
        assert ws.find("agent.tool_result", 7)["content"] == "found 7"  # type: ignore[index]
        assert "".join(f["content"] for f in ws.all("agent.partial_answer", 7)) == "result 7"
        planner = [f for f in ws.all("agent.thinking") if f["metadata"]["origin"] == "plan"]
        assert planner and all("task_id" not in f["metadata"] for f in planner)
        assert lab.tool_runs["lookup"] == 1


@pytest.mark.parametrize("approve", [False, True], ids=["refused", "approved"])
async def test_a_sub_agent_tool_needing_confirmation_asks_the_user(approve: bool) -> None:
    lab = Lab([{"id": 4, "tool": "publish"}, {"id": 5}])
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        request = await ws.wait("agent.user_confirm", scope="tool")
        assert request["metadata"]["task_id"] == 4 and request["metadata"]["tool_name"] == "publish"
        assert lab.tool_runs["publish"] == 0  # never approved on its own
        await ws.send("user.response", step_id=request["step_id"], content={"confirmed": approve})
        final = await ws.closing()
        assert final["event"] == "agent.final_answer"
        assert lab.tool_runs["publish"] == (1 if approve else 0)
        result = ws.find("agent.tool_result", 4)
        assert result is not None and (result["metadata"]["status"] == "success") is approve


# -- statistics and state --------------------------------------------------------------------------


async def test_statistics_belong_to_each_session() -> None:
    lab = Lab([{"id": 1, "tool": "lookup"}, {"id": 2}])
    lab.hold(1, 2)
    async with in_process_server(lab.factory) as server:
        first, second = await Client.connect(server.url), await Client.connect(server.url)
        try:
            await first.create_session()
            await second.create_session()
            a, b = Watch(first, server), Watch(second, server)
            await a.send("user.message", content="first")
            await b.send("user.message", content="second")
            await a.wait("solver.start", 2)
            await b.wait("solver.start", 2)  # both pipelines are solving at the same time
            lab.release()
            await a.closing()
            await b.closing()
            for watch, tag in ((a, 1), (b, 2)):
                stats = content(watch.find("pipeline.completed"))["statistics"]
                assert len(stats) == lab.requests_of(tag) == 4
                assert {s["agent"] for s in stats} == {f"planner_{tag}", f"solver_{tag}_1", f"solver_{tag}_2"}
                assert sorted(str(s["task_id"]) for s in stats) == ["1", "1", "2", "None"]
                plan_stats = content(watch.find("plan.completed"))["statistics"]
                assert [s["agent"] for s in plan_stats] == [f"planner_{tag}"]
        finally:
            await first.close()
            await second.close()


async def test_signed_state_keeps_the_plan_for_a_restart_on_another_server() -> None:
    lab = Lab(confirm_plan=True)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        await ws.confirm_plan(tasks=[{"id": 1, "title": "One"}, {"id": 2, "title": "Two"}])
        await ws.closing()
        await ws.run_over()
        await ws.send("user.request_state")
        signed = (await ws.wait("agent.state_exported"))["metadata"]["signed_state"]
    assert signed["state"]["plan_context"]["tasks"] == [{"id": 1, "title": "One"}, {"id": 2, "title": "Two"}]
    async with in_process_server(lab.factory) as server:  # a new server, the same secret
        client = await Client.connect(server.url)
        try:
            watch = Watch(client, server)
            await client.send("user.reconnect_with_state", content={"signed_state": signed})
            restored = await watch.wait("agent.state_restored")
            client.session_id = restored["session_id"]
            assert restored["metadata"]["warnings"] == []
            watch.mark()
            await watch.send("user.restart_task", content={"task_id": 2})
            assert (await watch.notice("restart_task"))["metadata"]["ok"] is True
            final = await watch.closing()
            assert watch.pipeline() == [
                "solver.restarted",
                "solver.start",
                "solver.completed",
                "aggregate.start",
                "aggregate.completed",
                "pipeline.completed",
                "agent.final_answer",
            ]
            assert final["content"].startswith("report: 1=completed:result 1; 2=completed:result 2")
            assert lab.runs == {"1": 1, "2": 2}
            assert lab.questions == ["write a report"]  # no planning on the new server
        finally:
            await client.close()


async def test_a_state_saved_after_a_refused_plan_restores_and_plans_again() -> None:
    lab = Lab(confirm_plan=True)
    async with serve(lab) as ws:
        await ws.send("user.message", content="write a report")
        request = await ws.wait("agent.user_confirm", scope="plan")
        await ws.send("user.response", step_id=request["step_id"], content={"confirmed": False})
        await ws.closing()
        await ws.run_over()
        await ws.send("user.request_state")
        signed = (await ws.wait("agent.state_exported"))["metadata"]["signed_state"]
    assert signed["state"]["plan_context"]["tasks"] == []
    async with in_process_server(lab.factory) as server:
        client = await Client.connect(server.url)
        try:
            watch = Watch(client, server)
            await client.send("user.reconnect_with_state", content={"signed_state": signed})
            client.session_id = (await watch.wait("agent.state_restored"))["session_id"]
            watch.mark()
            await watch.send("user.restart_task", content={"task_id": 1})
            assert (await watch.notice("restart_task"))["metadata"]["ok"] is False  # there is no plan
            await watch.send("user.replan")
            assert (await watch.notice("replan"))["metadata"]["ok"] is True
            await watch.confirm_plan()
            assert (await watch.closing())["event"] == "agent.final_answer"
            assert content(watch.find("plan.start")) == {"question": "write a report"}
        finally:
            await client.close()


# -- the example -----------------------------------------------------------------------------------


async def test_the_example_writes_a_report_on_the_offline_model() -> None:
    example = load_example()
    async with in_process_server(lambda: example.create_agent(llm=OfflineModel())) as server:
        client = await Client.connect(server.url)
        try:
            await client.create_session()
            ws = Watch(client, server)
            await ws.send("user.message", content="请写一份销售数据分析报告")
            final = await ws.closing()
            assert final["event"] == "agent.final_answer", final
            report = final["content"]
            tasks = content(ws.find("plan.completed"))["tasks"]
            assert [t["section"] for t in tasks] == ["overview", "region", "product", "trend"]
            # the numbers are those of SQL over the CSV
            total, units = csv_sql("SELECT SUM(revenue), SUM(units) FROM sales")[0]
            assert f"¥{total:,}" in report and f"{units:,}" in report
            for region, revenue in csv_sql("SELECT region, SUM(revenue) FROM sales GROUP BY region"):
                assert f"| {example.zh_name(region, True)} | ¥{revenue:,} |" in report  # region names in Chinese
            for product, revenue in csv_sql("SELECT product, SUM(revenue) FROM sales GROUP BY product"):
                assert f"| {example.zh_name(product, True)} | ¥{revenue:,} |" in report
            for month, revenue in csv_sql("SELECT month, SUM(revenue) FROM sales GROUP BY month"):
                assert f"| {month} | ¥{revenue:,} |" in report
            positions = [report.index(f"## {n}. {t['title']}") for n, t in enumerate(tasks, start=1)]
            assert positions == sorted(positions)
            # every SQL call went through the tool, visibly; the charts came back as the guide's rows
            sql_calls = [f for f in ws.all("agent.tool_call") if f["metadata"]["tool_name"] == "run_sql"]
            assert {f["metadata"]["task_id"] for f in sql_calls} == {1, 2, 3, 4}
            calls = {f["step_id"]: f["metadata"]["args"] for f in ws.all("agent.tool_call")}
            charts = [
                (calls[f["step_id"]], f["metadata"]["data"])
                for f in ws.all("agent.tool_result")
                if f["metadata"]["tool"] == "data_visual" and f["metadata"]["status"] == "success"
            ]
            assert len(charts) == 4
            args, rows = next((a, r) for a, r in charts if a["chart_type"] == "line")
            months = csv_sql("SELECT month, SUM(revenue) FROM sales GROUP BY month ORDER BY month")
            assert (args["x_field"], args["y_fields"]) == ("月份", ["销售额"])
            assert [(row["月份"], row["销售额"]) for row in rows] == months
        finally:
            await client.close()


async def test_the_example_reports_cancelled_sections_and_answers_a_generic_direct_task() -> None:
    example = load_example()
    async with in_process_server(lambda: example.create_agent(llm=OfflineModel(), concurrency=1)) as server:
        client = await Client.connect(server.url)
        try:
            await client.create_session()
            ws = Watch(client, server)
            await ws.send("user.message", content="Write a sales report")
            await ws.wait("solver.start", 1)
            await ws.send("user.cancel_task", content={"task_id": 4})  # still waiting for its turn
            assert (await ws.notice("cancel_task"))["metadata"]["ok"] is True
            final = await ws.closing()
            assert "*This section was not written (cancelled)*" in final["content"]
            assert "Sections not written: Monthly trend (cancelled)" in final["content"]
            await ws.run_over()
            ws.mark()
            task = {"id": 1, "title": "示例页", "objective": "展示销售概览"}
            await ws.send("user.solve_tasks", content={"tasks": [task]})
            output = content(await ws.wait("solver.completed", 1))["result"]["output"]
            assert output["section"] == "overview" and output["title"] == "示例页"
            total = csv_sql("SELECT SUM(revenue) FROM sales")[0][0]
            assert f"总销售额：¥{total:,}" in output["markdown"] and output["charts"][0]["chart_type"] == "bar"
            await ws.idle_marker()
            direct_end = [
                f["event"]
                for f in ws.frames()
                if f["event"].startswith(PIPELINE_PREFIXES) or closes_run(f["event"], f.get("seq"))
            ]
            assert direct_end == ["pipeline.tasks_completed"]  # no plan, no aggregation
            # the SQL tool refuses writes on the wire too (a client's direct call goes the same way)
            sql = example.RunSql(example.DATABASE)
            for query in ("DELETE FROM sales", "SELECT 1; DROP TABLE sales", "PRAGMA table_info(sales)"):
                assert sql.execute(query).error.startswith("refused")
            assert json.loads(json.dumps(output))  # plain JSON, fit for the signed state
        finally:
            await client.close()
