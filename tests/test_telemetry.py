"""OpenTelemetry GenAI spans, captured with the SDK's in-memory exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.llm.base import ModelRequest
from myagent.llm.testing import FunctionModel, Script, ScriptedModel, call
from myagent.plan_solve import PlanAgent, PlanContext, SolverAgent, create_plan_solver
from myagent.telemetry import disable_tracing, enable_tracing
from myagent.telemetry.context import trace_carrier
from myagent.tool import BaseTool, ToolResult
from tests.harness import Client, running_server

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class GetWeather(BaseTool):
    name = "get_weather"
    description = "Weather of a city"

    async def execute(self, city: str) -> ToolResult:
        return ToolResult(output=f"{city}: sunny")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(tracer_provider=provider)
    yield exporter
    disable_tracing()


@pytest.fixture
def content_spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(tracer_provider=provider, capture_content=True)
    yield exporter
    disable_tracing()


def weather_agent(model: Any) -> ToolCallAgent:
    return create_toolcall_agent(tools=[GetWeather()], llm=model, name="weather", description="Weather helper")


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


async def test_a_tool_calling_run_has_invoke_agent_chat_and_execute_tool_spans(spans: InMemorySpanExporter) -> None:
    agent = weather_agent(ScriptedModel([call("get_weather", {"city": "Paris"}, id="call_7"), "Sunny in Paris."]))
    assert await agent.run("Weather in Paris?") == "Sunny in Paris."
    named = by_name(spans)
    (run,) = named["invoke_agent weather"]
    chats = named["chat scripted"]
    (tool,) = named["execute_tool get_weather"]
    assert len(chats) == 2
    assert run.parent is None
    assert all(parent_of(span) == span_id(run) for span in [*chats, tool])
    assert run.attributes is not None and chats[0].attributes is not None and tool.attributes is not None
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.agent.name"] == "weather"
    assert run.attributes["gen_ai.provider.name"] == "myagent.test"
    assert run.attributes["gen_ai.request.model"] == "scripted"
    assert chats[0].attributes["gen_ai.operation.name"] == "chat"
    assert chats[0].attributes["gen_ai.request.model"] == "scripted"
    assert chats[0].attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    chat_input = sum(int(c.attributes["gen_ai.usage.input_tokens"]) for c in chats)  # type: ignore[index]
    chat_output = sum(int(c.attributes["gen_ai.usage.output_tokens"]) for c in chats)  # type: ignore[index]
    assert run.attributes["gen_ai.usage.input_tokens"] == chat_input > 0
    assert run.attributes["gen_ai.usage.output_tokens"] == chat_output > 0
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "get_weather"
    assert tool.attributes["gen_ai.tool.call.id"] == "call_7"
    # No content unless opted in.
    every = [key for span in spans.get_finished_spans() for key in (span.attributes or {})]
    assert not [key for key in every if key in ("gen_ai.input.messages", "gen_ai.output.messages")]
    assert "gen_ai.tool.call.arguments" not in every


async def test_content_is_recorded_only_when_opted_in(content_spans: InMemorySpanExporter) -> None:
    agent = weather_agent(ScriptedModel([call("get_weather", {"city": "Paris"}), "Sunny in Paris."]))
    await agent.run("Weather in Paris?")
    named = by_name(content_spans)
    first_chat = named["chat scripted"][0].attributes or {}
    messages = json.loads(str(first_chat["gen_ai.input.messages"]))
    assert messages[-1] == {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    tool = named["execute_tool get_weather"][0].attributes or {}
    assert json.loads(str(tool["gen_ai.tool.call.arguments"])) == {"city": "Paris"}
    assert tool["gen_ai.tool.call.result"] == "Paris: sunny"


async def test_a_failing_tool_marks_its_span_as_an_error(spans: InMemorySpanExporter) -> None:
    agent = weather_agent(ScriptedModel([call("get_weather", {"town": "Paris"}), "Sorry."]))
    await agent.run("Weather?")
    (tool,) = by_name(spans)["execute_tool get_weather"]
    assert tool.attributes is not None and tool.attributes["error.type"] == "invalid_arguments"
    assert not tool.status.is_ok


class OnePlanner(PlanAgent):
    name = "planner"

    def build_agent(self, question: str) -> ToolCallAgent:
        tasks = [{"id": 1, "title": "Paris"}, {"id": 2, "title": "Rome"}]
        return create_toolcall_agent(name="planner", llm=ScriptedModel([json.dumps(tasks)], name="plan-model"))


class WeatherSolver(SolverAgent):
    name = "solver"

    def build_agent(self, task: Any, context: PlanContext) -> ToolCallAgent:
        return weather_agent(FunctionModel(self._reply, name="solve-model"))

    @staticmethod
    def _reply(request: ModelRequest) -> Script:
        if not any(message.role == "tool" for message in request.messages):
            return call("get_weather", {"city": "x"})
        return "done"


async def test_plan_and_solve_is_a_workflow_with_plan_solver_and_aggregate_children(
    spans: InMemorySpanExporter,
) -> None:
    agent = create_plan_solver(planner=OnePlanner(), solver=WeatherSolver(), name="trip")
    [event async for event in agent.stream("Weather for my trip")]
    named = by_name(spans)
    (workflow,) = named["invoke_workflow trip"]
    (plan,) = named["plan planner"]
    solvers = [*named["solver 1"], *named["solver 2"]]
    (aggregate,) = named["aggregate"]
    assert workflow.parent is None
    assert workflow.attributes is not None and workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert all(parent_of(span) == span_id(workflow) for span in [plan, *solvers, aggregate])
    assert plan.attributes is not None and plan.attributes["gen_ai.operation.name"] == "plan"
    (planner_run,) = named["invoke_agent planner"]
    assert parent_of(planner_run) == span_id(plan)
    solver_runs = named["invoke_agent weather"]
    assert sorted(parent_of(run) or 0 for run in solver_runs) == sorted(span_id(s) for s in solvers)
    tools = named["execute_tool get_weather"]
    assert {parent_of(tool) for tool in tools} == {span_id(run) for run in solver_runs}
    assert workflow.attributes["gen_ai.usage.input_tokens"] > 0


async def test_traceparent_in_a_client_frame_continues_the_clients_trace(spans: InMemorySpanExporter) -> None:
    model = ScriptedModel([call("get_weather", {"city": "Paris"}), "Sunny."])
    async with running_server(lambda: weather_agent(model)) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send(
            "user.message",
            session_id=client.session_id,
            content="Weather?",
            metadata={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        )
        await client.expect("agent.final_answer")
        await client.close()
    (run,) = by_name(spans)["invoke_agent weather"]
    assert run.context is not None and run.parent is not None
    assert format(run.context.trace_id, "032x") == TRACE_ID
    assert format(run.parent.span_id, "016x") == PARENT_ID
    assert run.attributes is not None and run.attributes["gen_ai.conversation.id"] == client.session_id
    assert all(format(s.context.trace_id, "032x") == TRACE_ID for s in spans.get_finished_spans() if s.context)


async def test_a_malformed_traceparent_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    model = ScriptedModel(["Hi."])
    async with running_server(lambda: weather_agent(model)) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        metadata = {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}
        await client.send("user.message", session_id=client.session_id, content="Hi", metadata=metadata)
        await client.expect("agent.final_answer")
        await client.close()
    (run,) = by_name(spans)["invoke_agent weather"]
    assert run.parent is None


async def test_tracing_is_off_by_default() -> None:
    """Even with an OpenTelemetry SDK configured globally, runs make no spans until tracing is enabled."""
    from opentelemetry import trace

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    agent = weather_agent(ScriptedModel([call("get_weather", {"city": "Paris"}), "Sunny."]))
    assert await agent.run("Weather?") == "Sunny."
    assert exporter.get_finished_spans() == ()


_HEADER_LIKE = st.from_regex(r"[0-9a-f]{2}-[0-9a-f]{30,33}-[0-9a-fA-F]{16}-[0-9a-f]{2}", fullmatch=True)
_VALUES = st.text(max_size=80) | _HEADER_LIKE | st.integers() | st.none()


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(["traceparent", "tracestate", "other"]), _VALUES))
def test_trace_carrier_accepts_only_valid_w3c_headers(metadata: dict[str, Any]) -> None:
    carrier = trace_carrier(metadata)
    if carrier is not None:
        version, trace_id, parent_id, flags = carrier["traceparent"].split("-")
        assert version == "00" and len(trace_id) == 32 and len(parent_id) == 16 and len(flags) == 2
        assert set(carrier) <= {"traceparent", "tracestate"}


async def test_a_traceparent_that_is_not_a_string_is_an_invalid_field() -> None:
    model = ScriptedModel([])
    async with running_server(lambda: weather_agent(model)) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send("user.message", session_id=client.session_id, content="Hi", metadata={"traceparent": 7})
        error = await client.expect("agent.error", "system.error")
        assert error["metadata"]["error_code"] == "INVALID_FIELD"
        assert "traceparent" in error["content"]
        await client.close()


async def test_an_agui_request_with_a_traceparent_header_continues_the_trace(spans: InMemorySpanExporter) -> None:
    import httpx2 as httpx

    model = ScriptedModel(["Hi."])
    async with (
        running_server(lambda: weather_agent(model)) as server,
        httpx.AsyncClient(trust_env=False, timeout=15) as http,
    ):
        body = {"threadId": "thread-9", "runId": "r1", "messages": [{"id": "u", "role": "user", "content": "Hi"}]}
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        response = await http.post(f"http://127.0.0.1:{server.port}/agui", json=body, headers=headers)
        assert response.status_code == 200 and "RUN_FINISHED" in response.text
    (run,) = by_name(spans)["invoke_agent weather"]
    assert run.context is not None and format(run.context.trace_id, "032x") == TRACE_ID
    assert run.attributes is not None and run.attributes["gen_ai.conversation.id"] == "thread-9"
