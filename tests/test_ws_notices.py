"""Events that tell a client something ended: a direct-mode run, a withdrawn confirmation."""

from __future__ import annotations

from myagent import create_toolcall_agent
from myagent.llm.testing import ScriptedModel, call
from myagent.tool import BaseTool, ToolResult
from tests.fakes.memory_socket import in_process_server
from tests.harness import Client, find_session
from tests.test_plan_solve import Lab
from tests.test_plan_solve_ws import serve


async def test_a_direct_run_ends_with_a_sequenced_closing_event_counting_the_outcomes() -> None:
    lab = Lab()
    async with serve(lab) as ws:
        await ws.send("user.solve_tasks", content={"tasks": [{"id": 1}, {"id": 2}]})
        done = await ws.wait("pipeline.tasks_completed")
        assert done["content"] == {"total": 2, "completed": 2, "failed": 0, "cancelled": 0}
        assert done["seq"] and done["event_id"] == f"{ws.sid}:{done['seq']}"  # replayable like any closing event
        finished = [f["event"] for f in ws.frames() if f["event"] == "solver.completed"]
        assert len(finished) == 2  # every solver event came before it


async def test_invalid_direct_tasks_are_refused_before_any_run_starts() -> None:
    lab = Lab()
    async with serve(lab) as ws:
        await ws.send("user.solve_tasks", content={"tasks": [{"title": "no id"}]})
        notice = await ws.notice("solve_tasks")
        assert notice["metadata"]["ok"] is False and "id" in notice["metadata"]["error"]
        error = await ws.wait("plan.coercion_error")
        assert "id" in error["content"]["error"]
        session = find_session(ws.server, ws.sid)
        assert session is not None and not session.busy
        assert not [e for e in ws.events() if e.startswith("solver.")]


class Dangerous(BaseTool):
    name = "dangerous"
    description = "needs approval"
    user_confirm = True

    async def execute(self) -> ToolResult:
        return ToolResult(output="done")


async def test_cancelling_a_run_withdraws_its_open_confirmation() -> None:
    model = ScriptedModel([call("dangerous", {})])
    async with in_process_server(lambda: create_toolcall_agent(tools=[Dangerous()], llm=model)) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send("user.message", session_id=client.session_id, content="do it")
        request = await client.expect("agent.user_confirm")
        await client.send("user.cancel", session_id=client.session_id)
        frames = await client.collect_until("agent.interrupted")
        withdrawn = [f for f in client.frames if f["event"] == "agent.confirmation_withdrawn"]
        assert [f["metadata"]["step_id"] for f in withdrawn] == [request["step_id"]]
        assert withdrawn[0]["seq"] < frames[-1]["seq"]  # sequenced: a resuming client gets it too
        assert frames[-1]["event"] == "agent.interrupted"
        await client.close()


async def test_a_frame_rejected_by_validation_still_names_its_session() -> None:
    model = ScriptedModel([])
    async with in_process_server(lambda: create_toolcall_agent(llm=model)) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        first = client.session_id
        await client.create_session()
        await client.send("user.message", session_id=first, content="   ")
        error = await client.expect_error()
        assert error["metadata"]["error_code"] == "INVALID_FIELD"
        assert error["session_id"] == first
        await client.close()
