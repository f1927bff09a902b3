"""The agent loop, driven by ScriptedModel/FunctionModel: events, memory, tools, cancellation, usage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Literal

import pytest

from myagent import create_toolcall_agent
from myagent.agent import (
    AnswerDelta,
    ConfirmationDecision,
    ConfirmationRequest,
    FinalAnswer,
    MessageAdded,
    ModelCallFinished,
    RunEvent,
    RunFailed,
    StepStarted,
    ToolCallAgent,
    ToolCallFinished,
    ToolCallStarted,
)
from myagent.errors import AgentRunError, ModelError
from myagent.llm import FunctionModel, Message, ScriptedModel, ScriptedReply, Usage, call
from myagent.tool import BaseTool, ToolResult

# -- helpers ----------------------------------------------------------------------------------


def kinds(events: Sequence[RunEvent]) -> list[str]:
    """Event class names, consecutive AnswerDeltas folded into one entry."""
    names: list[str] = []
    for event in events:
        name = type(event).__name__
        if name == "AnswerDelta" and names and names[-1] == "AnswerDelta":
            continue
        names.append(name)
    return names


def assert_valid_history(messages: Sequence[Message]) -> None:
    """What an OpenAI-compatible endpoint accepts: every tool call answered, right after it, once."""
    pending: list[str] = []
    for message in messages:
        if message.role == "tool":
            assert message.tool_call_id in pending, f"tool result without an open call: {message}"
            pending.remove(message.tool_call_id)
            continue
        assert not pending, f"calls {pending} are not answered before {message}"
        if message.role == "assistant":
            assert message.content or message.tool_calls, "empty assistant message"
            pending = [c.id for c in message.tool_calls]
    assert not pending, f"calls {pending} are never answered"


async def collect(agent: ToolCallAgent, query: str, **kwargs: Any) -> list[RunEvent]:
    return [event async for event in agent.stream(query, **kwargs)]


def make_agent(model: Any, *tools: BaseTool, **kwargs: Any) -> ToolCallAgent:
    return create_toolcall_agent(llm=model, tools=list(tools), name="tester", **kwargs)


def finished(events: Sequence[RunEvent]) -> list[ToolCallFinished]:
    return [e for e in events if isinstance(e, ToolCallFinished)]


def tool_messages(agent: ToolCallAgent) -> list[Message]:
    return [m for m in agent.memory if m.role == "tool"]


# -- small real tools -------------------------------------------------------------------------


class Weather(BaseTool):
    name = "get_weather"
    description = "Weather of a city"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def execute(self, city: Literal["北京", "上海"]) -> ToolResult:
        self.calls.append(city)
        return ToolResult(output=f"{city}晴")


class Exploding(BaseTool):
    name = "explode"

    async def execute(self) -> ToolResult:
        raise ValueError("城市不存在")


class Gate(BaseTool):
    """Enters, then waits for ``release``; records whether it finished or was cancelled."""

    def __init__(self, name: str, *, timeout: float | None = None, user_confirm: bool = False) -> None:
        self.name = name
        self.timeout = timeout
        self.user_confirm = user_confirm
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.outcome: str | None = None

    async def execute(self) -> ToolResult:
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        self.outcome = "done"
        return ToolResult(output=f"{self.name} done")


class Subscribe(BaseTool):
    name = "subscribe"
    description = "Subscribe to alerts"
    user_confirm = True

    def __init__(self) -> None:
        self.ran = 0

    async def execute(self, city: str) -> ToolResult:
        self.ran += 1
        return ToolResult(output=f"已为{city}订阅")


# -- plain answers ----------------------------------------------------------------------------


async def test_plain_answer() -> None:
    model = ScriptedModel(["你好！我能帮你查天气。"])
    agent = make_agent(model, Weather())
    events = await collect(agent, "你好")
    assert kinds(events) == [
        "MessageAdded",
        "StepStarted",
        "AnswerDelta",
        "ModelCallFinished",
        "MessageAdded",
        "FinalAnswer",
    ]
    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    assert len(deltas) > 1  # streamed, not one lump
    assert "".join(deltas) == "你好！我能帮你查天气。"
    assert events[-1] == FinalAnswer("你好！我能帮你查天气。", "stop", 1)
    assert agent.memory == [Message("user", "你好"), Message("assistant", "你好！我能帮你查天气。")]
    assert [e.message for e in events if isinstance(e, MessageAdded)] == agent.memory
    request = model.requests[0]
    assert request.messages[0].role == "system"
    assert "tester" in (request.messages[0].content or "")
    assert [t["function"]["name"] for t in request.tools] == ["get_weather"]
    assert not agent.is_running
    model.assert_finished()


async def test_run_returns_the_answer_and_the_agent_can_run_again_at_once() -> None:
    model = ScriptedModel(["一", "二"])
    agent = make_agent(model)
    assert await agent.run("first") == "一"
    assert not agent.is_running
    assert await agent.run("second") == "二"


async def test_consumer_that_stops_at_the_final_answer_leaves_the_agent_free() -> None:
    model = ScriptedModel(["一", "二"])
    agent = make_agent(model)
    async for event in agent.stream("first"):
        if isinstance(event, FinalAnswer):
            break
    assert not agent.is_running
    assert (await collect(agent, "second"))[-1] == FinalAnswer("二", "stop", 1)
    assert_valid_history(agent.memory)


# -- tools ------------------------------------------------------------------------------------


class Rendezvous:
    """Two tools that each wait for the other: only concurrent execution finishes."""

    def __init__(self) -> None:
        self.first_in = asyncio.Event()
        self.second_in = asyncio.Event()
        self.second_done = asyncio.Event()


class First(BaseTool):
    name = "first"

    def __init__(self, meeting: Rendezvous) -> None:
        self.meeting = meeting

    async def execute(self) -> str:
        self.meeting.first_in.set()
        await self.meeting.second_in.wait()
        await self.meeting.second_done.wait()  # finish after the second call
        return "first result"


class Second(BaseTool):
    name = "second"

    def __init__(self, meeting: Rendezvous) -> None:
        self.meeting = meeting

    async def execute(self) -> str:
        self.meeting.second_in.set()
        await self.meeting.first_in.wait()
        self.meeting.second_done.set()
        return "second result"


async def test_parallel_tool_calls_run_concurrently_and_are_remembered_in_call_order() -> None:
    meeting = Rendezvous()
    model = ScriptedModel(
        [
            ScriptedReply(text="我同时查一下。", tool_calls=[call("first", id="c1"), call("second", id="c2")]),
            "都查好了。",
        ]
    )
    agent = make_agent(model, First(meeting), Second(meeting))
    async with asyncio.timeout(10):  # deadlock guard: sequential execution would never finish
        events = await collect(agent, "查两个")
    assert kinds(events) == [
        "MessageAdded",  # user
        "StepStarted",
        "AnswerDelta",
        "ModelCallFinished",
        "MessageAdded",  # assistant with the two calls
        "ToolCallStarted",
        "ToolCallStarted",
        "ToolCallFinished",
        "ToolCallFinished",
        "MessageAdded",  # tool c1
        "MessageAdded",  # tool c2
        "StepStarted",
        "AnswerDelta",
        "ModelCallFinished",
        "MessageAdded",
        "FinalAnswer",
    ]
    assert [e.step for e in events if isinstance(e, StepStarted)] == [1, 2]
    assert [e.call_id for e in events if isinstance(e, ToolCallStarted)] == ["c1", "c2"]
    # finish events as they happen (second first), memory in call order
    assert [(e.call_id, e.status, str(e.result)) for e in finished(events)] == [
        ("c2", "ok", "second result"),
        ("c1", "ok", "first result"),
    ]
    assert agent.memory == [
        Message("user", "查两个"),
        Message("assistant", "我同时查一下。", (call("first", id="c1"), call("second", id="c2"))),
        Message("tool", "first result", tool_call_id="c1", name="first"),
        Message("tool", "second result", tool_call_id="c2", name="second"),
        Message("assistant", "都查好了。"),
    ]
    assert events[-1] == FinalAnswer("都查好了。", "stop", 2)
    # the second model call sees the tool results
    assert list(model.requests[1].messages[1:]) == agent.memory[:4]


async def test_a_tool_that_raises_becomes_an_error_observation_and_the_run_continues() -> None:
    model = ScriptedModel([call("explode", id="c1"), "抱歉，查询失败了。"])
    agent = make_agent(model, Exploding())
    events = await collect(agent, "炸一下")
    [done] = finished(events)
    assert done.status == "error"
    assert done.result.error == "tool explode raised ValueError: 城市不存在"
    observation = model.requests[1].messages[-1]
    assert observation.role == "tool"
    assert observation.tool_call_id == "c1"
    assert observation.content == "Error: tool explode raised ValueError: 城市不存在"
    assert events[-1] == FinalAnswer("抱歉，查询失败了。", "stop", 2)
    assert_valid_history(agent.memory)


async def test_a_tool_returning_an_error_result_has_status_error() -> None:
    class Refuses(BaseTool):
        name = "refuses"

        async def execute(self) -> ToolResult:
            return ToolResult.failure("quota exceeded")

    model = ScriptedModel([call("refuses"), "ok"])
    events = await collect(make_agent(model, Refuses()), "go")
    assert [(e.status, str(e.result)) for e in finished(events)] == [("error", "Error: quota exceeded")]
    assert model.requests[1].messages[-1].content == "Error: quota exceeded"


async def test_invalid_arguments_are_reported_to_the_model_and_the_tool_is_not_run() -> None:
    weather = Weather()
    model = ScriptedModel([call("get_weather", {"city": "火星"}, id="c1"), "火星不支持。"])
    agent = make_agent(model, weather)
    events = await collect(agent, "火星天气")
    [started] = [e for e in events if isinstance(e, ToolCallStarted)]
    assert started.arguments == {"city": "火星"}
    [done] = finished(events)
    assert done.status == "invalid_arguments"
    assert weather.calls == []
    content = model.requests[1].messages[-1].content or ""
    assert content.startswith("Error: invalid arguments for get_weather:")
    assert "city: '火星' is not one of ['北京', '上海']" in content
    assert events[-1] == FinalAnswer("火星不支持。", "stop", 2)
    assert_valid_history(agent.memory)


async def test_malformed_json_arguments() -> None:
    weather = Weather()
    model = ScriptedModel([call("get_weather", '{"city": "北', id="c1"), "参数坏了。"])
    agent = make_agent(model, weather)
    events = await collect(agent, "北京天气")
    [started] = [e for e in events if isinstance(e, ToolCallStarted)]
    assert started.arguments == '{"city": "北'  # the raw text, since it does not decode
    [done] = finished(events)
    assert done.status == "invalid_arguments"
    assert weather.calls == []
    content = model.requests[1].messages[-1].content or ""
    assert "arguments are not valid JSON" in content
    assert '{"city": "北' in content
    assert_valid_history(agent.memory)


async def test_unknown_tool_name() -> None:
    model = ScriptedModel([call("get_wether", {"city": "北京"}, id="c1"), "我拼错了。"])
    agent = make_agent(model, Weather())
    events = await collect(agent, "北京天气")
    [done] = finished(events)
    assert done.status == "unknown_tool"
    assert str(done.result) == "Error: unknown tool 'get_wether'; available tools: get_weather"
    assert model.requests[1].messages[-1].content == str(done.result)
    assert events[-1] == FinalAnswer("我拼错了。", "stop", 2)
    assert_valid_history(agent.memory)


async def test_tool_timeout() -> None:
    slow = Gate("slow", timeout=0.05)  # waits on an event nobody sets
    model = ScriptedModel([call("slow", id="c1"), "超时了。"])
    agent = make_agent(model, slow)
    events = await collect(agent, "慢慢来")
    [done] = finished(events)
    assert done.status == "timeout"
    assert str(done.result) == "Error: tool slow timed out after 0.05 s"
    assert slow.outcome == "cancelled"
    assert model.requests[1].messages[-1].content == str(done.result)
    assert events[-1].text == "超时了。"  # type: ignore[union-attr]
    assert_valid_history(agent.memory)


async def test_agent_tool_timeout_applies_when_the_tool_sets_none() -> None:
    slow = Gate("slow")
    model = ScriptedModel([call("slow"), "超时了。"])
    events = await collect(make_agent(model, slow, tool_timeout=0.05), "慢慢来")
    assert [e.status for e in finished(events)] == ["timeout"]


# -- confirmations ----------------------------------------------------------------------------


def subscribe_script() -> ScriptedModel:
    return ScriptedModel([call("subscribe", {"city": "深圳"}, id="c1"), "好的。"])


async def test_confirmation_refused_with_a_note() -> None:
    tool = Subscribe()
    asked: list[ConfirmationRequest] = []

    async def confirm(request: ConfirmationRequest) -> ConfirmationDecision:
        asked.append(request)
        return ConfirmationDecision(False, "太贵了")

    model = subscribe_script()
    agent = make_agent(model, tool, confirm=confirm)
    events = await collect(agent, "订阅深圳")
    [started] = [e for e in events if isinstance(e, ToolCallStarted)]
    assert started.needs_confirmation
    assert asked == [ConfirmationRequest("c1", "subscribe", "Subscribe to alerts", {"city": "深圳"}, 1)]
    [done] = finished(events)
    assert done.status == "refused"
    assert tool.ran == 0
    content = model.requests[1].messages[-1].content or ""
    assert "the user refused to run it" in content
    assert "User note: 太贵了" in content
    assert_valid_history(agent.memory)


async def test_confirmation_approved() -> None:
    tool = Subscribe()

    async def confirm(request: ConfirmationRequest) -> ConfirmationDecision:
        return ConfirmationDecision(True)

    model = subscribe_script()
    agent = make_agent(model, tool, confirm=confirm)
    events = await collect(agent, "订阅深圳")
    assert [(e.status, str(e.result)) for e in finished(events)] == [("ok", "已为深圳订阅")]
    assert tool.ran == 1
    assert model.requests[1].messages[-1].content == "已为深圳订阅"


async def test_no_confirmation_callback_means_refused_and_never_run() -> None:
    tool = Subscribe()
    model = subscribe_script()
    agent = make_agent(model, tool)
    events = await collect(agent, "订阅深圳")
    assert [e.status for e in finished(events)] == ["refused"]
    assert tool.ran == 0
    assert "no confirmation handler is configured" in (model.requests[1].messages[-1].content or "")
    assert events[-1] == FinalAnswer("好的。", "stop", 2)


@pytest.mark.parametrize(("answer", "status", "ran"), [(True, "ok", 1), (False, "refused", 0)])
async def test_confirmation_callback_may_return_a_bare_bool(answer: bool, status: str, ran: int) -> None:
    tool = Subscribe()

    async def confirm(request: ConfirmationRequest) -> bool:
        return answer

    agent = make_agent(subscribe_script(), tool)
    events = await collect(agent, "订阅深圳", confirm=confirm)  # per-run callback
    assert [e.status for e in finished(events)] == [status]
    assert tool.ran == ran


async def test_a_confirmation_callback_that_raises_does_not_hang_the_run() -> None:
    tool = Subscribe()

    async def confirm(request: ConfirmationRequest) -> bool:
        raise ConnectionError("client went away")

    model = subscribe_script()
    agent = make_agent(model, tool, confirm=confirm)
    async with asyncio.timeout(10):  # used to wait forever for the call's result
        events = await collect(agent, "订阅深圳")
    [done] = finished(events)
    assert done.status == "error"
    assert "client went away" in str(done.result)
    assert tool.ran == 0
    assert events[-1] == FinalAnswer("好的。", "stop", 2)
    assert_valid_history(agent.memory)


# -- cancellation -----------------------------------------------------------------------------


async def test_cancel_mid_model_stream_keeps_the_partial_text() -> None:
    model = ScriptedModel([ScriptedReply(text="这是一段很长很长的回答", chunk_size=2, hold_after=3)])
    agent = make_agent(model)
    seen: list[RunEvent] = []

    async def consume() -> None:
        async for event in agent.stream("讲个故事"):
            seen.append(event)

    task = asyncio.create_task(consume())
    await model.holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    shown = "".join(e.text for e in seen if isinstance(e, AnswerDelta))
    assert shown == "这是一段很长"
    assert not any(isinstance(e, FinalAnswer | RunFailed) for e in seen)
    assert agent.memory == [Message("user", "讲个故事"), Message("assistant", "这是一段很长 [interrupted]")]
    assert not agent.is_running
    assert not model.holding.is_set()

    model.add("好的，换个话题。")
    assert await agent.run("换个话题") == "好的，换个话题。"
    second = model.requests[1].messages
    assert [m.role for m in second] == ["system", "user", "assistant", "user"]
    assert_valid_history(second)
    assert_valid_history(agent.memory)


async def test_cancel_mid_tool_closes_every_open_call() -> None:
    quick = Weather()
    slow_a, slow_b = Gate("slow_a"), Gate("slow_b")
    model = ScriptedModel(
        [[call("get_weather", {"city": "北京"}, id="q1"), call("slow_a", id="a1"), call("slow_b", id="b1")]]
    )
    agent = make_agent(model, quick, slow_a, slow_b)
    seen: list[RunEvent] = []
    quick_done = asyncio.Event()

    async def consume() -> None:
        async for event in agent.stream("都查"):
            seen.append(event)
            if isinstance(event, ToolCallFinished):
                quick_done.set()

    task = asyncio.create_task(consume())
    await slow_a.entered.wait()
    await slow_b.entered.wait()
    await quick_done.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert slow_a.outcome == slow_b.outcome == "cancelled"  # the tools were stopped, not left running
    assert agent.memory[1].tool_calls == (
        call("get_weather", {"city": "北京"}, id="q1"),
        call("slow_a", id="a1"),
        call("slow_b", id="b1"),
    )
    assert [(m.tool_call_id, m.content) for m in agent.memory[2:]] == [
        ("q1", "北京晴"),  # finished before the cancel: its real result is kept
        ("a1", "Cancelled: the user interrupted the run before this tool call finished."),
        ("b1", "Cancelled: the user interrupted the run before this tool call finished."),
    ]
    assert_valid_history(agent.memory)
    assert not agent.is_running

    model.add("好的。")
    assert await agent.run("算了") == "好的。"
    assert_valid_history(model.requests[1].messages)
    assert model.requests[1].messages[-1] == Message("user", "算了")


async def test_cancel_while_waiting_for_confirmation() -> None:
    tool = Subscribe()
    asked = asyncio.Event()
    callback_cancelled = asyncio.Event()

    async def confirm(request: ConfirmationRequest) -> bool:
        asked.set()
        try:
            await asyncio.Event().wait()  # the user never answers
        except asyncio.CancelledError:
            callback_cancelled.set()
            raise
        return True  # pragma: no cover

    model = ScriptedModel([call("subscribe", {"city": "深圳"}, id="c1")])
    agent = make_agent(model, tool, confirm=confirm)
    task = asyncio.create_task(collect(agent, "订阅深圳"))
    await asked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert callback_cancelled.is_set()
    assert tool.ran == 0
    assert [(m.role, m.tool_call_id) for m in agent.memory] == [("user", None), ("assistant", None), ("tool", "c1")]
    assert (agent.memory[-1].content or "").startswith("Cancelled")
    assert_valid_history(agent.memory)

    model.add("好的，不订阅了。")
    assert await agent.run("不订了") == "好的，不订阅了。"
    assert_valid_history(model.requests[-1].messages)


async def test_cancel_while_the_consumer_handles_the_tool_call_message() -> None:
    """The consumer is cancelled right after it got the assistant's tool calls, before any tool ran."""
    weather = Weather()
    model = ScriptedModel([call("get_weather", {"city": "北京"}, id="c1")])
    agent = make_agent(model, weather)
    got_calls = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(agent.stream("北京天气")) as events:
            async for event in events:
                if isinstance(event, MessageAdded) and event.message.tool_calls:
                    got_calls.set()
                    await asyncio.Event().wait()  # e.g. a slow client; cancelled here

    task = asyncio.create_task(consume())
    await got_calls.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert weather.calls == []
    assert [(m.role, m.tool_call_id) for m in agent.memory] == [("user", None), ("assistant", None), ("tool", "c1")]
    assert (agent.memory[-1].content or "").startswith("Cancelled")
    assert_valid_history(agent.memory)
    assert not agent.is_running


# -- how runs end -----------------------------------------------------------------------------


async def test_max_steps() -> None:
    model = FunctionModel(lambda request: call("get_weather", {"city": "北京"}))
    agent = make_agent(model, Weather(), max_steps=3)
    events = await collect(agent, "一直查")
    assert events[-1] == FinalAnswer(
        "Stopped after 3 steps without a final answer (max_steps reached).", "max_steps", 3
    )
    assert len(model.requests) == 3
    assert [e.step for e in events if isinstance(e, StepStarted)] == [1, 2, 3]
    assert [m.role for m in agent.memory] == ["user"] + ["assistant", "tool"] * 3 + ["assistant"]
    assert agent.memory[-1] == Message("assistant", events[-1].text)  # type: ignore[union-attr,unused-ignore]
    assert_valid_history(agent.memory)


async def test_max_steps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        make_agent(ScriptedModel([]), max_steps=0)


async def test_terminate_tool_ends_the_run_with_its_answer() -> None:
    model = ScriptedModel([call("terminate", {"status": "success", "answer": "最终答案：42"}, id="t1")])
    agent = make_agent(model, Weather(), terminate_tool=True)
    events = await collect(agent, "答案是什么")
    assert events[-1] == FinalAnswer("最终答案：42", "terminate", 1)
    assert [t["function"]["name"] for t in model.requests[0].tools] == ["get_weather", "terminate"]
    assert agent.memory[-1] == Message("tool", "最终答案：42", tool_call_id="t1", name="terminate")
    assert_valid_history(agent.memory)
    model.assert_finished()  # no further model call


async def test_terminate_without_an_answer_keeps_the_models_text() -> None:
    model = ScriptedReply(text="北京今天晴。", tool_calls=[call("terminate", {}, id="t1")])
    agent = make_agent(ScriptedModel([model]), terminate_tool=True)
    events = await collect(agent, "北京天气")
    assert events[-1] == FinalAnswer("北京今天晴。", "terminate", 1)
    assert_valid_history(agent.memory)


async def test_terminate_with_nothing_to_say_reports_its_status() -> None:
    agent = make_agent(ScriptedModel([call("terminate", {"status": "failure"})]), terminate_tool=True)
    assert await agent.run("做不到的事") == "The interaction has been completed with status: failure"


async def test_model_error_fails_the_run_but_not_the_agent() -> None:
    model = ScriptedModel([ModelError("upstream 503"), ModelError("upstream 503"), "恢复了。"])
    agent = make_agent(model)
    events = await collect(agent, "你好")
    assert kinds(events) == ["MessageAdded", "StepStarted", "RunFailed"]
    failure = events[-1]
    assert isinstance(failure, RunFailed)
    assert failure.code == "MODEL_ERROR"
    assert "upstream 503" in failure.message
    assert not agent.is_running

    with pytest.raises(AgentRunError, match="upstream 503"):
        await agent.run("再试")
    assert not agent.is_running
    assert await agent.run("再试一次") == "恢复了。"
    assert_valid_history(agent.memory)
    assert agent.memory[-2:] == [Message("user", "再试一次"), Message("assistant", "恢复了。")]


async def test_stream_while_running_is_refused() -> None:
    model = ScriptedModel([ScriptedReply(text="慢慢地回答", chunk_size=1, hold_after=1)])
    agent = make_agent(model)
    first = asyncio.create_task(agent.run("第一个"))
    await model.holding.wait()
    assert agent.is_running
    with pytest.raises(RuntimeError, match="already running"):
        await agent.stream("第二个").__anext__()
    with pytest.raises(RuntimeError, match="already running"):
        await agent.run("第三个")
    with pytest.raises(RuntimeError, match="while it runs"):
        agent.reset()
    model.release()
    assert await first == "慢慢地回答"
    assert agent.memory == [Message("user", "第一个"), Message("assistant", "慢慢地回答")]


# -- usage and memory -------------------------------------------------------------------------


async def test_usage_is_reported_per_model_call_and_summed() -> None:
    model = ScriptedModel(
        [
            ScriptedReply(tool_calls=[call("get_weather", {"city": "上海"})], usage=Usage(100, 20)),
            ScriptedReply(text="上海晴。", usage=Usage(150, 10)),
        ]
    )
    agent = make_agent(model, Weather())
    events = await collect(agent, "上海天气")
    calls = [e for e in events if isinstance(e, ModelCallFinished)]
    assert [(c.step, c.model, c.agent, c.usage) for c in calls] == [
        (1, "scripted", "tester", Usage(100, 20)),
        (2, "scripted", "tester", Usage(150, 10)),
    ]
    assert agent.usage.total == Usage(250, 30)
    assert agent.usage.total.total_tokens == 280
    assert agent.usage.calls == calls


async def test_agents_sharing_a_model_keep_separate_usage() -> None:
    model = ScriptedModel(
        [
            ScriptedReply(text="A", usage=Usage(10, 1)),
            ScriptedReply(text="B", usage=Usage(20, 2)),
            ScriptedReply(text="A2", usage=Usage(30, 3)),
        ]
    )
    alice = create_toolcall_agent(llm=model, name="alice")
    bob = create_toolcall_agent(llm=model, name="bob")
    assert await alice.run("1") == "A"
    assert await bob.run("2") == "B"
    assert await alice.run("3") == "A2"
    assert alice.usage.total == Usage(40, 4)
    assert bob.usage.total == Usage(20, 2)
    assert {c.agent for c in alice.usage.calls} == {"alice"}
    assert bob.memory == [Message("user", "2"), Message("assistant", "B")]


async def test_multi_turn_memory_reaches_the_model() -> None:
    model = ScriptedModel([call("get_weather", {"city": "北京"}, id="c1"), "北京晴。", "上海也可以查。"])
    agent = make_agent(model, Weather())
    await agent.run("北京天气")
    first_turn = list(agent.memory)
    await agent.run("那上海呢")
    sent = model.requests[-1].messages
    assert sent[0].role == "system"
    assert list(sent[1:]) == [*first_turn, Message("user", "那上海呢")]
    assert agent.memory[-1] == Message("assistant", "上海也可以查。")
    assert_valid_history(agent.memory)

    agent.reset()
    assert agent.memory == []
    assert agent.usage.total.total_tokens > 0  # usage survives a reset
