"""Two servers on one Redis over real sockets: any node serves any session.

The session's run stays on the node that created it (A); a client that comes back on B gets
every missed event exactly once and then the live ones, and its confirmation answers and cancels
travel to A over Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from myagent.errors import ProtocolError
from myagent.llm import ScriptedReply, call
from myagent.ws.redis import RedisEventLog, RedisLeases
from myagent.ws.server import AgentWebSocketServer
from tests.fakes.nginx import round_robin_nginx
from tests.harness import WAIT, Client, answer_text, running_server
from tests.test_ws_resume import ANSWER as RESUME_ANSWER
from tests.test_ws_resume import (
    Danger,
    Echo,
    Models,
    drop,
    expect_resumed,
    reconnect,
    sequenced,
    tool_run_script,
)

ANSWER = "".join(f"[{i:02d}] node to node; " for i in range(12))
CLOSING = ("agent.final_answer", "agent.error", "agent.interrupted")


Nodes = tuple[AgentWebSocketServer, AgentWebSocketServer]


@contextlib.asynccontextmanager
async def two_nodes(factory: Models, redis_url: str) -> AsyncIterator[Nodes]:
    """Two servers built from ``redis_url`` alone (as ``--redis-url`` does), each with its own connections."""
    async with (
        running_server(factory, redis_url=redis_url, grace_period=60) as a,
        running_server(factory, redis_url=redis_url, grace_period=60) as b,
    ):
        assert a.service.node_id != b.service.node_id
        assert isinstance(a.service.events, RedisEventLog) and a.service.events is not b.service.events
        yield a, b


async def shared_log(server: AgentWebSocketServer, session_id: str) -> list[dict[str, Any]]:
    """What Redis holds of the session, read through a node."""
    window = await server.service.events.read(session_id, 0)
    assert window.missing is None
    return [json.loads(entry.seal()) for entry in window.entries]


def assert_exactly_once(stream: list[dict[str, Any]], log: list[dict[str, Any]]) -> None:
    assert [f["seq"] for f in stream] == list(range(1, len(log) + 1))
    assert [(f["event_id"], f["event"], f.get("content")) for f in stream] == [
        (f["event_id"], f["event"], f.get("content")) for f in log
    ]


async def test_drop_on_a_resume_on_b_replays_every_missed_event_once_then_goes_live(redis_url: str) -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=5)])
    async with two_nodes(factory, redis_url) as (a, b):
        client = await Client.connect(a.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        assert sid is not None
        await client.send("user.message", session_id=sid, content="go")
        await client.expect("agent.partial_answer")
        before = sequenced(client.frames)
        await drop(client)  # mid-answer: A goes on appending until the model pauses
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)

        resumed = await reconnect(b, sid, token, last_seq=before[-1]["seq"])
        notice = await expect_resumed(resumed)
        missed = notice["metadata"]["last_seq"] - before[-1]["seq"]
        assert missed > 0 and notice["metadata"]["replay_count"] == missed
        assert a.service.host.get(sid) is not None and b.service.host.get(sid) is None  # the run stays on A
        factory.last.release()  # now live events flow from A through Redis to B
        await resumed.expect("agent.final_answer")

        stream = before + sequenced(resumed.frames)
        assert_exactly_once(stream, await shared_log(b, sid))
        assert answer_text(stream) == ANSWER == stream[-1]["content"]
        await resumed.close()


def danger_script() -> list[Any]:
    return [ScriptedReply("", tool_calls=[call("danger", {}, id="call_x")]), "Done."]


async def move_to_b(a: AgentWebSocketServer, b: AgentWebSocketServer) -> tuple[Client, str, dict[str, Any]]:
    """Create on A, start a run that asks for confirmation, drop, resume on B: the confirmation is asked again."""
    client = await Client.connect(a.url)
    await client.create_session()
    sid = client.session_id
    assert sid is not None
    await client.send("user.message", session_id=sid, content="do the dangerous thing")
    confirm = await client.expect("agent.user_confirm")
    seen = sequenced(client.frames)[-1]["seq"]
    await drop(client)
    resumed = await reconnect(b, sid, client.resume_token, last_seq=seen)
    await expect_resumed(resumed)
    again = await resumed.expect("agent.user_confirm")
    assert again["step_id"] == confirm["step_id"]
    return resumed, sid, confirm


async def test_a_confirmation_answered_on_b_reaches_the_run_on_a(redis_url: str) -> None:
    factory = Models(danger_script, Danger)
    async with two_nodes(factory, redis_url) as (a, b):
        client, sid, confirm = await move_to_b(a, b)
        await client.send("user.response", session_id=sid, step_id=confirm["step_id"], content={"confirmed": True})
        frames = await client.collect_until(*CLOSING)
        result = next(f for f in frames if f["event"] == "agent.tool_result")
        assert result["metadata"]["status"] != "refused" and "done it" in result["content"]
        assert frames[-1]["event"] == "agent.final_answer"
        danger = factory.tools[-1][0]
        assert isinstance(danger, Danger) and danger.runs == 1
        await client.close()


async def test_a_cancel_on_b_stops_the_run_on_a(redis_url: str) -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=2), "next"])
    async with two_nodes(factory, redis_url) as (a, b):
        client = await Client.connect(a.url)
        await client.create_session()
        sid = client.session_id
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await drop(client)
        resumed = await reconnect(b, sid, client.resume_token, last_seq=0)
        await expect_resumed(resumed)
        await resumed.send("user.cancel", session_id=sid)
        frames = await resumed.collect_until(*CLOSING)
        assert frames[-1]["event"] == "agent.interrupted"
        assert answer_text(sequenced(resumed.frames)) != ANSWER  # stopped mid-answer
        session = a.service.host.get(sid or "")
        assert session is not None
        if session.run_task is not None:  # the run on A winds down after its last event
            await asyncio.wait({session.run_task}, timeout=WAIT)
        assert not session.busy
        await resumed.close()


async def test_two_answers_through_a_and_b_at_once_exactly_one_wins(redis_url: str) -> None:
    factory = Models(danger_script, Danger)
    async with two_nodes(factory, redis_url) as (a, b):
        client, sid, confirm = await move_to_b(a, b)
        step_id = confirm["step_id"]
        outcomes = await asyncio.gather(
            a.service.command(sid, "answer", step_id=step_id, confirmed=True),
            b.service.command(sid, "answer", step_id=step_id, confirmed=False),
            return_exceptions=True,
        )
        won = [o for o in outcomes if not isinstance(o, BaseException)]
        lost = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(won) == 1 and len(lost) == 1
        assert isinstance(lost[0], ProtocolError) and lost[0].code == "STEP_ALREADY_ANSWERED"
        frames = await client.collect_until(*CLOSING)
        results = [f for f in frames if f["event"] == "agent.tool_result"]
        assert len(results) == 1
        danger = factory.tools[-1][0]
        assert isinstance(danger, Danger)
        ran = outcomes[0] is won[0]  # A said yes, B said no: the tool ran only if A's answer won
        assert danger.runs == (1 if ran else 0)
        await client.close()


async def test_through_round_robin_nginx_a_dropped_client_resumes_on_the_other_node(
    redis_url: str, tmp_path: Path
) -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=5)])
    async with two_nodes(factory, redis_url) as (a, b), round_robin_nginx(tmp_path, [a.port, b.port]) as url:
        client = await Client.connect(url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        assert sid is not None
        runner = a if a.service.host.get(sid) is not None else b
        await client.send("user.message", session_id=sid, content="go")
        await client.expect("agent.partial_answer")
        before = sequenced(client.frames)
        await drop(client)
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)

        resumed = await reconnect_via(url, sid, token, before[-1]["seq"])
        await expect_resumed(resumed)
        other = b if runner is a else a
        assert sid in other.service.attachments  # round-robin sent the new connection to the other node
        factory.last.release()
        await resumed.expect("agent.final_answer")
        stream = before + sequenced(resumed.frames)
        assert_exactly_once(stream, await shared_log(runner, sid))
        assert answer_text(stream) == ANSWER
        await resumed.close()


async def reconnect_via(url: str, session_id: str, token: str | None, last_seq: int) -> Client:
    client = await Client.connect(url)
    await client.send("user.reconnect", session_id=session_id, resume_token=token, last_seq=last_seq)
    return client


async def test_a_node_whose_lease_was_taken_stops_its_run_and_writes_nothing_more(redis_url: str) -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=5)])
    async with two_nodes(factory, redis_url) as (a, b):
        client = await Client.connect(a.url)
        await client.create_session()
        sid = client.session_id
        assert sid is not None
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        session = a.service.host.get(sid)
        assert session is not None and session.run_task is not None
        run = session.run_task

        # Another process takes the session's lease (as when A's lapsed): A's fence is now stale.
        leases = b.service.leases
        assert isinstance(leases, RedisLeases)
        await leases.client.delete(leases.keys.lease(sid))
        taken = await leases.acquire(sid, "another-node", 30)
        assert taken is not None and taken.fence > a.service.held[sid].fence
        written = await b.service.events.last_seq(sid)

        factory.last.release()  # A's run produces the rest of its answer: every append is refused
        await asyncio.wait({run}, timeout=WAIT)
        assert run.done()
        assert await b.service.events.last_seq(sid) == written  # nothing of it reached the log
        await a.service.renew_leases()  # A's next renewal finds the lease gone and drops the session here
        assert a.service.host.get(sid) is None
        await client.close()


async def test_random_drops_and_reconnects_to_random_nodes_lose_and_duplicate_nothing(redis_url: str) -> None:
    master = 20_261_130
    factory = Models(tool_run_script, Echo)
    async with two_nodes(factory, redis_url) as nodes:
        for iteration in range(8):
            seed = master + iteration
            rng = random.Random(seed)
            context = f"seed={seed} (iteration {iteration})"
            client = await Client.connect(rng.choice(nodes).url)
            await client.create_session()
            sid, token = client.session_id, client.resume_token
            assert sid is not None
            await client.send("user.message", session_id=sid, content="go")
            frames_seen: list[dict[str, Any]] = []
            done = False
            for _ in range(3):  # up to three drops, each reconnect to a random node
                for _ in range(rng.randint(1, 30)):
                    frame = await client.recv()
                    if frame["event"] in CLOSING:
                        done = True
                        break
                frames_seen += sequenced(client.frames)
                await drop(client)
                position = frames_seen[-1]["seq"] if frames_seen else 0
                client = await reconnect(rng.choice(nodes), sid, token, last_seq=position)
                token = (await expect_resumed(client))["metadata"]["resume_token"]  # each token works once
                if done:
                    break
            if not done:
                await client.expect(*CLOSING)
            runner = next(n for n in nodes if n.service.host.get(sid) is not None)
            run = runner.service.host.sessions[sid].run_task
            if run is not None:
                await asyncio.wait({run}, timeout=WAIT)
            log = await shared_log(runner, sid)
            while max([f["seq"] for f in frames_seen + sequenced(client.frames)], default=0) < log[-1]["seq"]:
                await client.recv()
            stream = frames_seen + sequenced(client.frames)
            assert_exactly_once(stream, log)
            assert stream[-1]["event"] == "agent.final_answer", context
            assert answer_text(stream) == "Checking. " + RESUME_ANSWER[:200], context
            await client.close()
