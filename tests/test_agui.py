"""``POST /agui``: AG-UI over SSE for any myagent agent, over a real socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2 as httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.agui.input import InputError, parse_run_input
from myagent.errors import ModelError
from myagent.llm.testing import ScriptedModel, call
from myagent.tool import BaseTool, ToolResult
from tests.harness import WAIT, running_server


class GetWeather(BaseTool):
    name = "get_weather"
    description = "Weather of a city"

    async def execute(self, city: str) -> ToolResult:
        return ToolResult(output=f"{city}: sunny", data={"city": city})


class DeleteAlerts(BaseTool):
    name = "delete_alerts"
    description = "Delete all alerts"
    user_confirm = True

    def __init__(self) -> None:
        self.runs = 0

    async def execute(self) -> ToolResult:
        self.runs += 1
        return ToolResult(output="deleted")


class AGUI:
    """A server on a free port and an HTTP client posting RunAgentInput."""

    def __init__(self, base: str, http: httpx.AsyncClient) -> None:
        self.base = base
        self.http = http

    async def run(self, thread: str, run: str, messages: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
        body = {"threadId": thread, "runId": run, "messages": messages, "tools": [], "context": [], **extra}
        async with self.http.stream("POST", f"{self.base}/agui", json=body) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            return [json.loads(line[6:]) async for line in response.aiter_lines() if line.startswith("data: ")]

    async def post(self, body: Any, **kwargs: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.http.post(f"{self.base}/agui", content=content, **kwargs)


def serve(factory: Callable[[], Any]) -> Any:
    import contextlib

    @contextlib.asynccontextmanager
    async def served() -> AsyncIterator[AGUI]:
        async with running_server(factory) as server, httpx.AsyncClient(trust_env=False, timeout=WAIT) as http:
            yield AGUI(f"http://127.0.0.1:{server.port}", http)

    return served()


def user(text: str) -> dict[str, Any]:
    return {"id": f"u-{abs(hash(text))}", "role": "user", "content": text}


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


async def test_a_tool_calling_run_streams_tool_calls_text_and_finishes() -> None:
    model = ScriptedModel([call("get_weather", {"city": "Paris"}, id="call_1"), "Sunny in Paris."])
    async with serve(lambda: create_toolcall_agent(tools=[GetWeather()], llm=model)) as agui:
        events = await agui.run("t1", "r1", [user("Weather in Paris?")])
    assert types(events)[:5] == [
        "RUN_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
    ]
    assert types(events)[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert events[0]["threadId"] == "t1" and events[0]["runId"] == "r1"
    start = events[1]
    assert start["toolCallId"] == "call_1" and start["toolCallName"] == "get_weather"
    assert json.loads(events[2]["delta"]) == {"city": "Paris"}
    assert events[4]["content"] == "Paris: sunny" and events[4]["role"] == "tool"
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Sunny in Paris."
    finished = events[-1]
    assert finished["outcome"] == {"type": "success"} and finished["result"] == "Sunny in Paris."
    assert finished["usage"][0]["inputTokens"] > 0


async def test_a_thread_keeps_its_conversation_across_runs() -> None:
    model = ScriptedModel(["Hello Ada.", "Your name is Ada."])
    async with serve(lambda: create_toolcall_agent(llm=model)) as agui:
        await agui.run("t1", "r1", [user("I am Ada.")])
        history = [user("I am Ada."), {"id": "a1", "role": "assistant", "content": "Hello Ada."}, user("Who am I?")]
        events = await agui.run("t1", "r2", history)
    assert events[-1]["result"] == "Your name is Ada."
    contents = [m.content for m in model.requests[1].messages]
    assert contents[-3:] == ["I am Ada.", "Hello Ada.", "Who am I?"]  # the history was not duplicated


async def test_an_unknown_thread_starts_from_the_history_the_client_sends() -> None:
    model = ScriptedModel(["It was sunny."])
    async with serve(lambda: create_toolcall_agent(tools=[GetWeather()], llm=model)) as agui:
        history = [
            user("Weather in Paris?"),
            {
                "id": "a1",
                "role": "assistant",
                "toolCalls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
            },
            {"id": "tool1", "role": "tool", "toolCallId": "c1", "content": "Paris: sunny"},
            user("And what did the tool say?"),
        ]
        await agui.run("fresh", "r1", history)
    roles = [m.role for m in model.requests[0].messages]
    assert roles[-4:] == ["user", "assistant", "tool", "user"]


async def test_a_confirmation_is_an_interrupt_and_resume_answers_it() -> None:
    tool = DeleteAlerts()
    model = ScriptedModel(
        [call("delete_alerts", id="call_9"), "Deleted.", call("delete_alerts", id="call_10"), "Kept."]
    )

    def factory() -> ToolCallAgent:
        return create_toolcall_agent(tools=[tool], llm=model)

    async with serve(factory) as agui:
        events = await agui.run("t1", "r1", [user("Delete my alerts")])
        assert types(events)[-1] == "RUN_FINISHED"
        outcome = events[-1]["outcome"]
        assert outcome["type"] == "interrupt"
        (interrupt,) = outcome["interrupts"]
        assert interrupt["toolCallId"] == "call_9" and interrupt["reason"] == "tool_approval"
        assert interrupt["responseSchema"]["required"] == ["approved"]
        assert tool.runs == 0
        resume = [{"interruptId": interrupt["id"], "status": "resolved", "payload": {"approved": True}}]
        events = await agui.run("t1", "r2", [], resume=resume)
        assert events[0]["type"] == "RUN_STARTED" and events[0]["runId"] == "r2"
        result = next(e for e in events if e["type"] == "TOOL_CALL_RESULT")
        assert result["content"] == "deleted" and tool.runs == 1
        assert events[-1]["outcome"] == {"type": "success"}
        # A refusal: the tool does not run and the model hears why.
        events = await agui.run("t1", "r3", [user("Delete them again")])
        interrupt = events[-1]["outcome"]["interrupts"][0]
        refusal = [{"interruptId": interrupt["id"], "status": "resolved", "payload": {"approved": False}}]
        events = await agui.run("t1", "r4", [], resume=refusal)
        result = next(e for e in events if e["type"] == "TOOL_CALL_RESULT")
        assert "refused" in result["content"] and tool.runs == 1


async def test_a_model_failure_is_a_run_error() -> None:
    model = ScriptedModel([ModelError("the endpoint is down")])
    async with serve(lambda: create_toolcall_agent(llm=model)) as agui:
        events = await agui.run("t1", "r1", [user("Hi")])
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert "the endpoint is down" in events[-1]["message"] and events[-1]["code"] == "MODEL_ERROR"


async def test_bad_requests_get_clear_http_errors() -> None:
    model = ScriptedModel([call("delete_alerts"), "never"])
    async with serve(lambda: create_toolcall_agent(tools=[DeleteAlerts()], llm=model)) as agui:
        assert (await agui.post(b"{not json")).status_code == 400
        missing = await agui.post({"runId": "r", "messages": []})
        assert missing.status_code == 400 and "threadId" in missing.json()["error"]["message"]
        no_question = await agui.post({"threadId": "t", "runId": "r", "messages": []})
        assert no_question.status_code == 400
        huge = await agui.post({"threadId": "t", "runId": "r", "messages": [user("x" * (5 << 20))]})
        assert huge.status_code == 413
        unknown = await agui.post({"threadId": "t", "runId": "r", "messages": [], "resume": [{"interruptId": "nope"}]})
        assert unknown.status_code == 409 and unknown.json()["error"]["code"] == "NOTHING_TO_RESUME"
        events = await agui.run("t2", "r1", [user("Delete")])
        assert events[-1]["outcome"]["type"] == "interrupt"
        pending = await agui.post({"threadId": "t2", "runId": "r2", "messages": [user("Something else")]})
        assert pending.status_code == 409 and pending.json()["error"]["code"] == "INTERRUPT_PENDING"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_INPUTS = st.fixed_dictionaries(
    {},
    optional={
        "threadId": _JSON,
        "runId": _JSON,
        "messages": st.lists(st.dictionaries(st.sampled_from(["role", "content", "id"]), _JSON), max_size=3) | _JSON,
        "resume": _JSON,
    },
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(_INPUTS.map(json.dumps), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_body_parses_or_is_an_input_error(body: str) -> None:
    try:
        run = parse_run_input(body.encode("utf-8", "surrogatepass"))
    except InputError:
        return
    assert isinstance(run.threadId, str) and isinstance(run.runId, str)


async def test_a_client_that_aborts_the_request_cancels_the_run() -> None:
    from myagent.llm.testing import ScriptedReply

    model = ScriptedModel([ScriptedReply(text="a long answer that never ends", chunk_size=2, hold_after=1)])
    async with running_server(lambda: create_toolcall_agent(llm=model)) as server:
        body = {"threadId": "t1", "runId": "r1", "messages": [user("Talk")]}
        url = f"http://127.0.0.1:{server.port}/agui"
        async with (
            httpx.AsyncClient(trust_env=False, timeout=WAIT) as http,
            http.stream("POST", url, json=body) as response,
        ):
            async for line in response.aiter_lines():
                if "TEXT_MESSAGE_CONTENT" in line:
                    break  # the model is now paused mid-answer: hang up
        thread = server.app.state.agui.threads.get("t1")
        assert thread is not None and thread.run is not None
        await asyncio.wait_for(asyncio.gather(thread.run, return_exceptions=True), WAIT)
        assert thread.run.cancelled()


async def test_a_plan_and_solve_agent_runs_through_agui() -> None:
    from myagent.plan_solve import create_plan_solver
    from tests.test_telemetry import OnePlanner, WeatherSolver

    async with serve(lambda: create_plan_solver(planner=OnePlanner(), solver=WeatherSolver(), name="trip")) as agui:
        events = await agui.run("t1", "r1", [user("Weather for my trip")])
    kinds = types(events)
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
    custom = [e["name"] for e in events if e["type"] == "CUSTOM"]
    assert custom[0] == "plan.start" and "aggregate.completed" in custom
    assert kinds.count("TOOL_CALL_START") == 2 and kinds.count("TOOL_CALL_RESULT") == 2  # one per task
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text and text == events[-1]["result"]  # the pipeline's answer, sent as one message
