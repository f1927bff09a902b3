"""Two services sharing the storage seams: any of them serves any session (proof the seams are real).

Two apps on real sockets share one in-memory store, event log, control bus and lease table, as two
processes would share Redis. The session's agent and run stay on the service that created it; the
other one replays its log and forwards controls to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from myagent.errors import MyAgentError
from myagent.llm import ScriptedReply, call
from myagent.ws.control import InMemoryControlBus
from myagent.ws.event_log import InMemoryEventLog
from myagent.ws.lease import InMemoryLeases
from myagent.ws.server import AgentWebSocketServer
from myagent.ws.store import InMemorySessionStore
from myagent.ws.translate import Outgoing
from tests.harness import WAIT, Client, answer_text, running_server
from tests.test_ws_resume import ANSWER, Danger, Models, drop, expect_resumed, reconnect, sequenced


@contextlib.asynccontextmanager
async def two_nodes(factory: Models) -> AsyncIterator[tuple[AgentWebSocketServer, AgentWebSocketServer]]:
    shared: dict[str, Any] = {
        "store": InMemorySessionStore(),
        "event_log": InMemoryEventLog(),
        "control": InMemoryControlBus(),
        "leases": InMemoryLeases(),
    }
    async with (
        running_server(factory, node_id="node-a", **shared) as a,
        running_server(factory, node_id="node-b", **shared) as b,
    ):
        yield a, b


async def test_resume_on_the_other_service_replays_every_missed_event_once_then_goes_live() -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=5)])
    async with two_nodes(factory) as (a, b):
        client = await Client.connect(a.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        while answer_text(client.frames) != ANSWER[:15]:
            await client.recv()
        before = sequenced(client.frames)
        await drop(client)

        resumed = await reconnect(b, sid, token, last_seq=before[-1]["seq"])
        notice = await expect_resumed(resumed)
        assert notice["metadata"]["busy"] is True  # B asked A: the run is still going there
        factory.last.release()  # the run goes on, on A; B delivers its events live
        await resumed.expect("agent.final_answer")
        stream = before + sequenced(resumed.frames)
        assert [f["seq"] for f in stream] == list(range(1, len(stream) + 1))  # no gap, no duplicate
        assert len({f["event_id"] for f in stream}) == len(stream)
        assert answer_text(stream) == ANSWER == stream[-1]["content"]
        assert a.service.host.get(sid) is not None and b.service.host.get(sid) is None  # the agent stayed on A

        # A second question through B runs on A (which holds the agent and its memory).
        factory.last.add("second answer")
        frames = await resumed.ask("and then?")
        assert frames[-1]["content"] == "second answer"
        assert len(factory.models) == 1
        await resumed.close()


async def test_a_confirmation_answered_through_the_other_service_reaches_the_run() -> None:
    factory = Models(lambda: [call("danger", {}, id="call_d"), "approved and done"], Danger)
    async with two_nodes(factory) as (a, b):
        client = await Client.connect(a.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="do it")
        request = await client.expect("agent.user_confirm")
        await drop(client)

        resumed = await reconnect(b, sid, token, last_seq=request["seq"])
        await expect_resumed(resumed)
        resent = await resumed.expect("agent.user_confirm")  # seen before the drop: asked again
        assert resent["step_id"] == request["step_id"] and resent["metadata"]["resent"] is True
        await resumed.send("user.response", session_id=sid, step_id=request["step_id"], content={"confirmed": True})
        frames = await resumed.collect_until("agent.final_answer", "agent.error", "agent.interrupted")
        result = next(f for f in frames if f["event"] == "agent.tool_result")
        assert result["metadata"]["status"] == "success" and result["content"] == "done it"
        assert frames[-1]["content"] == "approved and done"
        assert factory.tools[0][0].runs == 1  # type: ignore[attr-defined]

        await resumed.send("user.response", session_id=sid, step_id=request["step_id"], content={"confirmed": False})
        error = await resumed.expect_error()
        assert error["metadata"]["error_code"] == "STEP_ALREADY_ANSWERED"  # decided once, on A
        await resumed.close()


async def test_a_cancel_through_the_other_service_stops_the_run() -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=2), "after the cancel"])
    async with two_nodes(factory) as (a, b):
        client = await Client.connect(a.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.send("user.message", session_id=sid, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await drop(client)

        resumed = await reconnect(b, sid, token)
        await expect_resumed(resumed)
        await resumed.send("user.cancel", session_id=sid)
        interrupted = await resumed.expect("agent.interrupted")
        assert interrupted["metadata"]["reason"] == "user_cancel"
        host = a.service.host.get(sid)
        assert host is not None and not host.busy
        await resumed.close()


async def test_closing_through_the_other_service_ends_the_session_everywhere() -> None:
    factory = Models(lambda: ["hi"])
    async with two_nodes(factory) as (a, b):
        client = await Client.connect(a.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        await client.close()
        resumed = await reconnect(b, sid, token)
        await expect_resumed(resumed)
        await resumed.send("user.close_session", session_id=sid)
        ended = await resumed.expect("agent.session_end")
        assert ended["metadata"]["reason"] == "closed"
        assert a.service.host.get(sid) is None and await a.service.store.get(sid) is None
        late = await reconnect(a, sid, token)
        assert (await late.expect_error())["metadata"]["error_code"] == "SESSION_NOT_FOUND"
        await late.close()
        await resumed.close()


async def test_a_transport_of_ones_own_can_follow_a_session_through_the_service() -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=5)])
    async with running_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid = str(client.session_id)
        follower = server.service.subscribe(sid, after_seq=0)
        await client.send("user.message", session_id=sid, content="go")
        seen = []
        async for frame in follower:
            seen.append(frame)
            if frame["event"] == "agent.final_answer":
                break
        await follower.aclose()
        assert [f["seq"] for f in seen] == list(range(1, len(seen) + 1))
        assert answer_text(seen) == ANSWER == seen[-1]["content"]  # deltas merged after being read are not lost
        await client.close()


async def test_a_subscriber_that_falls_behind_is_told_after_every_event_before_the_gap() -> None:
    async with running_server(Models(lambda: ["hi"]), outbound_queue_frames=5) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid = str(client.session_id)
        follower = server.service.subscribe(sid, after_seq=1)  # after agent.session_created
        waiting = asyncio.ensure_future(anext(follower))  # subscribed, waiting for the first live event
        await server.service.append(sid, Outgoing("agent.thinking", "step 0", {"step": 0}))
        first = await asyncio.wait_for(waiting, WAIT)
        assert first["seq"] == 2
        for step in range(1, 20):  # nobody reads meanwhile
            await server.service.append(sid, Outgoing("agent.thinking", f"step {step}", {"step": step}))
        seqs = [first["seq"]]
        with pytest.raises(MyAgentError, match="behind"):
            async for frame in follower:
                seqs.append(frame["seq"])
        assert seqs == list(range(2, seqs[-1] + 1)) and len(seqs) < 21  # a gapless prefix, then the error
        await client.close()
