"""The Python client SDK against a real server: what an application using it sees."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.client import (
    AgentClient,
    ClientProtocolError,
    ConfirmRequest,
    ConnectionLostError,
    Event,
    MemoryStateStore,
    RunInterruptedError,
    SessionTakenOverError,
    connect,
)
from myagent.llm import ScriptedModel, ScriptedReply, call
from myagent.plan_solve import (
    PlanAgent,
    PlanContext,
    PlanSolveAgent,
    SolverAgent,
    SubAgentRun,
    create_plan_solver,
    task_id,
)
from myagent.protocol.names import AgentEvents, SystemEvents
from myagent.tool import BaseTool, ToolResult
from myagent.ws.server import AgentWebSocketServer
from tests.harness import WAIT, find_session, running_server

ANSWER = "".join(f"[{i:02d}] lorem ipsum dolor sit amet; " for i in range(12))


# -- helpers ------------------------------------------------------------------------------------


class Danger(BaseTool):
    name = "danger"
    description = "Something the user must approve"
    user_confirm = True

    def __init__(self) -> None:
        self.runs: list[str] = []

    async def execute(self, target: str) -> ToolResult:
        self.runs.append(target)
        return ToolResult(output=f"done: {target}")


class Echo(BaseTool):
    name = "echo"
    description = "Echo a number"

    async def execute(self, n: int) -> ToolResult:
        return ToolResult(output=f"echo {n}")


class Models:
    """An agent factory keeping each session's model (for ``holding``/``release``/``requests``) and tools."""

    def __init__(self, script: Callable[[], list[Any]], *tools: Callable[[], BaseTool]) -> None:
        self.script = script
        self.tool_types = tools
        self.models: list[ScriptedModel] = []
        self.tools: list[list[BaseTool]] = []

    def __call__(self) -> ToolCallAgent:
        model = ScriptedModel(self.script())
        tools = [make() for make in self.tool_types]
        self.models.append(model)
        self.tools.append(tools)
        return create_toolcall_agent(llm=model, tools=tools, name="sdk-test")

    @property
    def last(self) -> ScriptedModel:
        return self.models[-1]


def client_for(url: str, **options: Any) -> AgentClient:
    """A client that retries quickly (the defaults suit real networks, not a loopback test)."""
    options.setdefault("initial_backoff", 0.01)
    options.setdefault("max_backoff", 0.05)
    options.setdefault("ack_interval", 0.02)
    return AgentClient(url, **options)


def answer_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if e.name == AgentEvents.PARTIAL_ANSWER)


def history(model: ScriptedModel, call_index: int) -> list[tuple[str, str | None]]:
    return [(m.role, m.content) for m in model.requests[call_index].messages]


async def until(condition: Callable[[], bool]) -> None:
    """Bounded polling of in-process state that offers no event to wait for."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def drop(client: AgentClient) -> None:
    """Lose the connection abruptly: no closing handshake."""
    ws = client.websocket
    assert ws is not None
    ws.transport.abort()
    await asyncio.wait_for(ws.wait_closed(), WAIT)


@contextlib.asynccontextmanager
async def server_on(factory: Callable[[], Any], port: int) -> AsyncIterator[AgentWebSocketServer]:
    """Like ``running_server`` but on a given port (to restart a server where clients look for it)."""
    server = AgentWebSocketServer(
        factory, host="127.0.0.1", port=port, state_secret_key="test-secret", heartbeat_interval=0
    )
    task = asyncio.create_task(server.start_server(log_level="warning"))
    await asyncio.wait_for(server.wait_started(), WAIT)
    try:
        yield server
    finally:
        await server.shutdown()
        await asyncio.wait_for(task, WAIT)


# -- conversation ----------------------------------------------------------------------------------


async def test_multi_turn_conversation_keeps_the_context():
    factory = Models(lambda: ["Nice to meet you, Ada.", "Your name is Ada."])
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        assert session.created is not None and session.created.name == AgentEvents.SESSION_CREATED
        assert await session.ask("My name is Ada.") == "Nice to meet you, Ada."
        assert await session.ask("What is my name?") == "Your name is Ada."
        second = history(factory.last, 1)
        assert ("user", "My name is Ada.") in second
        assert ("assistant", "Nice to meet you, Ada.") in second
        assert second[-1] == ("user", "What is my name?")


async def test_send_streams_the_run_and_the_final_text_equals_the_deltas():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=5)])
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        events = [event async for event in session.send("tell me")]
        assert events[0].name == AgentEvents.THINKING
        assert events[-1].is_final and events[-1].name == AgentEvents.FINAL_ANSWER
        assert answer_of(events) == events[-1].text == ANSWER
        assert [e.seq for e in events] == list(range(2, 2 + len(events)))


# -- confirmation ----------------------------------------------------------------------------------


async def test_confirmation_callback_approves_and_the_request_is_still_shown():
    factory = Models(lambda: [call("danger", {"target": "prod"}), "All done."], Danger)
    asked: list[ConfirmRequest] = []

    async def approve(request: ConfirmRequest) -> bool:
        asked.append(request)
        return True

    async with running_server(factory) as server, client_for(server.url, confirm=approve) as client:
        session = await client.create_session()
        events = [event async for event in session.send("wipe prod")]
        shown = [e.confirm_request() for e in events if e.name == AgentEvents.USER_CONFIRM]
        assert len(shown) == 1 and shown[0] is not None and shown[0].tool_name == "danger"
        step_id = shown[0].step_id
        assert [(r.tool_name, r.tool_args, r.step_id) for r in asked] == [("danger", {"target": "prod"}, step_id)]
        result = next(r for r in (e.tool_result() for e in events) if r is not None)
        assert result.ok and result.output == "done: prod"
        assert events[-1].text == "All done."
        assert factory.tools[-1][0].runs == ["prod"]  # type: ignore[attr-defined]


async def test_explicit_confirm_refuses_and_the_tool_does_not_run():
    factory = Models(lambda: [call("danger", {"target": "prod"}), "Understood, I left it alone."], Danger)
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        events = []
        async for event in session.send("wipe prod"):
            events.append(event)
            request = event.confirm_request()
            if request is not None:
                assert not session.is_answered(request.step_id)
                await session.confirm(request.step_id, False, message="not today")
                assert session.is_answered(request.step_id)
        result = next(r for r in (e.tool_result() for e in events) if r is not None)
        assert result.status == "refused"
        assert events[-1].text == "Understood, I left it alone."
        assert factory.tools[-1][0].runs == []  # type: ignore[attr-defined]
        assert any("not today" in str(content) for _, content in history(factory.last, 1))


async def test_an_error_about_a_fire_and_forget_request_arrives_in_the_stream():
    factory = Models(lambda: [ScriptedReply("abcdefgh", chunk_size=2, hold_after=1)])
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        stream = aiter(session.send("go"))
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await session.confirm("confirm_nope", True)
        events = []
        while not any(e.is_request_error for e in events):  # the run is paused: nothing else comes
            events.append(await anext(stream))
        error = events[-1]
        assert error.error_code == "STEP_NOT_FOUND" and error.metadata["request_event"] == "user.response"
        # It names the session, so it is an agent.error, but an unsequenced one: the run goes on.
        assert error.name == AgentEvents.ERROR and error.seq is None and not error.is_final
        factory.last.release()
        events += [event async for event in stream]
        assert events[-1].name == AgentEvents.FINAL_ANSWER and answer_of(events) == "abcdefgh"


# -- cancellation ----------------------------------------------------------------------------------


async def test_cancel_mid_answer_interrupts_and_the_next_ask_works():
    factory = Models(
        lambda: [
            ScriptedReply(ANSWER, chunk_size=4, hold_after=3),
            ScriptedReply(ANSWER, chunk_size=4, hold_after=1),
            "fresh answer",
        ]
    )
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        events: list[Event] = []

        async def consume() -> None:
            async for event in session.send("long story"):
                events.append(event)

        consumer = asyncio.create_task(consume())
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        assert await session.cancel() is True
        await asyncio.wait_for(consumer, WAIT)
        assert events[-1].name == AgentEvents.INTERRUPTED
        assert events[-1].metadata["reason"] == "user_cancel"
        assert ANSWER.startswith(answer_of(events))

        asking = asyncio.create_task(session.ask("another long story"))
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        assert await session.cancel() is True
        with pytest.raises(RunInterruptedError) as interrupted:
            await asyncio.wait_for(asking, WAIT)
        assert interrupted.value.reason == "user_cancel"

        assert await session.cancel() is False  # idle: nothing to cancel
        assert await session.ask("go on") == "fresh answer"


# -- delivery --------------------------------------------------------------------------------------


async def test_resume_after_a_forced_disconnect_delivers_every_event_exactly_once():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=5)])
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        sid = session.session_id
        assert session.created is not None
        seen = [session.created]
        stream = aiter(session.send("tell me"))
        while answer_of(seen) != ANSWER[:15]:  # the five deltas before the model pauses
            seen.append(await anext(stream))
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await drop(client)
        factory.last.release()  # the run goes on while the client is away
        seen += [event async for event in stream]

        assert client.reconnects == 1 and session.session_id == sid
        delivered = [e for e in seen if e.event_id is not None]
        log = find_session(server, sid).log  # type: ignore[union-attr]
        assert [e.event_id for e in delivered] == [f"{sid}:{n}" for n in range(1, log.last_seq + 1)]
        retained = [entry.frame for entry in log]  # what is not acknowledged yet, if anything
        assert [(e.seq, e.event_id, e.name, e.content) for e in delivered[len(delivered) - len(retained) :]] == [
            (f["seq"], f["event_id"], f["event"], f.get("content")) for f in retained
        ]
        assert seen[-1].name == AgentEvents.FINAL_ANSWER
        assert answer_of(seen) == seen[-1].text == ANSWER
        assert any(e.name == SystemEvents.NOTICE and e.metadata["action"] == "reconnect" for e in seen)


async def test_events_replayed_twice_are_delivered_once():
    factory = Models(lambda: ["hello there"])
    async with running_server(factory) as server, client_for(server.url, ack_interval=60) as client:
        session = await client.create_session()
        assert await session.ask("hi") == "hello there"
        last = session.last_seq
        # Frames are handled in order: the first ACK (sent before the message) is applied by now.
        acked = find_session(server, session.session_id).log.acked_seq  # type: ignore[union-attr]
        # Ask the server to replay everything it still has on this very connection.
        ws = client.websocket
        assert ws is not None
        await ws.send(
            f'{{"event": "user.reconnect", "session_id": "{session.session_id}", '
            f'"resume_token": "{session.resume_token}", "last_seq": 0}}'
        )
        await until(lambda: session.duplicates_dropped == last - acked)
        assert session.last_seq == last
        events = [e async for e in session.follow()]
        assert [e.name for e in events if not e.is_replay_gap] == [SystemEvents.NOTICE]
        assert all(e.seq is None for e in events)  # nothing was delivered a second time


async def test_acks_advance_the_servers_acknowledged_position():
    factory = Models(lambda: ["one", "two"])
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        await session.ask("first")
        log = find_session(server, session.session_id).log  # type: ignore[union-attr]
        await until(lambda: log.acked_seq == log.last_seq)
        first = log.acked_seq
        await session.ask("second")
        await until(lambda: log.acked_seq == log.last_seq > first)
        assert log.retained == 0  # acknowledged events are no longer kept for replay


async def test_replay_gap_is_surfaced_not_hidden():
    def script() -> list[Any]:
        return [
            ScriptedReply("abcdef", chunk_size=2, hold_after=1, tool_calls=[call("echo", {"n": i}) for i in range(6)]),
            "the end",
        ]

    factory = Models(script, Echo)
    async with running_server(factory, retention_events=4) as server:
        first = client_for(server.url, reconnect=False)
        await first.connect()
        session = await first.create_session()
        sid, token = session.session_id, session.resume_token
        stream = aiter(session.send("go"))
        thinking = await anext(stream)
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await drop(first)
        with pytest.raises(ConnectionLostError):  # reconnect=False: the run's stream says so
            async for _ in stream:  # what arrived before the drop, then the error
                pass
        factory.last.release()
        await until(lambda: not find_session(server, sid).busy)  # type: ignore[union-attr]

        async with client_for(server.url) as second:
            resumed = await second.resume_session(sid, token, last_seq=thinking.seq or 0)
            events = [event async for event in resumed.follow()]
        gap = events[0]
        assert gap.is_replay_gap and gap.gap_range is not None
        assert gap.gap_range[0] == (thinking.seq or 0) + 1
        assert resumed.replay_gaps == [gap.gap_range]
        replayed = [e for e in events if e.seq is not None]
        assert replayed[0].seq == gap.gap_range[1] + 1
        assert replayed[-1].name == AgentEvents.FINAL_ANSWER and replayed[-1].text == "the end"
        await first.close()


async def test_a_session_resumed_elsewhere_is_taken_over():
    factory = Models(lambda: ["hi"])
    async with running_server(factory) as server, client_for(server.url) as first, client_for(server.url) as second:
        session = await first.create_session()
        await second.resume_session(session.session_id, session.resume_token, last_seq=session.last_seq)
        await until(lambda: session.closed)
        assert session.closed_reason == "taken_over"
        with pytest.raises(SessionTakenOverError):
            await session.ask("still mine?")


# -- signed state --------------------------------------------------------------------------------


async def test_restore_from_signed_state_on_a_second_server():
    first = Models(lambda: ["Noted: 42."])
    async with running_server(first) as server, client_for(server.url) as client:
        session = await client.create_session()
        assert await session.ask("Remember the number 42.") == "Noted: 42."
        state = await session.export_state()
        original = session.session_id
    # the first server is shut down; another one with the same secret takes the state
    second = Models(lambda: ["You told me 42."])
    async with running_server(second) as server, client_for(server.url) as client:
        restored = await client.restore_session(state)
        assert restored.session_id != original
        assert restored.created is not None and restored.created.name == AgentEvents.STATE_RESTORED
        assert restored.created.metadata["original_session_id"] == original
        assert await restored.ask("Which number?") == "You told me 42."
        earlier = history(second.last, 0)
        assert ("user", "Remember the number 42.") in earlier
        assert ("assistant", "Noted: 42.") in earlier


async def test_a_server_restart_is_survived_by_restoring_from_the_state_store():
    store = MemoryStateStore()
    async with running_server(Models(lambda: ["Noted: 42."])) as first:
        port = first.port
        client = client_for(first.url, state_store=store, max_reconnect_attempts=None)
        await client.connect()
        session = await client.create_session()
        original = session.session_id
        assert await session.ask("Remember the number 42.") == "Noted: 42."
        await until(lambda: store.load(original) is not None)  # saved after the final answer
    # the server is gone (the client keeps trying); a new process with the same key comes up
    second = Models(lambda: ["You told me 42."])
    async with server_on(second, port):
        assert await session.ask("Which number?") == "You told me 42."
        assert session.session_id != original
        assert ("user", "Remember the number 42.") in history(second.last, 0)
        await client.close()


async def test_a_tampered_state_is_refused_with_its_code():
    async with running_server(Models(lambda: ["ok"])) as server, client_for(server.url) as client:
        session = await client.create_session()
        state = await session.export_state()
        forged = {**state, "timestamp": state["timestamp"] + 1}
        with pytest.raises(ClientProtocolError) as refused:
            await client.restore_session(forged)
        assert refused.value.code == "STATE_SIGNATURE_MISMATCH"
        assert refused.value.request_event == "user.reconnect_with_state"
        assert await session.ask("still fine?") == "ok"


# -- errors ----------------------------------------------------------------------------------------


async def test_errors_are_raised_by_the_call_that_caused_them():
    factory = Models(lambda: [ScriptedReply("abcdef", chunk_size=2, hold_after=1), "after"])
    async with running_server(factory) as server, client_for(server.url) as client:
        with pytest.raises(ClientProtocolError) as unknown:
            await client.resume_session("no-such-session", "whatever")
        assert unknown.value.code == "SESSION_NOT_FOUND"

        session = await client.create_session()
        with pytest.raises(ClientProtocolError) as unsupported:
            async for _ in session.solve_tasks([{"id": 1, "title": "one"}]):
                pass
        assert unsupported.value.code == "NOT_SUPPORTED"
        assert unsupported.value.session_id == session.session_id

        stream = aiter(session.send("go"))
        await anext(stream)
        with pytest.raises(ClientProtocolError) as busy:
            await session.ask("and this too")
        assert busy.value.code == "SESSION_BUSY"
        factory.last.release()
        assert [e async for e in stream][-1].text == "abcdef"
        assert await session.ask("now") == "after"


# -- Plan & Solve ------------------------------------------------------------------------------------


class Planner(PlanAgent):
    async def plan(self, question: str, run: SubAgentRun) -> tuple[list[Any], str]:
        return [{"id": 1, "title": "first"}, {"id": 2, "title": "second"}], f"two parts of {question}"


class Solver(SolverAgent):
    """Solves a task at once, or once the test opens its gate."""

    def __init__(self, gates: dict[str, asyncio.Event]) -> None:
        self.gates = gates

    async def solve(self, task: Any, context: PlanContext, run: SubAgentRun) -> Any:
        gate = self.gates.get(str(task_id(task)))
        if gate is not None:
            await gate.wait()
        return f"result {task_id(task)}"


class Pipelines:
    def __init__(self, *, concurrency: int | None = None) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.concurrency = concurrency

    def __call__(self) -> PlanSolveAgent:
        return create_plan_solver(planner=Planner(), solver=Solver(self.gates), concurrency=self.concurrency)


def solver_events(events: list[Event]) -> list[tuple[str, Any]]:
    return [(e.name, e.task_id) for e in events if e.family == "solver"]


async def idle(server: AgentWebSocketServer, session_id: str) -> None:
    """Direct-mode runs end without a closing event, so the server's own state says when they are over."""
    await until(lambda: not find_session(server, session_id).busy)  # type: ignore[union-attr]


async def test_solve_tasks_streams_the_solvers_and_ends_when_every_task_finished():
    async with running_server(Pipelines(concurrency=1)) as server, client_for(server.url) as client:
        session = await client.create_session()
        tasks = [{"id": 1, "title": "one"}, {"id": "b", "title": "two"}]
        events = await session.solve_tasks(tasks, "background").collect()
        assert events[0].name == SystemEvents.NOTICE and events[0].metadata["action"] == "solve_tasks"
        assert solver_events(events) == [
            ("solver.start", 1),
            ("solver.completed", 1),
            ("solver.start", "b"),
            ("solver.completed", "b"),
        ]
        assert not session.busy
        # No closing event says the server is done; a message right away is retried while it winds up.
        answer = await session.ask("a report")  # standard mode: plan, solve, aggregate, answer
        assert "result 1" in answer and "result 2" in answer


async def test_plan_controls_report_whether_they_applied():
    factory = Pipelines()
    async with running_server(factory) as server, client_for(server.url) as client:
        session = await client.create_session()
        factory.gates["1"] = asyncio.Event()  # task 1 waits; task 2 finishes
        stream = session.solve_tasks([{"id": 1}, {"id": 2}])
        events = []
        while ("solver.start", 1) not in solver_events(events):
            events.append(await anext(stream))
        assert await session.cancel_task(1) is True
        events += await stream.collect()
        assert ("solver.cancelled", 1) in solver_events(events) and ("solver.completed", 2) in solver_events(events)
        assert ("solver.completed", 1) not in solver_events(events)
        await idle(server, session.session_id)
        assert await session.cancel_task(1) is False  # nothing is running any more

        factory.gates.clear()
        assert await session.restart_task(1) is True  # idle: a new run for that one task
        rerun = [e async for e in session.follow()]
        assert solver_events(rerun) == [("solver.restarted", 1), ("solver.start", 1), ("solver.completed", 1)]


# -- the blocking wrapper ----------------------------------------------------------------------------


@contextlib.contextmanager
def server_in_thread(factory: Callable[[], Any]) -> Iterator[str]:
    """A real server on its own event loop in a thread, for tests written without asyncio."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        box["stop"] = (asyncio.get_running_loop(), stop)
        async with running_server(factory) as server:
            box["url"] = server.url
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(WAIT), "the server did not start"
    try:
        yield box["url"]
    finally:
        loop, stop = box["stop"]
        loop.call_soon_threadsafe(stop.set)
        thread.join(WAIT)


def test_the_sync_client_works_from_plain_code():
    factory = Models(lambda: [call("danger", {"target": "lab"}), "done", "second answer"], Danger)
    with server_in_thread(factory) as url, connect(url, confirm=lambda request: True, timeout=WAIT) as client:
        session = client.create_session()
        events = session.send("do it")
        assert [e.name for e in events][-1] == AgentEvents.FINAL_ANSWER
        assert any(e.name == AgentEvents.USER_CONFIRM for e in events)
        assert events[-1].text == "done"
        assert session.ask("and now?") == "second answer"
        assert "signature" in session.export_state()
        session.close()
    assert factory.tools[-1][0].runs == ["lab"]  # type: ignore[attr-defined]
