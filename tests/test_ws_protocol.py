"""The wire protocol as a client sees it, against a real server on a loopback port.

Every test looks at what a client would notice: which frames arrive, in which order, with which
fields, and that the connection and its sessions keep working afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import websockets

from myagent import create_toolcall_agent
from myagent._version import __version__
from myagent.agent.toolcall import ToolCallAgent
from myagent.errors import ModelError
from myagent.llm.base import ModelRequest
from myagent.llm.testing import FunctionModel, Script, ScriptedModel, ScriptedReply, call
from myagent.protocol.catalog import CATALOG
from myagent.protocol.rules import closes_run, is_request_error
from myagent.tool import BaseTool, ToolResult
from tests.fakes.memory_socket import in_process_server
from tests.harness import WAIT, Client, answer_text, events_of, running_server
from tests.harness import assert_request_error as assert_error

CLOSING = ("agent.final_answer", "agent.error", "agent.interrupted")


# -- tools and helpers --------------------------------------------------------------------------


class WeatherTool(BaseTool):
    name = "get_weather"
    description = "Weather of a city"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def execute(self, city: str) -> ToolResult:
        self.calls.append(city)
        return ToolResult(output=f"{city}: sunny, 25°C", data={"city": city, "temperature": 25})


class BrokenTool(BaseTool):
    name = "broken"
    description = "Always fails"

    async def execute(self) -> ToolResult:
        raise RuntimeError("disk on fire")


class Rendezvous(BaseTool):
    """Finishes only once ``expected`` calls (from any session) have arrived: proves runs overlap."""

    name = "rendezvous"
    description = "Wait for the other session"

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.all_here = asyncio.Event()

    async def execute(self) -> ToolResult:
        self.arrived += 1
        if self.arrived >= self.expected:
            self.all_here.set()
        await asyncio.wait_for(self.all_here.wait(), WAIT)
        return ToolResult(output="everyone is here")


def agent_factory(model: Any, *tools: BaseTool, name: str = "test_agent") -> Callable[[], ToolCallAgent]:
    return lambda: create_toolcall_agent(tools=list(tools), llm=model, name=name, description="an agent for tests")


async def connect_with_session(url: str) -> Client:
    client = await Client.connect(url)
    await client.create_session()
    return client


def session_frames(client: Client, session_id: str | None = None) -> list[dict[str, Any]]:
    sid = session_id or client.session_id
    return [f for f in client.frames if f.get("session_id") == sid and "seq" in f]


def assert_gapless(frames: Iterable[dict[str, Any]], session_id: str) -> None:
    seqs = [f["seq"] for f in frames]
    assert seqs == list(range(1, len(seqs) + 1))
    for frame in frames:
        assert frame["session_id"] == session_id
        assert frame["event_id"] == f"{session_id}:{frame['seq']}"


def user_texts(request: ModelRequest) -> list[str | None]:
    return [m.content for m in request.messages if m.role == "user"]


def last_user_text(request: ModelRequest) -> str:
    return str(user_texts(request)[-1])


# -- connection and session ---------------------------------------------------------------------


async def test_system_connected_is_the_first_frame() -> None:
    async with running_server(agent_factory(ScriptedModel([]))) as server, websockets.connect(server.url) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert first["event"] == "system.connected"
    meta = first["metadata"]
    assert meta["connection_id"].startswith("conn_")
    assert meta["server_version"] == __version__
    assert {"seq", "ack", "confirmation", "cancel", "multi_session"} <= set(meta["capabilities"])
    assert "seq" not in first and "event_id" not in first and "session_id" not in first
    assert first["timestamp"].endswith("Z")


async def test_connection_ids_differ_between_connections() -> None:
    async with in_process_server(agent_factory(ScriptedModel([]))) as server:
        a, b = await Client.connect(server.url), await Client.connect(server.url)
        assert a.frames[0]["metadata"]["connection_id"] != b.frames[0]["metadata"]["connection_id"]
        await a.close()
        await b.close()


async def test_session_created_carries_id_resume_token_and_agent_name() -> None:
    async with in_process_server(agent_factory(ScriptedModel([]), name="weather_bot")) as server:
        client = await Client.connect(server.url)
        created = await client.create_session()
        other = await client.create_session()
    assert created["event"] == "agent.session_created"
    assert created["session_id"] and created["session_id"] != other["session_id"]
    meta = created["metadata"]
    assert isinstance(meta["resume_token"], str) and len(meta["resume_token"]) >= 16
    assert meta["resume_token"] != other["metadata"]["resume_token"]
    assert meta["agent_name"] == "weather_bot"
    assert meta["agent_description"] == "an agent for tests"
    assert (created["seq"], created["event_id"]) == (1, f"{created['session_id']}:1")
    assert created["show_content"] == "会话已创建"


# -- a run --------------------------------------------------------------------------------------


async def test_tool_run_frames_in_order_with_their_fields() -> None:
    tool = WeatherTool()
    model = ScriptedModel(
        [
            call("get_weather", {"city": "北京"}, id="call_w1"),
            "北京今天晴，气温 25 度，适合出门。",
        ]
    )
    async with in_process_server(agent_factory(model, tool)) as server:
        client = await connect_with_session(server.url)
        frames = await client.ask("北京天气怎么样？")

    names = events_of(frames)
    first_delta = names.index("agent.partial_answer")
    assert names[:first_delta] == [
        "agent.thinking",
        "agent.tool_call",
        "agent.tool_result",
        "agent.thinking",
    ]
    assert set(names[first_delta:-1]) == {"agent.partial_answer"}
    assert names[-1] == "agent.final_answer"

    thinking, tool_call, tool_result = frames[0], frames[1], frames[2]
    assert thinking["metadata"]["step"] == 1 and thinking["content"]
    assert tool_call["step_id"] == "call_w1"
    assert tool_call["metadata"]["tool_name"] == "get_weather"
    assert tool_call["metadata"]["call_id"] == "call_w1"
    assert tool_call["metadata"]["tool_args"] == {"city": "北京"}
    assert tool_call["metadata"]["needs_confirmation"] is False
    assert tool_call["show_content"] == "调用工具：get_weather"
    assert tool_result["step_id"] == "call_w1"
    assert tool_result["metadata"]["status"] == "success"
    assert tool_result["metadata"]["tool_name"] == "get_weather"
    assert tool_result["metadata"]["data"] == {"city": "北京", "temperature": 25}
    assert tool_result["content"] == "北京: sunny, 25°C"
    assert tool_result["show_content"] == "工具 get_weather：完成"
    assert frames[3]["metadata"]["step"] == 2
    final = frames[-1]
    assert final["content"] == "北京今天晴，气温 25 度，适合出门。"
    assert answer_text(frames) == final["content"]
    assert final["metadata"]["reason"] == "stop"
    assert final["metadata"]["steps"] == 2
    assert final["metadata"]["usage"]["total_tokens"] > 0
    assert all("show_content" not in f for f in frames if f["event"] == "agent.partial_answer")
    assert tool.calls == ["北京"]
    model.assert_finished()
    assert_gapless(session_frames(client), str(client.session_id))


async def test_seq_stays_gapless_across_runs_and_rejected_frames() -> None:
    model = ScriptedModel(["first answer", "second answer, a little longer than the first one"])
    async with in_process_server(agent_factory(model)) as server:
        client = await connect_with_session(server.url)
        await client.ask("one")
        await client.send("user.message", session_id=client.session_id, content=7)  # rejected
        assert_error(await client.expect_error(), "INVALID_FIELD", "user.message")
        await client.send("user.cancel", session_id=client.session_id)  # rejected: idle
        assert_error(await client.expect_error(), "NO_ACTIVE_RUN", "user.cancel")
        frames = await client.ask("two")
    assert frames[-1]["content"] == "second answer, a little longer than the first one"
    assert answer_text(frames) == frames[-1]["content"]
    assert_gapless(session_frames(client), str(client.session_id))


async def test_llm_messages_are_sent_only_with_the_option() -> None:
    def script() -> list[Script]:
        return [call("get_weather", {"city": "Paris"}, id="call_p"), "Sunny in Paris."]

    async with in_process_server(agent_factory(ScriptedModel(script()), WeatherTool())) as server:
        client = await connect_with_session(server.url)
        frames = await client.ask("Paris?")
        assert "agent.llm_message" not in events_of(client.frames)
        assert frames[-1]["content"] == "Sunny in Paris."

    async with in_process_server(
        agent_factory(ScriptedModel(script()), WeatherTool()), send_llm_messages=True
    ) as server:
        client = await connect_with_session(server.url)
        frames = await client.ask("Paris?")
    messages = [f for f in frames if f["event"] == "agent.llm_message"]
    assert [m["metadata"]["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[0]["content"] == {"role": "user", "content": "Paris?"}
    assert messages[1]["content"]["tool_calls"][0]["id"] == "call_p"
    assert messages[2]["content"]["tool_call_id"] == "call_p"
    assert messages[3]["content"]["content"] == "Sunny in Paris."
    assert frames[-1]["event"] == "agent.final_answer"
    assert_gapless(session_frames(client), str(client.session_id))


async def test_model_failure_is_an_agent_error_and_the_session_stays_usable() -> None:
    model = ScriptedModel([ScriptedReply(error=ModelError("boom")), "recovered"])
    async with in_process_server(agent_factory(model)) as server:
        client = await connect_with_session(server.url)
        failed = await client.ask("first")
        assert events_of(failed) == ["agent.thinking", "agent.error"]
        error = failed[-1]
        assert error["metadata"]["error_code"] == "MODEL_ERROR"
        assert "boom" in error["content"]
        assert error["session_id"] == client.session_id and "seq" in error
        again = await client.ask("second")
    assert again[-1]["event"] == "agent.final_answer"
    assert again[-1]["content"] == "recovered"
    assert user_texts(model.requests[-1]) == ["first", "second"]
    assert_gapless(session_frames(client), str(client.session_id))


async def test_a_tool_that_raises_gives_an_error_result_and_the_run_still_answers() -> None:
    model = ScriptedModel([call("broken", {}, id="call_b"), "Sorry, the tool failed."])
    async with in_process_server(agent_factory(model, BrokenTool())) as server:
        client = await connect_with_session(server.url)
        frames = await client.ask("do it")
    result = next(f for f in frames if f["event"] == "agent.tool_result")
    assert result["step_id"] == "call_b"
    assert result["metadata"]["status"] == "failed"
    assert "disk on fire" in result["content"]
    assert result["metadata"]["failure"] == "error" and "disk on fire" in result["metadata"]["error"]
    assert frames[-1]["event"] == "agent.final_answer"
    assert frames[-1]["content"] == "Sorry, the tool failed."
    tool_message = model.requests[1].messages[-1]
    assert tool_message.role == "tool" and "disk on fire" in str(tool_message.content)


async def test_a_failing_agent_factory_is_reported_and_the_connection_keeps_working() -> None:
    attempts = 0

    def factory() -> ToolCallAgent:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("no API key")
        return create_toolcall_agent(llm=ScriptedModel(["hello"]))

    async with in_process_server(factory) as server:
        client = await Client.connect(server.url)
        await client.send("user.create_session")
        error = await client.expect_error()
        assert_error(error, "AGENT_FACTORY_FAILED", "user.create_session")
        assert "no API key" in error["content"]
        await client.create_session()
        frames = await client.ask("hi")
    assert frames[-1]["content"] == "hello"


async def test_second_message_during_a_run_is_session_busy_and_never_reaches_the_model() -> None:
    model = ScriptedModel([ScriptedReply("one two three four five", hold_after=1)])
    async with in_process_server(agent_factory(model)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="first question")
        await asyncio.wait_for(model.holding.wait(), WAIT)
        await client.send("user.message", session_id=client.session_id, content="second question")
        busy = await client.expect_error()
        assert_error(busy, "SESSION_BUSY", "user.message")
        assert busy["session_id"] == client.session_id
        model.release()
        frames = await client.collect_until_closed()
        assert frames[-1]["event"] == "agent.final_answer"
        assert frames[-1]["content"] == "one two three four five"
        # The session is idle again: a probe gets NO_ACTIVE_RUN, and no second answer ever came.
        await client.send("user.cancel", session_id=client.session_id)
        assert_error(await client.recv(), "NO_ACTIVE_RUN", "user.cancel")
    assert sum(1 for f in client.frames if closes_run(f["event"], f.get("seq"))) == 1
    assert len(model.requests) == 1
    assert all("second question" not in str(m.content) for m in model.requests[0].messages)


# -- several sessions ---------------------------------------------------------------------------


async def test_two_sessions_on_one_connection_run_concurrently_without_crosstalk() -> None:
    rendezvous = Rendezvous(expected=2)

    def reply(request: ModelRequest) -> Script:
        question = last_user_text(request)
        if request.messages[-1].role == "user":
            return call("rendezvous", {})
        return f"answer to {question}: " + "x" * 30

    model = FunctionModel(reply)
    async with in_process_server(agent_factory(model, rendezvous)) as server:
        client = await Client.connect(server.url)
        a = (await client.create_session())["session_id"]
        b = (await client.create_session())["session_id"]
        await client.send("user.message", session_id=a, content="question A")
        await client.send("user.message", session_id=b, content="question B")
        closed: dict[str, dict[str, Any]] = {}
        while len(closed) < 2:
            frame = await client.recv()
            if closes_run(frame["event"], frame.get("seq")):
                closed[frame["session_id"]] = frame

    assert closed[a]["event"] == closed[b]["event"] == "agent.final_answer"
    assert closed[a]["content"] == "answer to question A: " + "x" * 30
    assert closed[b]["content"] == "answer to question B: " + "x" * 30
    for sid in (a, b):
        frames = session_frames(client, sid)
        assert_gapless(frames, sid)
        assert answer_text(frames) == closed[sid]["content"]
    # Interleaved: each session's tool call arrived before the other session's answer.
    order = [(f["session_id"], f["event"]) for f in client.frames if "seq" in f]
    assert order.index((b, "agent.tool_call")) < order.index((a, "agent.final_answer"))
    assert order.index((a, "agent.tool_call")) < order.index((b, "agent.final_answer"))
    assert rendezvous.arrived == 2


async def test_session_id_may_be_omitted_only_with_a_single_session() -> None:
    model = ScriptedModel(["only one"])
    async with in_process_server(agent_factory(model)) as server:
        client = await Client.connect(server.url)
        await client.send("user.message", content="nobody home")
        assert_error(await client.expect_error(), "MISSING_FIELD", "user.message")
        sid = (await client.create_session())["session_id"]
        await client.send("user.message", content="no id")
        frames = await client.collect_until_closed()
        assert frames[-1]["content"] == "only one"
        assert {f["session_id"] for f in frames} == {sid}
        await client.create_session()
        await client.send("user.message", content="which one?")
        ambiguous = await client.expect_error()
        assert_error(ambiguous, "SESSION_AMBIGUOUS", "user.message")
        await client.send("user.cancel")
        assert_error(await client.expect_error(), "SESSION_AMBIGUOUS", "user.cancel")
    assert len(model.requests) == 1


async def test_unknown_session_id_is_session_not_found() -> None:
    async with in_process_server(agent_factory(ScriptedModel([]))) as server:
        client = await connect_with_session(server.url)
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("user.message", {"content": "hi"}),
            ("user.cancel", {}),
            ("user.close_session", {}),
            ("user.response", {"step_id": "confirm_x", "content": {"confirmed": True}}),
        ]
        for event, fields in attempts:
            await client.send(event, session_id="no-such-session", **fields)
            error = await client.expect_error()
            assert_error(error, "SESSION_NOT_FOUND", event)
            assert error["session_id"] == "no-such-session"


async def test_a_session_of_another_connection_looks_unknown_and_stays_unaffected() -> None:
    tool = WeatherTool()
    model = FunctionModel(
        lambda request: (
            call("get_weather", {"city": last_user_text(request)})
            if request.messages[-1].role == "user"
            else f"weather for {last_user_text(request)}"
        )
    )
    async with in_process_server(agent_factory(model, tool)) as server:
        owner = await connect_with_session(server.url)
        intruder = await connect_with_session(server.url)
        victim = str(owner.session_id)
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("user.message", {"content": "Oslo"}),
            ("user.cancel", {}),
            ("user.close_session", {}),
            ("user.ack", {"last_seq": 1}),
            ("user.response", {"step_id": "confirm_x", "content": {"confirmed": True}}),
        ]
        for event, fields in attempts:
            await intruder.send(event, session_id=victim, **fields)
            assert_error(await intruder.expect_error(), "SESSION_NOT_FOUND", event)
        # An event id naming the other session is not a way in either.
        await intruder.send("user.ack", last_event_id=f"{victim}:1")
        assert_error(await intruder.expect_error(), "SESSION_NOT_FOUND", "user.ack")

        frames = await owner.ask("Rome")
        own = await intruder.ask("Lima")
    assert frames[-1]["content"] == "weather for Rome"
    assert own[-1]["content"] == "weather for Lima"
    assert tool.calls == ["Rome", "Lima"]
    assert_gapless(session_frames(owner), victim)
    assert not any(f["event"] == "system.error" for f in owner.frames)
    assert {f.get("session_id") for f in owner.frames if f["event"] != "system.connected"} == {victim}


# -- malformed frames ---------------------------------------------------------------------------


async def test_oversized_frames_are_rejected_and_the_connection_stays_open() -> None:
    model = ScriptedModel(["small answer"])
    async with in_process_server(agent_factory(model), max_message_bytes=1000) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="a" * 2000)
        error = await client.expect_error()
        assert_error(error, "MESSAGE_TOO_LARGE")
        assert error["metadata"]["details"]["max_message_bytes"] == 1000
        # 400 CJK characters are fewer than 1000 characters but 1200 bytes in UTF-8.
        await client.send("user.message", session_id=client.session_id, content="中" * 400)
        assert_error(await client.expect_error(), "MESSAGE_TOO_LARGE")
        frames = await client.ask("中" * 200)  # ~650 bytes: fits
    assert frames[-1]["content"] == "small answer"
    assert len(model.requests) == 1


async def test_binary_frames_are_rejected_and_the_connection_stays_open() -> None:
    async with in_process_server(agent_factory(ScriptedModel(["fine"]))) as server:
        client = await connect_with_session(server.url)
        await client.send_raw(json.dumps({"event": "user.message", "content": "hi"}).encode())
        assert_error(await client.expect_error(), "BINARY_NOT_SUPPORTED")
        frames = await client.ask("hi")
    assert frames[-1]["content"] == "fine"


async def test_invalid_json_is_rejected_and_the_next_frame_works() -> None:
    async with in_process_server(agent_factory(ScriptedModel(["fine"]))) as server:
        client = await connect_with_session(server.url)
        await client.send_raw("{this is not json")
        error = await client.expect_error()
        assert_error(error, "INVALID_JSON")
        assert error["metadata"].get("request_event") is None
        frames = await client.ask("hi")
    assert frames[-1]["content"] == "fine"


BAD_FRAMES: list[tuple[str, str, str | None]] = [
    ("not json at all", "INVALID_JSON", None),
    ("[" * 50_000 + "]" * 50_000, "INVALID_JSON", None),
    ('{"event": "user.ack", "last_seq": ' + "9" * 5000 + "}", "INVALID_JSON", None),
    ("[1, 2, 3]", "INVALID_FRAME", None),
    ("42", "INVALID_FRAME", None),
    ('{"content": "no event"}', "INVALID_FRAME", None),
    ('{"event": 5}', "INVALID_FRAME", None),
    ('{"event": "user.dance"}', "UNKNOWN_EVENT", "user.dance"),
    ('{"event": "agent.final_answer", "content": "x"}', "UNKNOWN_EVENT", "agent.final_answer"),
    ('{"event": "user.message"}', "MISSING_FIELD", "user.message"),
    ('{"event": "user.message", "content": {"text": "hi"}}', "MISSING_FIELD", "user.message"),
    ('{"event": "user.response", "step_id": "confirm_1", "content": {}}', "MISSING_FIELD", "user.response"),
    ('{"event": "user.message", "content": 42}', "INVALID_FIELD", "user.message"),
    ('{"event": "user.message", "content": "   "}', "INVALID_FIELD", "user.message"),
    ('{"event": "user.message", "session_id": 3, "content": "hi"}', "INVALID_FIELD", "user.message"),
    ('{"event": "user.response", "step_id": "c", "content": {"confirmed": "yes"}}', "INVALID_FIELD", "user.response"),
    ('{"event": "user.response", "step_id": 9, "content": {"confirmed": true}}', "INVALID_FIELD", "user.response"),
    ('{"event": "user.ack"}', "MISSING_FIELD", "user.ack"),
    ('{"event": "user.cancel"}', "NO_ACTIVE_RUN", "user.cancel"),
    ('{"event": "user.response", "step_id": "confirm_nope", "content": {"confirmed": true}}', "STEP_NOT_FOUND", None),
    ('{"event": "user.message", "session_id": "ghost", "content": "hi"}', "SESSION_NOT_FOUND", "user.message"),
    ('{"event": "user.reconnect", "session_id": "ghost", "resume_token": "t"}', "SESSION_NOT_FOUND", None),
]


async def test_every_rejected_frame_gets_an_unsequenced_system_error_and_nothing_else() -> None:
    model = ScriptedModel(["still alive"])
    async with in_process_server(agent_factory(model)) as server:
        client = await connect_with_session(server.url)
        for text, code, request_event in BAD_FRAMES:
            await client.send_raw(text)
            frame = await client.recv()  # the very next frame is the answer to this one
            assert_error(frame, code, request_event)
            if request_event is None and code in ("INVALID_JSON", "INVALID_FRAME"):
                assert "request_event" not in frame["metadata"]
            if code in ("MISSING_FIELD", "INVALID_FIELD"):
                assert frame["metadata"]["details"]["field"]
        frames = await client.ask("still there?")
    assert frames[-1]["content"] == "still alive"
    assert len(model.requests) == 1
    assert_gapless(session_frames(client), str(client.session_id))


# A valid frame body for every Plan & Solve control.
PLAN_CONTROLS: dict[str, dict[str, Any]] = {
    "user.solve_tasks": {"content": {"tasks": [{"id": 1, "title": "t"}]}},
    "user.cancel_task": {"content": {"task_id": 1}},
    "user.restart_task": {"content": {"task_id": "t1"}},
    "user.cancel_plan": {},
    "user.replan": {"content": {"question": "again"}},
}


def test_every_client_event_is_served() -> None:
    unserved = {name for name, spec in CATALOG.items() if spec.direction == "up" and not spec.available}
    assert not unserved


@pytest.mark.parametrize("event", sorted(PLAN_CONTROLS))
async def test_plan_controls_on_a_plain_agent_session_are_not_supported(event: str) -> None:
    async with in_process_server(agent_factory(ScriptedModel(["ok"]))) as server:
        client = await connect_with_session(server.url)
        await client.send(event, session_id=client.session_id, **PLAN_CONTROLS[event])
        assert_error(await client.recv(), "NOT_SUPPORTED", event)
        frames = await client.ask("hi")
    assert frames[-1]["content"] == "ok"


async def test_close_session_ends_it_and_later_frames_find_no_session() -> None:
    async with in_process_server(agent_factory(ScriptedModel(["ok"]))) as server:
        client = await connect_with_session(server.url)
        sid = str(client.session_id)
        await client.ask("hi")
        await client.send("user.close_session", session_id=sid)
        end = await client.recv()
        assert end["event"] == "agent.session_end"
        assert end["session_id"] == sid
        assert end["metadata"]["reason"] == "closed"
        assert_gapless(session_frames(client), sid)
        for event, fields in [("user.message", {"content": "hi"}), ("user.cancel", {}), ("user.close_session", {})]:
            await client.send(event, session_id=sid, **fields)
            assert_error(await client.recv(), "SESSION_NOT_FOUND", event)
        # The connection itself is fine: a new session works.
        await client.create_session()
        await client.send("user.cancel", session_id=client.session_id)
        assert_error(await client.recv(), "NO_ACTIVE_RUN", "user.cancel")


# -- ack ----------------------------------------------------------------------------------------


async def test_ack_is_accepted_silently_in_every_placement() -> None:
    async with in_process_server(agent_factory(ScriptedModel(["done", "again"]))) as server:
        client = await connect_with_session(server.url)
        sid = str(client.session_id)
        frames = await client.ask("hi")
        last = frames[-1]
        for fields in [
            {"last_event_id": last["event_id"]},
            {"content": {"last_event_id": last["event_id"]}},
            {"last_seq": last["seq"] - 1},
            {"content": {"last_seq": last["seq"]}},
            {"session_id": sid, "last_seq": 0},
        ]:
            await client.send("user.ack", **fields)
        # No answer to the acks: the next frame is the answer to this probe.
        await client.send("user.cancel", session_id=sid)
        assert_error(await client.recv(), "NO_ACTIVE_RUN", "user.cancel")
        # And the session keeps numbering after its acknowledged events.
        more = await client.ask("more")
    assert more[0]["seq"] == last["seq"] + 1
    assert more[-1]["content"] == "again"


# -- content and language -----------------------------------------------------------------------


async def test_object_content_question_reaches_the_model_as_the_user_text() -> None:
    model = ScriptedModel(["answer"])
    async with in_process_server(agent_factory(model)) as server:
        client = await connect_with_session(server.url)
        await client.send(
            "user.message", session_id=client.session_id, content={"question": "上海明天下雨吗？", "lang": "zh"}
        )
        frames = await client.collect_until_closed()
    assert frames[-1]["content"] == "answer"
    assert model.requests[0].messages[-1].role == "user"
    assert model.requests[0].messages[-1].content == "上海明天下雨吗？"


async def test_language_option_switches_show_content_and_thinking_text_to_english() -> None:
    model = ScriptedModel([call("get_weather", {"city": "Oslo"}, id="call_o"), "Cold."])
    async with in_process_server(agent_factory(model, WeatherTool()), language="en") as server:
        client = await Client.connect(server.url)
        created = await client.create_session()
        frames = await client.ask("Oslo?")
        await client.send("user.cancel", session_id=client.session_id)
        error = await client.recv()
    assert created["show_content"] == "Session created"
    assert created["content"] == "Session created"
    by_event = {f["event"]: f for f in frames}
    assert frames[0]["content"] == "Working on your request..."
    assert frames[0]["show_content"] == "Thinking…"
    assert by_event["agent.tool_call"]["show_content"] == "Calling tool: get_weather"
    assert by_event["agent.tool_call"]["content"] == "Calling tool: get_weather"
    assert by_event["agent.tool_result"]["show_content"] == "Tool get_weather: success"
    assert by_event["agent.final_answer"]["show_content"] == "Cold."
    assert error["show_content"].startswith("Error: ")
    for frame in [created, *frames, error]:
        text = str(frame.get("show_content", "")) + str(frame.get("content", ""))
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), frame


async def test_chinese_is_the_default_language() -> None:
    async with in_process_server(agent_factory(ScriptedModel(["好的"]))) as server:
        client = await Client.connect(server.url)
        created = await client.create_session()
        frames = await client.ask("你好")
    assert created["show_content"] == "会话已创建"
    assert frames[0]["show_content"] == "正在思考…"
    assert frames[0]["content"] == "正在处理您的请求..."


# -- logging ------------------------------------------------------------------------------------


async def test_client_mistakes_are_not_logged_with_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with in_process_server(agent_factory(ScriptedModel(["fine"])), max_message_bytes=120_000) as server:
        client = await connect_with_session(server.url)
        sid = str(client.session_id)
        mistakes: list[str | bytes] = [
            "nope",
            "[" * 50_000 + "]" * 50_000,
            "[]",
            '{"event": 1}',
            '{"event": "user.fly"}',
            '{"event": "agent.thinking"}',
            '{"event": "user.message"}',
            '{"event": "user.message", "content": ""}',
            '{"event": "user.message", "content": 1}',
            '{"event": "user.ack", "last_event_id": "x:\\u00b2"}',
            '{"event": "user.cancel"}',
            '{"event": "user.response", "step_id": "confirm_zz", "content": {"confirmed": false}}',
            '{"event": "user.message", "session_id": "ghost", "content": "hi"}',
            json.dumps({"event": "user.reconnect", "session_id": sid, "resume_token": "wrong"}),
            '{"event": "user.solve_tasks", "content": {"tasks": []}}',
            "x" * 130_000,
            b"\x00\x01binary",
        ]
        for mistake in mistakes:
            await client.send_raw(mistake)
            frame = await client.recv()
            assert is_request_error(frame["event"], frame.get("seq")), frame
        frames = await client.ask("ok?")
    assert frames[-1]["content"] == "fine"
    with_traceback = [r for r in caplog.records if r.exc_info or r.stack_info]
    assert with_traceback == [], [r.getMessage() for r in with_traceback]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
