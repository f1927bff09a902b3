"""Agent files written for older MyAgent versions: old import path, old factory keywords, ``parameters`` dicts."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from myagent import create_react_agent, create_toolcall_agent
from myagent.agent import ToolCallFinished
from myagent.llm import ScriptedModel, call, close_shared_clients
from myagent.tool import BaseTool as CurrentBaseTool
from myagent.tool import ToolResult as CurrentToolResult
from myagent.tool.base_tool import BaseTool, ToolResult
from tests.fakes.fake_openai import FakeOpenAIServer
from tests.test_chat_cli import json_lines, run_chat, server_process

OLD_AGENT = textwrap.dedent(
    '''
    """An agent file as older MyAgent versions wrote them."""
    from myagent import create_react_agent
    from myagent.tool.base_tool import BaseTool, ToolResult


    class OrderStatus(BaseTool):
        name: str = "order_status"
        description: str = "查询订单状态。Look up the status of an order."
        parameters: dict = {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "订单号"}},
            "required": ["order_id"],
        }

        async def execute(self, **kwargs) -> ToolResult:
            return ToolResult(output=f"订单 {kwargs['order_id']} 已发货")


    def create_agent():
        return create_react_agent(
            name="orders",
            description="订单助手",
            tools=[OrderStatus()],
            next_step_prompt="If you know the answer, reply; otherwise call a tool.",
            tool_choice="auto",
            max_observe=2000,
            max_steps=5,
        )
    '''
)


class Echo(BaseTool):
    name = "echo"
    description = "Echo the text."
    parameters = {  # noqa: RUF012  (the old style: a plain class-level dict)
        "type": "object",
        "properties": {"text": {"type": "string"}, "times": {"type": "integer", "minimum": 1}},
        "required": ["text"],
    }

    async def execute(self, **kwargs: object) -> ToolResult:
        return ToolResult(output=str(kwargs["text"]) * int(str(kwargs.get("times", 1))))


def test_the_old_import_path_gives_the_current_classes() -> None:
    assert BaseTool is CurrentBaseTool
    assert ToolResult is CurrentToolResult


def test_an_old_agent_file_is_served_through_the_cli_and_answers(tmp_path: Path) -> None:
    agent_file = tmp_path / "old_agent.py"
    agent_file.write_text(OLD_AGENT, encoding="utf-8")
    with server_process(agent_file, tmp_path) as url:
        result = run_chat(url, "--json", "--message", '订单 "A-17" 的状态怎么样？', cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    events = json_lines(result.stdout)
    assert events[0]["metadata"]["agent_name"] == "orders"  # type: ignore[index]
    calls = [e for e in events if e["event"] == "agent.tool_call"]
    assert [c["metadata"]["tool_name"] for c in calls] == ["order_status"]  # type: ignore[index]
    assert events[-1]["event"] == "agent.final_answer"
    assert "订单 A-17 已发货" in str(events[-1]["content"])


async def test_a_parameters_dict_is_the_schema_and_arguments_are_checked_against_it() -> None:
    model = ScriptedModel([call("echo", {"text": "ab", "times": 0}), call("echo", {"text": "ab", "times": 2}), "done"])
    agent = create_toolcall_agent(llm=model, tools=[Echo()])
    events = [e async for e in agent.stream("echo ab twice")]
    assert model.requests[0].tools[0]["function"]["parameters"] == Echo.parameters
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [e.status for e in finished] == ["invalid_arguments", "ok"]
    assert "times" in str(finished[0].result) and "minimum" in str(finished[0].result)
    assert str(finished[1].result) == "abab"


async def test_max_observe_cuts_what_the_model_sees_but_not_what_the_client_gets() -> None:
    model = ScriptedModel([call("echo", {"text": "x", "times": 50}), "done"])
    agent = create_toolcall_agent(llm=model, tools=[Echo()], max_observe=10)
    events = [e async for e in agent.stream("lots of x")]
    [finished] = [e for e in events if isinstance(e, ToolCallFinished)]
    assert str(finished.result) == "x" * 50  # the client's tool result is whole
    seen = model.requests[1].messages[-1]
    assert seen.role == "tool"
    assert seen.content is not None and seen.content.startswith("x" * 10 + "\n")
    assert "x" * 11 not in seen.content and "10 of 50 characters" in seen.content


async def test_next_step_prompt_is_sent_on_every_step_and_never_stored() -> None:
    model = ScriptedModel([call("echo", {"text": "a"}), "done"])
    agent = create_react_agent(llm=model, tools=[Echo()], next_step_prompt="Think, then act.")
    assert await agent.run("echo a") == "done"
    for request in model.requests:
        assert (request.messages[-1].role, request.messages[-1].content) == ("system", "Think, then act.")
    assert all(m.content != "Think, then act." for m in agent.memory)
    assert agent.clone().next_step_prompt == "Think, then act."


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
async def test_tool_choice_is_passed_to_the_model_endpoint(fake_openai: FakeOpenAIServer, choice: str) -> None:
    fake_openai.add_text("ok")
    agent = create_toolcall_agent(
        llm_config={"base_url": fake_openai.url, "api_key": "k", "max_retries": 0},
        tools=[Echo()],
        tool_choice=choice,  # type: ignore[arg-type]
    )
    try:
        assert await agent.run("hi") == "ok"
    finally:
        await close_shared_clients()  # a library user closes the shared HTTP client when done
    assert fake_openai.requests[0]["tool_choice"] == choice


async def test_tool_choice_none_keeps_the_offline_model_from_calling_tools() -> None:
    from myagent.llm import OfflineModel

    agent = create_toolcall_agent(llm=OfflineModel(), tools=[Echo()], tool_choice="none")
    events = [e async for e in agent.stream('echo "ab"')]
    assert not [e for e in events if isinstance(e, ToolCallFinished)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bogus": 1}, TypeError, "bogus"),
        ({"tool_choice": "always"}, ValueError, "tool_choice"),
        ({"max_observe": 0}, ValueError, "max_observe"),
    ],
)
def test_unknown_or_bad_keywords_are_clear_errors(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        create_react_agent(**kwargs)  # type: ignore[arg-type]


def test_the_old_agent_file_round_trips_as_json_schema() -> None:
    """The declared schema reaches the model unchanged (a copy: the class attribute stays untouched)."""
    schema = Echo().to_schema()["function"]["parameters"]
    schema["properties"]["text"]["type"] = "number"
    assert json.dumps(Echo.parameters["properties"]["text"]) == '{"type": "string"}'  # type: ignore[index]
