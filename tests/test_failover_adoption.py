"""What a service does with each kind of checkpoint it takes over from a node that stopped.

One real service in this process adopts records left by ``node-gone`` (a node that never answers
again); the real multi-process failover, with SIGKILL and Redis, is in ``test_redis_failover.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from myagent.llm.base import Message
from myagent.protocol.rules import closes_run
from myagent.ws.server import AgentWebSocketServer
from myagent.ws.store import InMemorySessionStore, SessionRecord, hash_token
from tests.harness import running_server
from tests.test_plan_solve import Lab
from tests.test_ws_resume import Models

GONE = "node-gone"


@contextlib.asynccontextmanager
async def adopter(factory: Callable[..., Any]) -> AsyncIterator[AgentWebSocketServer]:
    store = InMemorySessionStore(keeps_checkpoints=True)  # as a shared store keeps them
    async with running_server(factory, store=store, node_id="node-b", grace_period=60) as server:
        yield server


async def leave_orphan(
    server: AgentWebSocketServer, session_id: str, *, running: bool, messages: list[Message]
) -> None:
    await server.service.store.put(
        SessionRecord(
            id=session_id,
            resume_token_hash=hash_token("token"),
            node_id=GONE,
            connection_id="conn-on-the-gone-node",
            attached_node=GONE,
            status="attached",
            running=running,
            conversation=[m.to_dict() for m in messages],
            current_step=1,
        )
    )


async def until_closed(server: AgentWebSocketServer, session_id: str) -> list[dict[str, Any]]:
    frames = []
    async for frame in server.service.subscribe(session_id):
        frames.append(frame)
        if closes_run(frame["event"], frame.get("seq")):
            return frames
    raise AssertionError("the log ended without closing the run")


async def test_an_answer_complete_in_the_checkpoint_is_given_again_without_asking_the_model() -> None:
    factory = Models(lambda: [])  # any model call would fail the run: none may happen
    async with adopter(factory) as server:
        await leave_orphan(
            server, "s-done", running=True, messages=[Message("user", "6 x 7?"), Message("assistant", "42")]
        )
        await server.service.adopt_orphans()
        frames = await until_closed(server, "s-done")

    assert [f["event"] for f in frames] == ["agent.run_resumed", "agent.partial_answer", "agent.final_answer"]
    assert frames[1]["content"] == frames[-1]["content"] == "42"  # the superseded step's text, whole
    assert factory.last.requests == []


async def test_an_idle_session_is_adopted_its_dead_connection_detached_and_its_memory_kept() -> None:
    factory = Models(lambda: ["You asked about 6 x 7."])
    async with adopter(factory) as server:
        service = server.service
        await leave_orphan(
            server, "s-idle", running=False, messages=[Message("user", "6 x 7?"), Message("assistant", "42")]
        )
        await service.adopt_orphans()
        record = await service.store.get("s-idle")
        assert record is not None and record.node_id == service.node_id
        assert record.status == "detached" and record.connection_id is None  # waits for a reconnect, then expires
        assert record.expires_at is not None and record.expires_at > time.time()
        assert await service.events.last_seq("s-idle") == 0  # nothing was running: nothing resumed

        await service.command("s-idle", "message", text="what did I ask?")
        frames = await until_closed(server, "s-idle")
    assert frames[-1]["content"] == "You asked about 6 x 7."
    seen = [m.content for m in factory.last.requests[-1].messages if m.role != "system"]
    assert seen[:3] == ["6 x 7?", "42", "what did I ask?"]


async def test_a_plan_and_solve_run_cannot_go_on_and_closes_with_run_lost() -> None:
    lab = Lab()
    async with adopter(lab.factory) as server:
        await leave_orphan(server, "s-plan", running=True, messages=[Message("user", "plan something")])
        await server.service.adopt_orphans()
        frames = await until_closed(server, "s-plan")
        assert not await server.service.busy("s-plan")  # usable again
    assert frames[-1]["event"] == "agent.error"
    assert frames[-1]["metadata"]["error_code"] == "RUN_LOST"
