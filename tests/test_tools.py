"""Tools: inferred schemas, argument checks, sync/async execution, results and collections."""

from __future__ import annotations

import asyncio
import importlib
import re
import sys
import threading
import types
from pathlib import Path
from typing import Any, Literal

import pytest

from myagent import create_toolcall_agent
from myagent.agent import ToolCallFinished
from myagent.errors import ToolError
from myagent.llm import OfflineModel, ScriptedModel, call
from myagent.tool import ArgumentError, BaseTool, Terminate, ToolCollection, ToolResult

GUIDE = Path("/work/shared/seed/quick-start.md")


# -- small real tools -------------------------------------------------------------------------


class Forecast(BaseTool):
    name = "forecast"
    description = "Weather forecast"

    async def execute(
        self,
        city: Literal["北京", "上海"],
        days: int,
        ratio: float = 0.5,
        metric: bool = True,
        tags: list[str] | None = None,
    ) -> ToolResult:
        """Forecast for a city.

        Args:
            city: the city to look up
            days (int): how many days ahead; a long description that is
                wrapped onto a second line.
            ratio: a number

        Returns:
            the forecast text: never a parameter
        """
        return ToolResult(output=f"{city}:{days}")


class KwargsOnly(BaseTool):
    name = "kwargs_only"

    async def execute(self, **kwargs: Any) -> ToolResult:
        return ToolResult(output=kwargs)


class Declared(BaseTool):
    name = "declared"
    parameters = {  # noqa: RUF012 - the documented way to declare a schema
        "type": "object",
        "properties": {"query": {"type": "string", "description": "what to search"}},
        "required": ["query"],
    }

    async def execute(self, **kwargs: Any) -> ToolResult:
        return ToolResult(output=kwargs["query"])


class BrokenSchema(BaseTool):
    name = "broken_schema"
    parameters = {"type": "object", "properties": {"x": {"type": "strnig"}}}  # noqa: RUF012

    async def execute(self, **kwargs: Any) -> ToolResult:
        return ToolResult(output="never")


class Nameless(BaseTool):
    async def execute(self) -> ToolResult:
        return ToolResult(output="never")


class ThreadProbe(BaseTool):
    name = "sync_probe"

    def execute(self, text: str) -> str:
        return f"{text}@{threading.get_ident()}"


class AsyncProbe(BaseTool):
    name = "async_probe"

    async def execute(self, text: str) -> str:
        return f"{text}@{threading.get_ident()}"


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("broken repr")


# -- schema inference -------------------------------------------------------------------------


def test_schema_is_inferred_from_type_hints_defaults_and_docstring() -> None:
    schema = Forecast().to_schema()
    assert schema["type"] == "function"
    assert schema["function"]["name"] == "forecast"
    assert schema["function"]["description"] == "Weather forecast"
    params = schema["function"]["parameters"]
    props = params["properties"]
    assert params["type"] == "object"
    assert props["city"]["enum"] == ["北京", "上海"]
    assert props["city"]["description"] == "the city to look up"
    assert props["days"]["type"] == "integer"
    assert props["days"]["description"] == "how many days ahead; a long description that is wrapped onto a second line."
    assert props["ratio"]["type"] == "number"
    assert props["ratio"]["default"] == 0.5
    assert props["metric"]["type"] == "boolean"
    assert {"type": "array", "items": {"type": "string"}} in props["tags"]["anyOf"]
    # parameters with defaults are optional; the Returns: section is not a parameter
    assert params["required"] == ["city", "days"]
    assert set(props) == {"city", "days", "ratio", "metric", "tags"}
    assert all("title" not in prop for prop in props.values())


def test_kwargs_only_tool_gets_an_empty_object_schema_never_null() -> None:
    params = KwargsOnly().to_schema()["function"]["parameters"]
    assert params == {"type": "object", "properties": {}}
    assert KwargsOnly().check_arguments("") == {}
    assert KwargsOnly().check_arguments('{"anything": 1}') == {"anything": 1}


def test_explicitly_declared_parameters_win_over_inference() -> None:
    params = Declared().to_schema()["function"]["parameters"]
    assert params == Declared.parameters
    with pytest.raises(ArgumentError, match="'query' is a required property"):
        Declared().check_arguments("{}")


def test_empty_declared_parameters_mean_no_arguments() -> None:
    class NoArgs(BaseTool):
        name = "no_args"
        parameters: dict[str, Any] | None = {}  # noqa: RUF012

        async def execute(self) -> str:
            return "ok"

    assert NoArgs().to_schema()["function"]["parameters"] == {"type": "object", "properties": {}}


def test_invalid_declared_schema_fails_when_the_collection_is_built() -> None:
    with pytest.raises(ToolError, match="invalid parameters schema"):
        ToolCollection(BrokenSchema())
    with pytest.raises(ToolError, match="invalid parameters schema"):
        create_toolcall_agent(tools=[BrokenSchema()], llm=ScriptedModel([]))


def test_terminate_tool_schema() -> None:
    params = Terminate().to_schema()["function"]["parameters"]
    assert params["properties"]["status"]["enum"] == ["success", "failure"]
    assert params["properties"]["answer"]["description"] == "the final answer shown to the user."
    assert "required" not in params


# -- argument validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"city": "北', "arguments are not valid JSON"),
        ("[1, 2]", "arguments must be a JSON object, got list"),
        ('"北京"', "arguments must be a JSON object, got str"),
        ('{"city": "北京", "days": "two"}', "days: 'two' is not of type 'integer'"),
        ('{"city": "北京"}', "'days' is a required property"),
        ('{"city": "火星", "days": 1}', "city: '火星' is not one of ['北京', '上海']"),
        ('{"city": "北京", "days": 1, "metric": "yes"}', "metric: 'yes' is not of type 'boolean'"),
    ],
)
def test_bad_arguments_raise_argument_error_with_a_clear_message(raw: str, message: str) -> None:
    with pytest.raises(ArgumentError) as info:
        Forecast().check_arguments(raw)
    assert message in str(info.value)


def test_all_problems_are_listed_at_once() -> None:
    with pytest.raises(ArgumentError) as info:
        Forecast().check_arguments("{}")
    assert "'city' is a required property" in str(info.value)
    assert "'days' is a required property" in str(info.value)


def test_good_arguments_are_decoded() -> None:
    assert Forecast().check_arguments('{"city": "上海", "days": 3}') == {"city": "上海", "days": 3}
    assert Forecast().check_arguments({"city": "北京", "days": 1}) == {"city": "北京", "days": 1}


# -- execution --------------------------------------------------------------------------------


async def test_sync_execute_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    result = await ThreadProbe()(text="hi")
    text, thread = str(result).split("@")
    assert text == "hi"
    assert int(thread) != loop_thread


async def test_async_execute_runs_on_the_event_loop() -> None:
    result = await AsyncProbe()(text="hi")
    assert str(result) == f"hi@{threading.get_ident()}"


async def test_plain_return_values_are_wrapped() -> None:
    class Plain(BaseTool):
        name = "plain"

        async def execute(self) -> dict[str, Any]:
            return {"温度": 21}

    result = await Plain()()
    assert isinstance(result, ToolResult)
    assert result.ok
    assert str(result) == '{"温度": 21}'


# -- ToolResult -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (ToolResult(output="plain"), "plain"),
        (ToolResult(output={"城市": "北京", "temp": 21}), '{"城市": "北京", "temp": 21}'),
        (ToolResult(output=[1, "二", None]), '[1, "二", null]'),
        (ToolResult(error="disk full"), "Error: disk full"),
        (ToolResult(output="partial", error="disk full"), "Error: disk full"),
        (ToolResult(output="rows", system="output truncated"), "rows\noutput truncated"),
        (ToolResult(system="note only"), "note only"),
        (ToolResult(data={"chart": [1, 2]}), '{"chart": [1, 2]}'),
        (ToolResult(output="shown", data={"hidden": True}), "shown"),
        (ToolResult(), ""),
    ],
)
def test_tool_result_text(result: ToolResult, text: str) -> None:
    assert str(result) == text


def test_tool_result_str_never_fails() -> None:
    assert str(ToolResult(output=Unprintable())) == "<unprintable Unprintable>"
    assert str(ToolResult(output={"x": Unprintable()})) == "<unprintable dict>"
    assert "object object at" in str(ToolResult(output=object()))  # not JSON: falls back to str()
    circular: list[Any] = []
    circular.append(circular)
    assert str(ToolResult(output=circular)) == "[[...]]"


def test_tool_result_ok_and_failure() -> None:
    assert ToolResult(output="x").ok
    failed = ToolResult.failure("nope")
    assert not failed.ok
    assert str(failed) == "Error: nope"


def test_tool_results_add_up() -> None:
    combined = ToolResult(output="a", system="s1", data=1) + ToolResult(output={"b": 2}, base64_image="img", data=2)
    assert combined.output == 'a{"b": 2}'
    assert combined.system == "s1"
    assert combined.base64_image == "img"
    assert combined.data == 2
    assert combined.ok
    assert (ToolResult(output="a") + ToolResult(error="boom")).error == "boom"
    assert (ToolResult(error="e1") + ToolResult(error="e2")).error == "e1e2"
    assert (ToolResult(output="kept") + ToolResult()).output == "kept"


# -- ToolCollection ---------------------------------------------------------------------------


def test_collection_rejects_duplicates_nameless_tools_and_non_tools() -> None:
    with pytest.raises(ToolError, match="two tools are named 'forecast'"):
        ToolCollection(Forecast(), Forecast())
    with pytest.raises(ToolError, match="Nameless has no name"):
        ToolCollection(Nameless())
    with pytest.raises(ToolError, match="is not a BaseTool instance"):
        ToolCollection(Forecast, KwargsOnly())  # type: ignore[arg-type]
    with pytest.raises(ToolError, match="is not a BaseTool instance"):
        create_toolcall_agent(tools=[lambda: "x"], llm=ScriptedModel([]))  # type: ignore[list-item]


@pytest.mark.parametrize("name", ["get weather", "查天气", "tools.search", "x" * 65])
def test_tool_names_the_model_api_would_reject_fail_at_construction(name: str) -> None:
    class Odd(BaseTool):
        async def execute(self) -> str:
            return "never"

    odd = Odd()
    odd.name = name
    with pytest.raises(ToolError, match="must be 1-64 letters, digits"):
        ToolCollection(odd)


def test_collection_keeps_order_and_offers_schemas() -> None:
    tools = ToolCollection(KwargsOnly(), Forecast())
    assert tools.names == ["kwargs_only", "forecast"]
    assert len(tools) == 2
    assert "forecast" in tools
    assert tools.get("missing") is None
    assert [s["function"]["name"] for s in tools.to_schemas()] == ["kwargs_only", "forecast"]


# -- the user's guide `MyTool` ----------------------------------------------------------------


def _guide_server_code() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    matching = [str(block) for block in blocks if "class MyTool" in block]
    assert len(matching) == 1, "the guide should have exactly one my_agent_server.py block"
    return matching[0]


@pytest.fixture
def guide_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> types.ModuleType:
    """The guide's my_agent_server.py, executed verbatim as a module (``main()`` does not run)."""
    if not GUIDE.is_file():
        pytest.skip(f"user's guide not found at {GUIDE}")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    try:
        importlib.import_module("myagent.ws.server")
    except ImportError:
        # The WebSocket server is not written yet: stand in for it so the tool and agent parts of the
        # guide can still be checked (nothing here starts a server).
        stub = types.ModuleType("myagent.ws.server")
        stub.AgentWebSocketServer = type("AgentWebSocketServer", (), {})  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "myagent.ws.server", stub)
    module = types.ModuleType("guide_my_agent_server")
    exec(compile(_guide_server_code(), "my_agent_server.py", "exec"), module.__dict__)
    return module


def test_guide_tool_schema(guide_module: types.ModuleType) -> None:
    tool = guide_module.MyTool()
    assert tool.to_schema()["function"] == {
        "name": "my_tool",
        "description": "示例工具",
        "parameters": {"type": "object", "properties": {}},
    }


async def test_guide_agent_runs_its_tool_offline(guide_module: types.ModuleType) -> None:
    agent = guide_module.create_agent()
    assert isinstance(agent.model, OfflineModel)
    assert agent.name == "my_agent"
    events = [event async for event in agent.stream("请用示例工具试一下")]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(e.name, e.status, str(e.result)) for e in finished] == [("my_tool", "ok", "工具执行成功")]
    tool_messages = [m for m in agent.memory if m.role == "tool"]
    assert [(m.name, m.content) for m in tool_messages] == [("my_tool", "工具执行成功")]
    assert "工具执行成功" in (agent.memory[-1].content or "")


async def test_guide_agent_runs_its_tool_with_a_scripted_model(guide_module: types.ModuleType) -> None:
    agent = guide_module.create_agent()
    model = ScriptedModel([call("my_tool", {"anything": "goes"}, id="c1"), "完成"])
    agent.model = model
    assert await agent.run("调用 my_tool") == "完成"
    model.assert_finished()
    tool_message = next(m for m in agent.memory if m.role == "tool")
    assert (tool_message.tool_call_id, tool_message.content) == ("c1", "工具执行成功")
    assert model.requests[0].tools[0]["function"]["parameters"] == {"type": "object", "properties": {}}


async def test_sync_tool_does_not_block_the_loop() -> None:
    """A sync tool blocked in its thread leaves the event loop free (here: to unblock it)."""
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()
    gate = threading.Event()

    class Blocking(BaseTool):
        name = "blocking"

        def execute(self) -> str:
            loop.call_soon_threadsafe(entered.set)
            assert gate.wait(10), "the event loop was blocked by a sync tool"
            return "released"

    task = asyncio.create_task(Blocking()())
    await entered.wait()  # the tool is now blocked in its thread...
    gate.set()  # ...and the loop still runs
    assert str(await task) == "released"
