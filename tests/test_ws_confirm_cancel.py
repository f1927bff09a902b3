"""Confirmations and cancellation over a real WebSocket: what the client sees, and that the
conversation stays valid for the next message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from myagent import create_toolcall_agent
from myagent.agent.toolcall import ToolCallAgent
from myagent.llm.base import Message, ModelRequest
from myagent.llm.testing import FunctionModel, Script, ScriptedModel, ScriptedReply, call
from myagent.protocol.rules import closes_run
from myagent.tool import BaseTool, ToolResult
from tests.fakes.memory_socket import in_process_server
from tests.harness import WAIT, Client, answer_text, events_of
from tests.harness import assert_request_error as assert_error

CLOSING = ("agent.final_answer", "agent.error", "agent.interrupted")


# -- tools and helpers --------------------------------------------------------------------------


class DeleteFile(BaseTool):
    name = "delete_file"
    description = "删除指定文件"
    user_confirm = True

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def execute(self, path: str) -> ToolResult:
        self.deleted.append(path)
        return ToolResult(output=f"deleted {path}")


class SendMail(BaseTool):
    name = "send_mail"
    description = "Send an e-mail"
    user_confirm = True

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def execute(self, to: str) -> ToolResult:
        self.sent.append(to)
        return ToolResult(output=f"mail sent to {to}")


class SlowTool(BaseTool):
    """Waits for ``proceed`` (never set unless a test sets it); records how the call ended."""

    name = "slow_job"
    description = "A long job"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.proceed = asyncio.Event()
        self.outcome: list[str] = []

    async def execute(self) -> ToolResult:
        self.started.set()
        try:
            await self.proceed.wait()
        except asyncio.CancelledError:
            self.outcome.append("cancelled")
            raise
        self.outcome.append("finished")
        return ToolResult(output="job done")


def agent_factory(model: Any, *tools: BaseTool) -> Callable[[], ToolCallAgent]:
    return lambda: create_toolcall_agent(tools=list(tools), llm=model, name="confirm_agent")


async def connect_with_session(url: str) -> Client:
    client = await Client.connect(url)
    await client.create_session()
    return client


async def respond(client: Client, step_id: str, confirmed: Any, message: str | None = None) -> None:
    content: dict[str, Any] = {"confirmed": confirmed}
    if message is not None:
        content["message"] = message
    await client.send("user.response", session_id=client.session_id, step_id=step_id, content=content)


def assert_valid_history(messages: Sequence[Message]) -> None:
    """Every assistant tool call is answered by exactly one tool message, right after it."""
    index = 0
    while index < len(messages):
        message = messages[index]
        assert message.role != "tool", f"tool message without a call at {index}: {message}"
        index += 1
        if message.role == "assistant" and message.tool_calls:
            answers = messages[index : index + len(message.tool_calls)]
            assert [m.role for m in answers] == ["tool"] * len(message.tool_calls), messages
            assert sorted(str(m.tool_call_id) for m in answers) == sorted(c.id for c in message.tool_calls)
            index += len(message.tool_calls)


def closing_events(client: Client) -> list[str]:
    return [f["event"] for f in client.frames if closes_run(f["event"], f.get("seq"))]


def assert_gapless(client: Client) -> None:
    seqs = [f["seq"] for f in client.frames if f.get("session_id") == client.session_id and "seq" in f]
    assert seqs == list(range(1, len(seqs) + 1))


# -- confirmation -------------------------------------------------------------------------------


async def test_confirmation_request_fields_and_approval_runs_the_tool() -> None:
    tool = DeleteFile()
    model = ScriptedModel([call("delete_file", {"path": "/tmp/report.txt"}, id="call_d1"), "文件已删除。"])
    async with in_process_server(agent_factory(model, tool)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="删除 report.txt")
        before = await client.collect_until("agent.user_confirm")
        confirm = before[-1]
        assert tool.deleted == []  # nothing runs before the answer
        await respond(client, confirm["step_id"], True, "确认删除")
        after = await client.collect_until_closed()

    assert events_of(before) == ["agent.thinking", "agent.tool_call", "agent.user_confirm"]
    assert before[1]["metadata"]["needs_confirmation"] is True
    assert confirm["step_id"].startswith("confirm_")
    assert confirm["session_id"] == client.session_id and "seq" in confirm
    meta = confirm["metadata"]
    assert meta["tool_name"] == "delete_file"
    assert meta["tool_description"] == "删除指定文件"
    assert meta["tool_args"] == {"path": "/tmp/report.txt"}
    assert meta["requires_confirmation"] is True
    assert meta["call_id"] == "call_d1"
    assert meta["timeout_seconds"] == 300
    expires = datetime.fromisoformat(meta["expires_at"].replace("Z", "+00:00"))
    assert expires.tzinfo is not None
    assert confirm["content"] == "确认执行工具: delete_file"
    assert confirm["show_content"] == "需要确认：delete_file"

    result = next(f for f in after if f["event"] == "agent.tool_result")
    assert result["step_id"] == "call_d1"
    assert result["metadata"]["status"] == "success"
    assert result["content"] == "deleted /tmp/report.txt"
    assert after[-1]["event"] == "agent.final_answer" and after[-1]["content"] == "文件已删除。"
    assert tool.deleted == ["/tmp/report.txt"]
    assert_gapless(client)


async def test_refusal_with_a_note_never_runs_the_tool_and_tells_the_model() -> None:
    tool = DeleteFile()
    model = ScriptedModel([call("delete_file", {"path": "/etc/passwd"}, id="call_d2"), "好的，不删除。"])
    async with in_process_server(agent_factory(model, tool)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="删除 passwd")
        confirm = await client.expect("agent.user_confirm")
        await respond(client, confirm["step_id"], False, "这个文件很重要")
        after = await client.collect_until_closed()

    result = next(f for f in after if f["event"] == "agent.tool_result")
    assert result["metadata"]["status"] == "refused"
    assert result["step_id"] == "call_d2"
    assert "这个文件很重要" in result["content"]
    assert after[-1]["content"] == "好的，不删除。"
    assert tool.deleted == []
    tool_message = model.requests[1].messages[-1]
    assert tool_message.role == "tool" and tool_message.tool_call_id == "call_d2"
    assert "这个文件很重要" in str(tool_message.content)
    assert_valid_history(model.requests[1].messages)


async def test_an_unanswered_confirmation_expires_as_a_refusal_that_says_so() -> None:
    tool = DeleteFile()
    model = ScriptedModel([call("delete_file", {"path": "/tmp/a"}, id="call_d3"), "It expired."])
    async with in_process_server(agent_factory(model, tool), confirm_timeout=0.2) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="delete /tmp/a")
        confirm = await client.expect("agent.user_confirm")
        assert confirm["metadata"]["timeout_seconds"] == 0.2
        after = await client.collect_until_closed()  # the server's timer fires; no answer from us
        await respond(client, confirm["step_id"], True)  # too late
        late = await client.recv()

    result = next(f for f in after if f["event"] == "agent.tool_result")
    assert result["metadata"]["status"] == "expired"  # told apart from a refusal
    assert "expired" in result["content"]
    assert "User note" not in result["content"]  # the user wrote nothing
    assert after[-1]["event"] == "agent.final_answer"
    assert tool.deleted == []
    assert "expired" in str(model.requests[1].messages[-1].content)
    assert_error(late, "STEP_ALREADY_ANSWERED", "user.response")


async def test_answers_are_accepted_once_and_bad_answers_are_rejected() -> None:
    tool = DeleteFile()
    model = ScriptedModel([call("delete_file", {"path": "/tmp/b"}), "done"])
    async with in_process_server(agent_factory(model, tool)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="delete /tmp/b")
        confirm = await client.expect("agent.user_confirm")
        step_id = confirm["step_id"]

        await client.send("user.response", session_id=client.session_id, step_id=step_id, content={"message": "x"})
        missing = await client.recv()
        assert_error(missing, "MISSING_FIELD", "user.response")
        assert missing["metadata"]["details"]["field"] == "confirmed"
        await respond(client, step_id, "yes")
        invalid = await client.recv()
        assert_error(invalid, "INVALID_FIELD", "user.response")
        assert invalid["metadata"]["details"]["field"] == "confirmed"
        await respond(client, "confirm_000000000000_delete_file", True)
        unknown = await client.recv()
        assert_error(unknown, "STEP_NOT_FOUND", "user.response")
        assert unknown["metadata"]["details"]["field"] == "step_id"
        assert tool.deleted == []  # none of that counted as an answer

        await respond(client, step_id, True)
        after = await client.collect_until_closed()
        await respond(client, step_id, False)
        again = await client.recv()

    assert after[-1]["event"] == "agent.final_answer"
    assert tool.deleted == ["/tmp/b"]
    assert_error(again, "STEP_ALREADY_ANSWERED", "user.response")
    assert closing_events(client) == ["agent.final_answer"]


async def test_two_parallel_confirmations_can_be_answered_in_reverse_order() -> None:
    delete, mail = DeleteFile(), SendMail()
    model = ScriptedModel(
        [
            [call("delete_file", {"path": "/tmp/c"}, id="call_del"), call("send_mail", {"to": "bob"}, id="call_mail")],
            "One refused, one sent.",
        ]
    )
    async with in_process_server(agent_factory(model, delete, mail)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="clean up and mail bob")
        first = await client.expect("agent.user_confirm")
        second = await client.expect("agent.user_confirm")
        assert first["step_id"] != second["step_id"]
        by_tool = {f["metadata"]["tool_name"]: f for f in (first, second)}
        assert set(by_tool) == {"delete_file", "send_mail"}
        await respond(client, second["step_id"], second["metadata"]["tool_name"] == "send_mail")
        await respond(client, first["step_id"], first["metadata"]["tool_name"] == "send_mail")
        after = await client.collect_until_closed()

    results = {f["step_id"]: f["metadata"]["status"] for f in client.frames if f["event"] == "agent.tool_result"}
    assert results == {"call_del": "refused", "call_mail": "success"}
    assert by_tool["delete_file"]["metadata"]["call_id"] == "call_del"
    assert mail.sent == ["bob"] and delete.deleted == []
    assert after[-1]["content"] == "One refused, one sent."
    assert_valid_history(model.requests[1].messages)
    assert_gapless(client)


# -- cancellation -------------------------------------------------------------------------------


async def test_cancel_when_idle_is_no_active_run() -> None:
    async with in_process_server(agent_factory(ScriptedModel(["hi"]))) as server:
        client = await connect_with_session(server.url)
        await client.send("user.cancel", session_id=client.session_id)
        assert_error(await client.recv(), "NO_ACTIVE_RUN", "user.cancel")
        await client.ask("hello")
        await client.send("user.cancel", session_id=client.session_id)
        assert_error(await client.recv(), "NO_ACTIVE_RUN", "user.cancel")


async def ask_after_cancel(client: Client, model: FunctionModel | ScriptedModel) -> list[dict[str, Any]]:
    """The next message after a cancelled run: answered normally, with a valid history sent."""
    frames = await client.ask("and now?")
    assert frames[-1]["event"] == "agent.final_answer"
    assert answer_text(frames) == frames[-1]["content"]
    request = model.requests[-1]
    assert request.messages[-1].role == "user" and request.messages[-1].content == "and now?"
    assert_valid_history(request.messages)
    return frames


async def test_cancel_during_model_streaming() -> None:
    model = ScriptedModel([ScriptedReply("The answer is forty-two, as everyone knows.", hold_after=2), "next answer"])
    async with in_process_server(agent_factory(model)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="meaning of life?")
        await asyncio.wait_for(model.holding.wait(), WAIT)
        await client.send("user.cancel", session_id=client.session_id)
        frames = await client.collect_until_closed()
        interrupted = frames[-1]
        assert interrupted["event"] == "agent.interrupted"
        assert interrupted["metadata"]["reason"] == "user_cancel"
        assert interrupted["session_id"] == client.session_id
        assert "agent.final_answer" not in events_of(client.frames)
        shown = answer_text(client.frames)
        assert shown == "The answer is fo"[: len(shown)] and shown  # only what streamed before the hold
        await ask_after_cancel(client, model)
    assert closing_events(client) == ["agent.interrupted", "agent.final_answer"]
    # The interrupted partial answer is kept in memory, marked as such.
    assert any("[interrupted]" in str(m.content) for m in model.requests[-1].messages if m.role == "assistant")
    assert_gapless(client)


async def test_cancel_during_tool_execution() -> None:
    slow = SlowTool()
    model = ScriptedModel([call("slow_job", {}, id="call_slow"), "after the cancel"])
    async with in_process_server(agent_factory(model, slow)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="run the job")
        await asyncio.wait_for(slow.started.wait(), WAIT)
        await client.send("user.cancel", session_id=client.session_id)
        frames = await client.collect_until_closed()
        assert frames[-1]["event"] == "agent.interrupted"
        assert slow.outcome == ["cancelled"]
        await ask_after_cancel(client, model)
    assert closing_events(client) == ["agent.interrupted", "agent.final_answer"]
    history = model.requests[-1].messages
    cancelled = next(m for m in history if m.role == "tool")
    assert cancelled.tool_call_id == "call_slow" and "ancel" in str(cancelled.content)
    assert_gapless(client)


async def test_a_repeated_cancel_still_gives_one_interrupted() -> None:
    slow = SlowTool()
    model = ScriptedModel([call("slow_job", {}, id="call_twice"), "after"])
    async with in_process_server(agent_factory(model, slow)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="run the job")
        await asyncio.wait_for(slow.started.wait(), WAIT)
        for _ in range(3):
            await client.send("user.cancel", session_id=client.session_id)
        await client.collect_until("agent.interrupted")
        await ask_after_cancel(client, model)
    assert closing_events(client) == ["agent.interrupted", "agent.final_answer"]
    errors = [f["metadata"]["error_code"] for f in client.frames if f["event"] == "system.error"]
    assert set(errors) <= {"NO_ACTIVE_RUN"}
    assert slow.outcome == ["cancelled"]
    assert_gapless(client)


async def test_cancel_during_a_confirmation_wait() -> None:
    tool = DeleteFile()
    model = ScriptedModel([call("delete_file", {"path": "/tmp/d"}, id="call_d4"), "ok, moving on"])
    async with in_process_server(agent_factory(model, tool)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="delete /tmp/d")
        confirm = await client.expect("agent.user_confirm")
        await client.send("user.cancel", session_id=client.session_id)
        frames = await client.collect_until_closed()
        assert frames[-1]["event"] == "agent.interrupted"
        await respond(client, confirm["step_id"], True)  # the request died with the run
        late = await client.recv()
        assert late["event"] == "agent.error" and "seq" not in late  # about the request: no run ends
        assert late["metadata"]["error_code"] in ("STEP_ALREADY_ANSWERED", "STEP_NOT_FOUND")
        await ask_after_cancel(client, model)
    assert tool.deleted == []
    assert closing_events(client) == ["agent.interrupted", "agent.final_answer"]
    assert_gapless(client)


async def test_cancel_with_one_of_two_parallel_tools_finished() -> None:
    slow = SlowTool()
    delete = DeleteFile()
    model = ScriptedModel(
        [[call("delete_file", {"path": "/x"}, id="call_fast"), call("slow_job", {}, id="call_slow2")], "fine"]
    )
    async with in_process_server(agent_factory(model, delete, slow)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="both")
        confirm = await client.expect("agent.user_confirm")
        await respond(client, confirm["step_id"], True)
        result = await client.expect("agent.tool_result")
        assert result["step_id"] == "call_fast"
        await asyncio.wait_for(slow.started.wait(), WAIT)
        await client.send("user.cancel", session_id=client.session_id)
        assert (await client.collect_until_closed())[-1]["event"] == "agent.interrupted"
        await ask_after_cancel(client, model)
    tools = {m.tool_call_id: str(m.content) for m in model.requests[-1].messages if m.role == "tool"}
    assert tools["call_fast"] == "deleted /x"
    assert "ancel" in tools["call_slow2"]


async def test_cancel_right_after_the_message_still_closes_the_run_once() -> None:
    """``user.cancel`` sent back-to-back with ``user.message`` may be read before the run starts."""
    # Whether a cancelled run reached the model depends on timing, so reply by question, not by turn.
    model = FunctionModel(
        lambda request: (
            ScriptedReply("never finished", hold_after=0) if request.messages[-1].content == "start" else "finally"
        )
    )
    async with in_process_server(agent_factory(model)) as server:
        client = await connect_with_session(server.url)
        for _ in range(3):
            await client.send("user.message", session_id=client.session_id, content="start")
            await client.send("user.cancel", session_id=client.session_id)
            frames = await client.collect_until_closed()
            assert frames[-1]["event"] == "agent.interrupted"
        await client.send("user.cancel", session_id=client.session_id)
        assert_error(await client.recv(), "NO_ACTIVE_RUN", "user.cancel")
        frames = await client.ask("and now?")
    assert frames[-1]["event"] == "agent.final_answer"
    assert closing_events(client) == ["agent.interrupted"] * 3 + ["agent.final_answer"]
    assert_valid_history(model.requests[-1].messages)
    assert_gapless(client)


async def test_closing_a_session_mid_run_interrupts_it_then_ends_it() -> None:
    slow = SlowTool()
    model = ScriptedModel([call("slow_job", {})])
    async with in_process_server(agent_factory(model, slow)) as server:
        client = await connect_with_session(server.url)
        await client.send("user.message", session_id=client.session_id, content="go")
        await asyncio.wait_for(slow.started.wait(), WAIT)
        await client.send("user.close_session", session_id=client.session_id)
        frames = await client.collect_until("agent.session_end")
    assert [e for e in events_of(frames) if e in (*CLOSING, "agent.session_end")] == [
        "agent.interrupted",
        "agent.session_end",
    ]
    assert slow.outcome == ["cancelled"]
    assert_gapless(client)


async def test_cancel_affects_only_its_own_session() -> None:
    slow = SlowTool()

    def reply(request: ModelRequest) -> Script:
        question = next(m.content for m in reversed(request.messages) if m.role == "user")
        if question == "slow" and request.messages[-1].role == "user":
            return call("slow_job", {})
        return f"reply to {question}"

    model = FunctionModel(reply)
    async with in_process_server(agent_factory(model, slow)) as server:
        client = await Client.connect(server.url)
        a = (await client.create_session())["session_id"]
        b = (await client.create_session())["session_id"]
        await client.send("user.message", session_id=a, content="slow")
        await asyncio.wait_for(slow.started.wait(), WAIT)
        await client.send("user.message", session_id=b, content="quick")
        await client.send("user.cancel", session_id=a)
        closed: dict[str, str] = {}
        while len(closed) < 2:
            frame = await client.recv()
            if closes_run(frame["event"], frame.get("seq")):
                closed[frame["session_id"]] = frame["event"]
                if frame["session_id"] == b:
                    assert frame["content"] == "reply to quick"
    assert closed == {a: "agent.interrupted", b: "agent.final_answer"}
