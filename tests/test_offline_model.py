"""The offline model driving the guide's weather agent (examples/weather_agent.py)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from myagent import create_toolcall_agent
from myagent.agent import (
    AnswerDelta,
    ConfirmationRequest,
    FinalAnswer,
    ModelCallFinished,
    RunEvent,
    ToolCallAgent,
    ToolCallFinished,
    ToolCallStarted,
)
from myagent.llm import Message, OfflineModel
from myagent.tool import BaseTool

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "weather_agent.py"


@pytest.fixture
def weather(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> types.ModuleType:
    """examples/weather_agent.py loaded from its path, with no model endpoint configured."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("weather_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def new_agent(weather: types.ModuleType) -> ToolCallAgent:
    agent: ToolCallAgent = weather.create_agent()
    assert isinstance(agent.model, OfflineModel)
    return agent


async def collect(agent: ToolCallAgent, query: str, **kwargs: Any) -> list[RunEvent]:
    return [event async for event in agent.stream(query, **kwargs)]


def started(events: Sequence[RunEvent]) -> list[tuple[str, Any]]:
    return [(e.name, e.arguments) for e in events if isinstance(e, ToolCallStarted)]


def final(events: Sequence[RunEvent]) -> FinalAnswer:
    last = events[-1]
    assert isinstance(last, FinalAnswer)
    return last


async def test_weather_question_calls_the_tool_then_answers_with_its_output(weather: types.ModuleType) -> None:
    agent = new_agent(weather)
    events = await collect(agent, "北京天气怎么样")
    assert started(events) == [("get_weather", {"city": "北京"})]
    [done] = [e for e in events if isinstance(e, ToolCallFinished)]
    assert done.status == "ok"
    assert str(done.result) == "北京今天晴，12~24°C"
    assert done.result.data == {"city": "北京", "date": "today", "sky": "晴", "low": 12, "high": 24}
    answer = final(events)
    assert answer.reason == "stop"
    assert answer.steps == 2
    assert "北京今天晴，12~24°C" in answer.text
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == answer.text  # streamed
    assert [m.role for m in agent.memory] == ["user", "assistant", "tool", "assistant"]
    assert agent.memory[-1] == Message("assistant", answer.text)


async def test_two_cities_give_two_parallel_calls(weather: types.ModuleType) -> None:
    agent = new_agent(weather)
    events = await collect(agent, "北京和上海的天气")
    assert started(events) == [("get_weather", {"city": "北京"}), ("get_weather", {"city": "上海"})]
    assert {e.step for e in events if isinstance(e, ToolCallStarted)} == {1}  # same step
    assert len(agent.memory[1].tool_calls) == 2
    answer = final(events).text
    assert "北京今天晴" in answer
    assert "上海今天小雨" in answer


async def test_subscription_is_refused_without_a_confirmation_handler(weather: types.ModuleType) -> None:
    agent = new_agent(weather)
    events = await collect(agent, "订阅深圳的天气预警")
    starts = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [(e.name, e.arguments, e.needs_confirmation) for e in starts] == [
        ("subscribe_weather_alert", {"city": "深圳"}, True)
    ]
    [done] = [e for e in events if isinstance(e, ToolCallFinished)]
    assert done.status == "refused"
    answer = final(events).text
    assert "已为深圳订阅" not in answer
    assert "not run" in answer


async def test_subscription_runs_when_the_user_approves(weather: types.ModuleType) -> None:
    asked: list[ConfirmationRequest] = []

    async def approve(request: ConfirmationRequest) -> bool:
        asked.append(request)
        return True

    agent = new_agent(weather)
    events = await collect(agent, "订阅深圳的天气预警", confirm=approve)
    assert [(r.tool_name, r.arguments) for r in asked] == [("subscribe_weather_alert", {"city": "深圳"})]
    assert [e.status for e in events if isinstance(e, ToolCallFinished)] == ["ok"]
    assert "已为深圳订阅" in final(events).text


async def test_greeting_gets_an_introduction_without_tool_calls(weather: types.ModuleType) -> None:
    agent = new_agent(weather)
    events = await collect(agent, "你好，请介绍一下自己")
    assert started(events) == []
    answer = final(events)
    assert answer.steps == 1
    assert "weather_agent" in answer.text
    assert "get_weather" in answer.text
    assert "离线模式" in answer.text


def _comparable(events: Sequence[RunEvent]) -> list[RunEvent]:
    """Events without their timings (the only thing allowed to differ between runs)."""
    return [
        dataclasses.replace(e, duration=0.0) if isinstance(e, ToolCallFinished | ModelCallFinished) else e
        for e in events
    ]


@pytest.mark.parametrize("question", ["北京和上海的天气", "你好，请介绍一下自己"])
async def test_offline_model_is_deterministic(weather: types.ModuleType, question: str) -> None:
    first = await collect(new_agent(weather), question)
    second = await collect(new_agent(weather), question)
    assert _comparable(first) == _comparable(second)


async def test_english_question_gets_an_english_answer(weather: types.ModuleType) -> None:
    agent = new_agent(weather)
    answer = final(await collect(agent, "Hello, what can you do?")).text
    assert answer.startswith("Hello! I am weather_agent")
    assert "offline mode" in answer
    assert "get_weather, subscribe_weather_alert" in answer
    assert "你好" not in answer


class Clock(BaseTool):
    name = "current_time"
    description = "Tells the current time."

    async def execute(self) -> str:
        return "12:00"


@pytest.mark.parametrize(
    ("question", "tools_called"),
    [
        ("What time is it?", ["current_time"]),
        ("What is the weather in Beijing?", []),  # "what", "is", "the" say nothing about a tool
        ("Can you give me the final answer?", []),  # never the built-in terminate tool
    ],
)
async def test_offline_model_matches_tools_on_meaningful_words(question: str, tools_called: list[str]) -> None:
    agent = create_toolcall_agent(llm=OfflineModel(), tools=[Clock()], terminate_tool=True)
    events = await collect(agent, question)
    assert [name for name, _ in started(events)] == tools_called
    answer = final(events)
    assert answer.reason == "stop"
    if tools_called:
        assert "12:00" in answer.text
    else:
        assert answer.text.startswith("Hello! I am MyAgent")


class StockPrice(BaseTool):
    name = "stock_price"
    description = "Latest price of a stock."

    async def execute(self, symbol: str) -> str:
        return f"{symbol}: 100"


async def test_a_chinese_question_finds_a_tool_described_in_english() -> None:
    agent = create_toolcall_agent(llm=OfflineModel(), tools=[Clock(), StockPrice()])
    events = await collect(agent, '股票 "AAPL" 的价格是多少？')
    assert started(events) == [("stock_price", {"symbol": "AAPL"})]
    assert "AAPL: 100" in final(events).text


@pytest.mark.parametrize("follow_up", ["那 MSFT 呢？", "MSFT呢", "What about MSFT?", "and MSFT?"])
async def test_a_follow_up_repeats_the_previous_tool_with_the_new_subject(follow_up: str) -> None:
    agent = create_toolcall_agent(llm=OfflineModel(), tools=[Clock(), StockPrice()])
    await agent.run('股票 "AAPL" 的价格是多少？')
    events = await collect(agent, follow_up)
    assert started(events) == [("stock_price", {"symbol": "MSFT"})]
    assert "MSFT: 100" in final(events).text


async def test_a_follow_up_with_an_enum_value_keeps_the_other_arguments(weather: types.ModuleType) -> None:
    agent = new_agent(weather)
    await agent.run("北京明天天气怎么样")
    assert started(await collect(agent, "上海呢？")) == [("get_weather", {"city": "上海"})]
    # a subject that fits no argument of the previous call is no follow-up: no call, an introduction
    events = await collect(agent, "杭州呢？")
    assert started(events) == []
    assert "离线模式" in final(events).text


async def test_a_new_question_starting_with_and_is_no_follow_up() -> None:
    agent = create_toolcall_agent(llm=OfflineModel(), tools=[Clock(), StockPrice()])
    await agent.run('股票 "AAPL" 的价格是多少？')
    assert started(await collect(agent, "And what time is it now?")) == [("current_time", {})]


async def test_without_an_earlier_call_a_follow_up_is_just_a_question() -> None:
    agent = create_toolcall_agent(llm=OfflineModel(), tools=[StockPrice()])
    events = await collect(agent, "MSFT呢？")
    assert started(events) == []


class Plot(BaseTool):
    name = "plot"
    description = "Plot rows."

    async def execute(self, sql: str, chart_type: str, y_fields: list[str] | None = None) -> str:
        return f"{chart_type} of {', '.join(y_fields or [])}"


async def test_arguments_spelled_as_json_call_the_tool_they_fit_with_them() -> None:
    agent = create_toolcall_agent(llm=OfflineModel(), tools=[StockPrice(), Plot()])
    args = {"sql": "SELECT symbol, price FROM stocks", "chart_type": "line", "y_fields": ["price"]}
    events = await collect(agent, f'Draw the stock "AAPL" with {json.dumps(args)}')
    assert started(events) == [("plot", args)]  # not stock_price, which the quoted "AAPL" would fill
    assert "line of price" in final(events).text


async def test_json_that_fits_no_tool_is_just_text() -> None:
    agent = create_toolcall_agent(llm=OfflineModel(), tools=[StockPrice(), Plot()])
    events = await collect(agent, '股票 "AAPL" 的价格 {"ticker": "AAPL"}')
    assert started(events) == [("stock_price", {"symbol": "AAPL"})]
