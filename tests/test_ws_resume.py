"""Resume over a real socket: every missed event replayed exactly once, in order; gaps reported, never silent."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.llm import ScriptedModel, ScriptedReply, call
from myagent.protocol.rules import closes_run
from myagent.tool import BaseTool, ToolResult
from myagent.ws.server import AgentWebSocketServer
from tests.harness import WAIT, Client, SessionView, answer_text, find_session, running_server

ANSWER = "".join(f"[{i:02d}] lorem ipsum dolor sit amet; " for i in range(12))
CLOSING = ("agent.final_answer", "agent.error", "agent.interrupted")


# -- helpers ------------------------------------------------------------------------------------


class Echo(BaseTool):
    name = "echo"
    description = "Echo a number"

    async def execute(self, n: int) -> ToolResult:
        return ToolResult(output=f"echo {n}")


class Danger(BaseTool):
    name = "danger"
    description = "Something the user must approve"
    user_confirm = True

    def __init__(self) -> None:
        self.runs = 0

    async def execute(self) -> ToolResult:
        self.runs += 1
        return ToolResult(output="done it")


class Models:
    """An agent factory that keeps each session's model (for ``holding``/``release``) and tools."""

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
        return create_toolcall_agent(llm=model, tools=tools, name="resumer")

    @property
    def last(self) -> ScriptedModel:
        return self.models[-1]


def sequenced(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if "seq" in f]


def session_of(server: AgentWebSocketServer, session_id: str | None) -> SessionView:
    assert session_id is not None
    session = find_session(server, session_id)
    assert session is not None, f"session {session_id} is gone"
    return session


def server_log(server: AgentWebSocketServer, session_id: str | None) -> list[dict[str, Any]]:
    """The server's retained events of a session (the frames as built; not sealed by looking)."""
    return [entry.frame for entry in session_of(server, session_id).log]


async def run_finished(session: SessionView) -> None:
    """Wait (bounded) until the session's run task is over, without cancelling it."""
    task = session.run_task
    assert task is not None
    done, _ = await asyncio.wait({task}, timeout=WAIT)
    assert done, "the run did not finish"


async def drop(client: Client) -> None:
    """Lose the connection abruptly: no closing handshake."""
    client.ws.transport.abort()
    await asyncio.wait_for(client.ws.wait_closed(), WAIT)


async def reconnect(server: AgentWebSocketServer, session_id: str | None, token: str | None, **position: Any) -> Client:
    client = await Client.connect(server.url)
    await client.send("user.reconnect", session_id=session_id, resume_token=token, **position)
    return client


async def expect_resumed(client: Client) -> dict[str, Any]:
    """The reconnect notice (frames before it are kept in ``client.frames``)."""
    while True:
        frame = await client.recv()
        if frame["event"] == "system.error":
            raise AssertionError(f"reconnect failed: {frame}")
        if frame["event"] == "system.notice" and frame["metadata"]["action"] == "reconnect":
            return frame


async def receive_until_seq(client: Client, last_seq: int) -> None:
    while not any(f.get("seq") == last_seq for f in client.frames):
        await client.recv()


def assert_same_stream(received: list[dict[str, Any]], log: list[dict[str, Any]], context: str = "") -> None:
    """The client's reconstruction is exactly the server's log: same ids, gapless, no duplicates."""
    got = [(f["seq"], f["event_id"]) for f in received]
    want = [(f["seq"], f["event_id"]) for f in log]
    assert got == want, f"{context}: client {got} != server {want}"
    assert [seq for seq, _ in got] == list(range(1, len(got) + 1)), context
    for mine, theirs in zip(received, log, strict=True):
        assert mine["event"] == theirs["event"], context
        assert mine.get("content") == json.loads(json.dumps(theirs.get("content"))), context


# -- (1) drop mid-answer, reconnect on a new connection ------------------------------------------


async def test_drop_mid_answer_and_resume_replays_every_missed_event_once():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=5)])
    async with running_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        while answer_text(client.frames) != ANSWER[:15]:  # the five deltas before the pause
            await client.recv()
        before = sequenced(client.frames)
        await drop(client)
        factory.last.release()  # the run goes on while nobody is attached

        resumed = await reconnect(server, sid, token, last_seq=before[-1]["seq"])
        notice = await expect_resumed(resumed)
        assert notice["session_id"] == sid
        await resumed.expect("agent.final_answer")
        after = sequenced(resumed.frames)

        stream = before + after
        assert_same_stream(stream, server_log(server, sid))
        assert answer_text(stream) == ANSWER == stream[-1]["content"]
        assert stream[-1]["event"] == "agent.final_answer"
        await resumed.close()


# -- (2) random drop points, with last_seq and last_event_id alternately ---------------------------


def tool_run_script() -> list[Any]:
    return [
        ScriptedReply("Checking. ", tool_calls=[call("echo", {"n": 1}), call("echo", {"n": 2})], chunk_size=2),
        ScriptedReply("", tool_calls=[call("echo", {"n": i}) for i in range(3, 9)]),
        ScriptedReply(ANSWER[:200], chunk_size=2),  # ~100 deltas
    ]


async def test_resume_after_random_drop_points_loses_and_duplicates_nothing():
    master = 20_240_611
    factory = Models(tool_run_script, Echo)
    async with running_server(factory) as server:
        for iteration in range(15):
            seed = master + iteration
            rng = random.Random(seed)
            context = f"seed={seed} (iteration {iteration})"
            client = await Client.connect(server.url)
            await client.create_session()
            sid, token = client.session_id, client.resume_token
            await client.send("user.message", session_id=sid, content="go")
            for _ in range(rng.randint(1, 40)):
                frame = await client.recv()
                if closes_run(frame["event"], frame.get("seq")):
                    break
            before = sequenced(client.frames)
            await drop(client)
            if rng.random() < 0.5:  # sometimes resume only after the run has ended
                await run_finished(session_of(server, sid))

            last = before[-1]
            position = {"last_seq": last["seq"]} if iteration % 2 == 0 else {"last_event_id": last["event_id"]}
            resumed = await reconnect(server, sid, token, **position)
            notice = await expect_resumed(resumed)
            if not any(closes_run(f["event"], f.get("seq")) for f in before):
                await resumed.expect(*CLOSING)
            await run_finished(session_of(server, sid))
            await receive_until_seq(resumed, session_of(server, sid).log.last_seq)
            after = sequenced(resumed.frames)
            assert notice["metadata"]["replay_count"] <= len(after), context

            stream = before + after
            assert_same_stream(stream, server_log(server, sid), context)
            assert stream[-1]["event"] == "agent.final_answer", context
            expected_text = "Checking. " + ANSWER[:200]
            assert answer_text(stream) == expected_text, context
            assert [f["metadata"]["call_id"] for f in stream if f["event"] == "agent.tool_result"], context
            await resumed.send("user.close_session", session_id=sid)
            await resumed.expect("agent.session_end")
            await resumed.close()
        assert server.service.live_sessions == 0


# -- (3) reconnect without a position replays everything after the last ACK ------------------------


async def test_reconnect_without_position_replays_everything_after_the_last_ack():
    factory = Models(tool_run_script, Echo)
    async with running_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.ask("go")
        received = sequenced(client.frames)
        acked = received[len(received) // 2]["seq"]
        await client.send("user.ack", session_id=sid, last_seq=acked)
        # Frames of one connection are handled in order: once this one is answered, the ack was applied.
        await client.send("user.ack", session_id=sid, last_seq=10_000)
        error = await client.expect_error()
        assert error["metadata"]["error_code"] == "ACK_OUT_OF_RANGE"
        assert session_of(server, sid).log.acked_seq == acked
        await client.close()

        resumed = await reconnect(server, sid, token)
        notice = await expect_resumed(resumed)
        await receive_until_seq(resumed, received[-1]["seq"])
        replayed = sequenced(resumed.frames)
        assert [f["seq"] for f in replayed] == [f["seq"] for f in received if f["seq"] > acked]
        assert [f["event_id"] for f in replayed] == [f["event_id"] for f in received if f["seq"] > acked]
        assert notice["metadata"]["replay_count"] == len(replayed)
        assert not any(f["event"] == "system.error" for f in resumed.frames)
        await resumed.close()


async def test_ack_by_event_id_then_reconnect_without_position():
    factory = Models(lambda: ["hello there"])
    async with running_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        frames = sequenced(await client.ask("hi"))
        await client.send("user.ack", last_event_id=frames[0]["event_id"])  # one session: no session_id needed
        await client.send("user.ack", last_seq=10_000)
        await client.expect_error()
        await drop(client)
        resumed = await reconnect(server, sid, token)
        await expect_resumed(resumed)
        await receive_until_seq(resumed, frames[-1]["seq"])
        assert [f["seq"] for f in sequenced(resumed.frames)] == [f["seq"] for f in frames[1:]]
        await resumed.close()


# -- (4) wrong token, unknown session ----------------------------------------------------------------


async def test_wrong_resume_token_is_refused_and_the_session_keeps_running_unowned():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=5, hold_after=2)])
    async with running_server(factory) as server:
        owner = await Client.connect(server.url)
        await owner.create_session()
        sid, token = owner.session_id, owner.resume_token
        await owner.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await drop(owner)

        intruder = await reconnect(server, sid, "not-the-token", last_seq=0)
        error = await intruder.expect_error()
        assert error["metadata"]["error_code"] == "INVALID_RESUME_TOKEN"
        # ... and knowing the id alone gives no access to it
        await intruder.send("user.message", session_id=sid, content="mine now")
        error = await intruder.expect_error()
        assert error["metadata"]["error_code"] == "SESSION_NOT_FOUND"
        await intruder.send("user.cancel", session_id=sid)
        error = await intruder.expect_error()
        assert error["metadata"]["error_code"] == "SESSION_NOT_FOUND"
        session = session_of(server, sid)
        assert session.busy and not session.closed
        assert not any(f.get("session_id") == sid and "seq" in f for f in intruder.frames)
        # no connection owns it (it is still just waiting for its owner)
        await until(lambda: session.sink is None)

        factory.last.release()
        await run_finished(session)
        assert session_of(server, sid).log.last_seq > 3  # the run went on

        resumed = await reconnect(server, sid, token, last_seq=0)
        await expect_resumed(resumed)
        await resumed.expect("agent.final_answer")
        assert_same_stream(sequenced(resumed.frames), server_log(server, sid))
        await intruder.close()
        await resumed.close()


async def test_wrong_resume_token_does_not_disturb_an_attached_owner():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=5, hold_after=2)])
    async with running_server(factory) as server:
        owner = await Client.connect(server.url)
        await owner.create_session()
        sid = owner.session_id
        await owner.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        intruder = await reconnect(server, sid, "guess")
        error = await intruder.expect_error()
        assert error["metadata"]["error_code"] == "INVALID_RESUME_TOKEN"
        factory.last.release()
        final = await owner.expect("agent.final_answer")
        assert final["content"] == ANSWER
        assert not any(f["event"] == "system.notice" for f in owner.frames)
        await intruder.close()
        await owner.close()


async def test_reconnect_to_unknown_session_is_session_not_found():
    async with running_server(Models(lambda: [])) as server:
        client = await reconnect(server, "no-such-session", "whatever", last_seq=3)
        error = await client.expect_error()
        assert error["metadata"]["error_code"] == "SESSION_NOT_FOUND"
        # the connection stays usable
        await client.create_session()
        await client.close()


# -- (5) REPLAY_GAP --------------------------------------------------------------------------------


async def test_replay_gap_reports_the_exact_missing_range_then_the_retained_events():
    def script() -> list[Any]:
        return [
            ScriptedReply("abcdef", chunk_size=2, hold_after=1, tool_calls=[call("echo", {"n": i}) for i in range(4)]),
            ScriptedReply("the end", chunk_size=2),
        ]

    factory = Models(script, Echo)
    async with running_server(factory, retention_events=5) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await client.expect("agent.partial_answer")
        had = sequenced(client.frames)[-1]["seq"]
        await drop(client)
        factory.last.release()
        session = session_of(server, sid)
        await run_finished(session)
        last = session.log.last_seq
        assert last - had > 5, "the run must outgrow the retention window while detached"
        retained = server_log(server, sid)
        assert [f["seq"] for f in retained] == list(range(last - 4, last + 1))

        resumed = await reconnect(server, sid, token, last_seq=had)
        error = await resumed.expect_error()
        assert error["metadata"]["error_code"] == "REPLAY_GAP"
        assert error["metadata"]["details"] == {"missing_from_seq": had + 1, "missing_to_seq": last - 5}
        assert error["session_id"] == sid
        assert not sequenced(resumed.frames), "the gap is announced before any replayed event"
        await receive_until_seq(resumed, last)
        replayed = sequenced(resumed.frames)
        assert [(f["seq"], f["event_id"]) for f in replayed] == [(f["seq"], f["event_id"]) for f in retained]
        assert replayed[-1]["event"] == "agent.final_answer"
        assert server.service.metrics.replay_gaps_total == 1
        await resumed.close()


# -- (6) a pending confirmation is re-sent after resume ---------------------------------------------


async def test_pending_confirmation_seen_before_the_drop_is_resent_and_answering_it_resumes_the_run():
    factory = Models(lambda: [call("danger"), "all done"], Danger)
    async with running_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="do it")
        ask = await client.expect("agent.user_confirm")
        await drop(client)

        resumed = await reconnect(server, sid, token, last_seq=ask["seq"])
        await expect_resumed(resumed)
        again = await resumed.expect("agent.user_confirm")
        assert again["step_id"] == ask["step_id"]
        assert again["metadata"]["resent"] is True
        assert again["seq"] > ask["seq"]
        assert again["metadata"]["tool_name"] == "danger"
        await resumed.send("user.response", step_id=ask["step_id"], content={"confirmed": True})
        frames = await resumed.collect_until_closed()
        assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == "all done"
        result = next(f for f in frames if f["event"] == "agent.tool_result")
        assert result["content"] == "done it"
        assert factory.tools[-1][0].runs == 1  # type: ignore[attr-defined]
        await resumed.close()


async def test_pending_confirmation_not_yet_seen_is_replayed_once_not_resent():
    factory = Models(lambda: [call("danger"), "all done"], Danger)
    async with running_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="do it")
        ask = await client.expect("agent.user_confirm")
        await drop(client)

        resumed = await reconnect(server, sid, token, last_seq=ask["seq"] - 1)
        await expect_resumed(resumed)
        replayed = await resumed.expect("agent.user_confirm")
        assert replayed["seq"] == ask["seq"] and "resent" not in replayed["metadata"]
        await resumed.send("user.response", step_id=ask["step_id"], content={"confirmed": False})
        frames = await resumed.collect_until_closed()
        assert not any(f["event"] == "agent.user_confirm" for f in frames)
        assert frames[-1]["event"] == "agent.final_answer"
        await resumed.close()


async def test_pending_confirmation_lost_in_a_replay_gap_is_resent():
    # One step: a confirmation plus quick calls whose results push the request out of the window.
    factory = Models(lambda: [[call("danger"), *[call("echo", {"n": i}) for i in range(8)]], "ok"], Danger, Echo)
    async with running_server(factory, retention_events=5) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        created = sequenced(client.frames)[-1]
        await client.send("user.message", session_id=sid, content="go")
        ask = await client.expect("agent.user_confirm")
        session = session_of(server, sid)
        await drop(client)
        await until(lambda: sum(f["event"] == "agent.tool_result" for f in server_log(server, sid)) >= 5)
        assert ask["seq"] < server_log(server, sid)[0]["seq"], "the request fell out of the window"

        resumed = await reconnect(server, sid, token, last_seq=created["seq"])
        error = await resumed.expect_error()
        assert error["metadata"]["error_code"] == "REPLAY_GAP"
        again = await resumed.expect("agent.user_confirm")
        assert again["step_id"] == ask["step_id"]
        await resumed.send("user.response", step_id=ask["step_id"], content={"confirmed": True})
        await resumed.expect("agent.final_answer")
        assert session.log.last_seq == sequenced(resumed.frames)[-1]["seq"]
        await resumed.close()


# -- (7) takeover ------------------------------------------------------------------------------------


async def test_reconnect_while_the_old_connection_is_open_takes_the_session_over():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=4, hold_after=3)])
    async with running_server(factory) as server:
        old = await Client.connect(server.url)
        await old.create_session()
        sid, token = old.session_id, old.resume_token
        await old.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        while answer_text(old.frames) != ANSWER[:12]:
            await old.recv()
        seen = sequenced(old.frames)

        new = await reconnect(server, sid, token, last_seq=seen[-1]["seq"])
        await expect_resumed(new)
        notice = await old.expect("system.notice")
        assert notice["metadata"]["action"] == "session_taken_over"
        assert notice["session_id"] == sid
        factory.last.release()
        await new.expect("agent.final_answer")
        assert_same_stream(seen + sequenced(new.frames), server_log(server, sid))

        # The old connection gets nothing more of that session and may no longer drive it.
        mark = len(old.frames)
        await old.send("user.message", session_id=sid, content="still mine?")
        error = await old.expect_error()
        assert error["metadata"]["error_code"] == "SESSION_NOT_FOUND"
        assert not sequenced(old.frames[mark:])
        assert session_of(server, sid).sink is not None
        await old.close()
        await new.close()


# -- (8) grace period ---------------------------------------------------------------------------------


async def test_within_the_grace_period_the_run_goes_on_and_its_events_are_retained():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=6, hold_after=1)])
    async with running_server(factory, grace_period=600) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await drop(client)
        session = session_of(server, sid)
        await until(lambda: session.sink is None)
        assert session.expiry is not None
        factory.last.release()
        await run_finished(session)
        log = server_log(server, sid)
        assert log[-1]["event"] == "agent.final_answer" and log[-1]["content"] == ANSWER
        resumed = await reconnect(server, sid, token, last_seq=1)
        await expect_resumed(resumed)
        await resumed.expect("agent.final_answer")
        assert answer_text(resumed.frames) == ANSWER
        assert session.expiry is None
        await resumed.close()


async def test_session_expires_after_the_grace_period():
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=6, hold_after=1)])
    async with running_server(factory, grace_period=0.3) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        session = session_of(server, sid)
        run, log = session.run_task, session.log
        await drop(client)
        await until(lambda: find_session(server, sid) is None)
        assert session.closed
        assert run is not None and run.done()
        assert [e.frame["event"] for e in log][-2:] == ["agent.interrupted", "agent.session_end"]

        late = await reconnect(server, sid, token, last_seq=1)
        error = await late.expect_error()
        assert error["metadata"]["error_code"] == "SESSION_NOT_FOUND"
        await late.close()


async def until(condition: Callable[[], bool]) -> None:
    """Bounded polling of in-process server state."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - the server exposes no event for these states
            await asyncio.sleep(0.02)
