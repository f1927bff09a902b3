"""The storage seams' contract: the same assertions for the in-memory and the Redis backends.

Each test gets two "nodes" (``Nodes.a`` and ``Nodes.b``): in memory they share the objects, on Redis
each has its own client, so whatever one node writes the other must see.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from myagent.ws.control import ControlBus, ControlCommand, ControlResult, InMemoryControlBus, NodeUnreachable
from myagent.ws.event_log import EventLog, InMemoryEventLog, LogEntry
from myagent.ws.lease import InMemoryLeases, LeaseManager
from myagent.ws.redis import RedisBackends, connect_redis_backends
from myagent.ws.store import InMemorySessionStore, SessionRecord, SessionStore, hash_token

WAIT = 15.0
MAX_EVENTS = 50


@dataclass
class Node:
    store: SessionStore
    events: EventLog
    control: ControlBus
    leases: LeaseManager


@dataclass
class Nodes:
    a: Node
    b: Node


@pytest.fixture(params=["memory", "redis"])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[Nodes]:
    if request.param == "memory":
        shared = Node(
            InMemorySessionStore(), InMemoryEventLog(max_events=MAX_EVENTS), InMemoryControlBus(), InMemoryLeases()
        )
        yield Nodes(shared, shared)
        return
    url = request.getfixturevalue("redis_url")
    opened: list[RedisBackends] = [
        connect_redis_backends(url, max_events=MAX_EVENTS, poll_interval=0.5) for _ in range(2)
    ]
    try:
        yield Nodes(*(Node(*backends) for backends in opened))
    finally:
        for backends in opened:
            await backends.aclose()


def record(session_id: str = "s1", **fields: Any) -> SessionRecord:
    return SessionRecord(id=session_id, resume_token_hash=hash_token("token"), node_id="node-a", **fields)


def frame(n: int, event: str = "agent.tool_call") -> dict[str, Any]:
    return {"event": event, "content": f"event {n} · 事件", "metadata": {"n": n}}


# -- SessionStore ------------------------------------------------------------------------------


async def test_store_round_trips_every_field_and_hands_out_copies(nodes: Nodes) -> None:
    original = record(
        owner="alice",
        status="detached",
        expires_at=1234.5,
        agent_name="agent",
        conversation=[{"role": "user", "content": "你好"}],
        pending_confirmations=[{"step_id": "s", "tool": "t"}],
        plan_context={"plan": [1, 2]},
    )
    await nodes.a.store.put(original)
    seen = await nodes.b.store.get("s1")
    assert seen == original
    assert seen is not None
    seen.conversation.append({"role": "assistant"})
    assert await nodes.b.store.get("s1") == original
    assert await nodes.b.store.get("nope") is None


async def test_store_update_changes_only_named_fields_and_delete_happens_once(nodes: Nodes) -> None:
    await nodes.a.store.put(record(agent_name="x"))
    updated = await nodes.b.store.update("s1", status="detached", expires_at=10.0)
    assert updated is not None and updated.status == "detached" and updated.agent_name == "x"
    assert await nodes.a.store.get("s1") == updated
    assert await nodes.a.store.update("gone", status="closed") is None
    assert await nodes.a.store.delete("s1") is True
    assert await nodes.b.store.delete("s1") is False
    assert await nodes.b.store.get("s1") is None


async def test_store_counts_by_node_and_quota_key(nodes: Nodes) -> None:
    await nodes.a.store.put(record("1", owner="alice", quota_key="alice"))
    await nodes.a.store.put(record("2", owner="bob", quota_key="bob"))
    await nodes.b.store.put(
        SessionRecord(id="3", resume_token_hash="h", node_id="node-b", owner="alice", quota_key="alice")
    )
    store = nodes.b.store
    assert await store.count() == 3
    assert await store.count(node_id="node-a") == 2
    assert await store.count(quota_key="alice") == 2
    assert await store.count(node_id="node-b", quota_key="alice") == 1
    await store.update("3", node_id="node-a")
    assert await store.count(node_id="node-b") == 0
    assert await store.count(node_id="node-a", quota_key="alice") == 2
    await store.delete("1")
    assert await store.count(quota_key="alice") == 1
    await store.update("3", quota_key="carol")  # a record that changes hands counts for its new key only
    assert (await store.count(quota_key="alice"), await store.count(quota_key="carol")) == (0, 1)


async def test_store_quota_counts_follow_every_way_a_record_leaves(nodes: Nodes) -> None:
    for i in range(5):
        await nodes.a.store.put(record(f"q{i}", quota_key="alice", status="detached", expires_at=100.0 + i))
    await nodes.a.store.put(record("q0", quota_key="alice", status="attached"))  # replaced, not added
    assert await nodes.b.store.count(quota_key="alice") == 5
    await nodes.b.store.delete("q1")
    await nodes.a.store.claim_expired(500.0)  # q2, q3 and q4 (q0 is attached)
    assert await nodes.b.store.count(quota_key="alice") == 1
    await nodes.a.store.delete("q0")
    assert await nodes.b.store.count(quota_key="alice") == 0


async def test_store_claims_each_expired_detached_record_once(nodes: Nodes) -> None:
    for i in range(20):
        await nodes.a.store.put(record(f"d{i}", status="detached", expires_at=100.0 + i))
    await nodes.a.store.put(record("attached", status="attached", expires_at=50.0))
    await nodes.a.store.put(record("later", status="detached", expires_at=10_000.0))
    await nodes.a.store.put(record("reattached", status="detached", expires_at=50.0))
    await nodes.b.store.update("reattached", status="attached", expires_at=None)

    first, second = await asyncio.gather(nodes.a.store.claim_expired(500.0), nodes.b.store.claim_expired(500.0))
    claimed = [r.id for r in first] + [r.id for r in second]
    assert sorted(claimed) == sorted(f"d{i}" for i in range(20))
    assert all(r.status == "detached" for r in first + second)
    assert await nodes.a.store.get("d0") is None
    assert await nodes.a.store.count() == 3
    assert await nodes.a.store.claim_expired(500.0) == []


# -- EventLog ----------------------------------------------------------------------------------


def decoded(entry: LogEntry) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(entry.seal())
    return data


async def test_events_get_gapless_seqs_and_ids_visible_to_every_node(nodes: Nodes) -> None:
    made = [await nodes.a.events.append("s1", frame(n)) for n in range(1, 6)]
    assert [e.seq for e in made if e is not None] == [1, 2, 3, 4, 5]
    window = await nodes.b.events.read("s1", 2)
    assert window.missing is None and window.last_seq == 5
    assert [e.seq for e in window.entries] == [3, 4, 5]
    for entry in window.entries:
        data = decoded(entry)
        assert data["seq"] == entry.seq and data["event_id"] == entry.event_id == f"s1:{entry.seq}"
        assert data["content"] == f"event {entry.seq} · 事件" and data["metadata"] == {"n": entry.seq}
    assert await nodes.b.events.last_seq("s1") == 5
    assert await nodes.b.events.last_seq("other") == 0
    assert (await nodes.b.events.read("other", 0)).entries == []


async def test_deltas_keep_their_text_and_order_whether_coalesced_or_not(nodes: Nodes) -> None:
    pieces = [f"piece{n} " for n in range(30)]
    for piece in pieces:
        delta = {"event": "agent.partial_answer", "content": piece, "metadata": {"step": 1}}
        await nodes.a.events.append("s1", delta)
    await nodes.a.events.append("s1", frame(99))
    window = await nodes.b.events.read("s1", 0)
    seqs = [e.seq for e in window.entries]
    assert seqs == list(range(1, len(seqs) + 1))
    texts = [decoded(e)["content"] for e in window.entries if decoded(e)["event"] == "agent.partial_answer"]
    assert "".join(texts) == "".join(pieces)


async def test_a_trimmed_range_is_reported_missing(nodes: Nodes) -> None:
    for n in range(1, 501):
        await nodes.a.events.append("s1", frame(n))
    window = await nodes.b.events.read("s1", 0)
    first = window.entries[0].seq
    assert first > 1 and window.missing == (1, first - 1)
    assert [e.seq for e in window.entries] == list(range(first, 501))
    recent = await nodes.b.events.read("s1", 495)
    assert recent.missing is None and [e.seq for e in recent.entries] == [496, 497, 498, 499, 500]


async def test_ack_refuses_unissued_seqs_and_lets_acked_events_go(nodes: Nodes) -> None:
    for n in range(1, 6):
        await nodes.a.events.append("s1", frame(n))
    assert await nodes.b.events.ack("s1", 6) is False
    assert await nodes.b.events.ack("s1", -1) is False
    assert await nodes.b.events.ack("s1", 3) is True
    assert await nodes.b.events.ack("s1", 2) is True  # an older ack changes nothing
    window = await nodes.a.events.read("s1", 0)
    assert window.missing == (1, 3) and [e.seq for e in window.entries] == [4, 5]


class Collector:
    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.changed = asyncio.Event()

    def __call__(self, entry: LogEntry) -> None:
        self.seqs.append(entry.seq)
        self.changed.set()

    async def until(self, count: int) -> list[int]:
        async with asyncio.timeout(WAIT):
            while len(self.seqs) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.seqs


async def test_a_subscription_replays_then_holds_then_delivers_live_events_once_in_order(nodes: Nodes) -> None:
    for n in range(1, 4):
        await nodes.a.events.append("s1", frame(n))
    got = Collector()
    subscription = await nodes.b.events.subscribe("s1", 1, got)
    assert [e.seq for e in subscription.window.entries] == [2, 3]
    await nodes.a.events.append("s1", frame(4))
    assert got.seqs == []  # held until start
    subscription.start()
    for n in range(5, 41):
        await nodes.a.events.append("s1", frame(n))
    assert await got.until(37) == list(range(4, 41))
    await nodes.b.events.unsubscribe(subscription)
    await nodes.a.events.append("s1", frame(41))
    last = await nodes.b.events.read("s1", 40)  # the append has landed; nothing more may be delivered
    assert [e.seq for e in last.entries] == [41]
    assert got.seqs == list(range(4, 41))


async def test_subscribing_without_a_position_starts_after_the_last_ack(nodes: Nodes) -> None:
    for n in range(1, 6):
        await nodes.a.events.append("s1", frame(n))
    await nodes.a.events.ack("s1", 4)
    subscription = await nodes.b.events.subscribe("s1", None, Collector())
    assert [e.seq for e in subscription.window.entries] == [5]
    assert subscription.window.missing is None
    await nodes.b.events.unsubscribe(subscription)


async def test_drop_closes_a_sessions_subscriptions(nodes: Nodes) -> None:
    await nodes.a.events.append("s1", frame(1))
    got = Collector()
    subscription = await nodes.a.events.subscribe("s1", 0, got)
    subscription.start()
    await nodes.a.events.drop("s1")
    assert subscription.closed
    await nodes.b.events.append("s1", frame(2))
    await nodes.a.events.read("s1", 0)
    assert got.seqs == []


# -- ControlBus --------------------------------------------------------------------------------


async def test_a_command_reaches_the_node_it_names_and_its_result_comes_back(nodes: Nodes) -> None:
    received: list[ControlCommand] = []

    async def handler(command: ControlCommand) -> ControlResult:
        received.append(command)
        if command.kind == "refuse":
            return ControlResult(False, "SESSION_BUSY", "busy")
        return ControlResult(data={"echo": command.args, "by": "node-a"})

    await nodes.a.control.register("node-a", handler)
    try:
        result = await nodes.b.control.send("node-a", ControlCommand("s1", "describe", {"x": [1, "二"]}))
        assert result == ControlResult(data={"echo": {"x": [1, "二"]}, "by": "node-a"})
        refused = await nodes.b.control.send("node-a", ControlCommand("s1", "refuse"))
        assert (refused.ok, refused.code, refused.message) == (False, "SESSION_BUSY", "busy")
        results = await asyncio.gather(
            *(nodes.b.control.send("node-a", ControlCommand(f"s{n}", "describe", {"n": n})) for n in range(10))
        )
        assert [r.data["echo"]["n"] for r in results] == list(range(10))
        assert sorted(c.session_id for c in received) == sorted(["s1", "s1", *(f"s{n}" for n in range(10))])
        with pytest.raises(NodeUnreachable):
            await nodes.b.control.send("node-z", ControlCommand("s1", "describe"))
    finally:
        await nodes.a.control.unregister("node-a")
    with pytest.raises(NodeUnreachable):
        await nodes.b.control.send("node-a", ControlCommand("s1", "describe"))


# -- LeaseManager ------------------------------------------------------------------------------


async def test_one_holder_at_a_time_with_growing_fences(nodes: Nodes) -> None:
    first = await nodes.a.leases.acquire("s1", "node-a", 30)
    assert first is not None and first.holder == "node-a"
    assert await nodes.b.leases.acquire("s1", "node-b", 30) is None
    again = await nodes.a.leases.acquire("s1", "node-a", 30)
    assert again is not None and again.fence == first.fence
    assert await nodes.b.leases.holder("s1") == "node-a"
    renewed = await nodes.a.leases.renew(first, 30)
    assert renewed is not None and renewed.fence == first.fence
    await nodes.a.leases.release(first)
    assert await nodes.b.leases.holder("s1") is None
    second = await nodes.b.leases.acquire("s1", "node-b", 30)
    assert second is not None and second.fence > first.fence
    assert await nodes.a.leases.renew(first, 30) is None  # the old holder cannot take it back
    await nodes.a.leases.release(first)  # nor remove the new holder's
    assert await nodes.a.leases.holder("s1") == "node-b"


async def test_a_lease_not_renewed_lapses_and_goes_to_the_next_holder(nodes: Nodes) -> None:
    first = await nodes.a.leases.acquire("s1", "node-a", 0.2)
    assert first is not None
    async with asyncio.timeout(WAIT):  # waiting for the expiry itself, the behaviour under test
        while await nodes.b.leases.holder("s1") is not None:  # noqa: ASYNC110 - Redis expires it, no event
            await asyncio.sleep(0.05)
    second = await nodes.b.leases.acquire("s1", "node-b", 30)
    assert second is not None and second.fence > first.fence
    assert await nodes.a.leases.renew(first, 30) is None


async def test_a_lapsed_lease_nobody_took_is_taken_back_by_its_holder_with_the_same_fence(nodes: Nodes) -> None:
    """A holder that renewed late (a busy event loop) keeps its run: nobody else could have written."""
    first = await nodes.a.leases.acquire("s1", "node-a", 0.2)
    assert first is not None
    async with asyncio.timeout(WAIT):  # waiting for the expiry itself, the behaviour under test
        while await nodes.b.leases.holder("s1") is not None:  # noqa: ASYNC110 - Redis expires it, no event
            await asyncio.sleep(0.05)
    renewed = await nodes.a.leases.renew(first, 30)
    assert renewed is not None and renewed.fence == first.fence
    assert await nodes.b.leases.holder("s1") == "node-a"
    assert await nodes.b.leases.acquire("s1", "node-b", 30) is None


async def test_the_lease_of_a_holder_known_to_have_stopped_is_taken_at_once_with_a_higher_fence(nodes: Nodes) -> None:
    first = await nodes.a.leases.acquire("s1", "node-a", 30)
    assert first is not None
    assert await nodes.b.leases.acquire("s1", "node-b", 30, stopped="node-c") is None  # not node-c's to give
    taken = await nodes.b.leases.acquire("s1", "node-b", 30, stopped="node-a")
    assert taken is not None and taken.holder == "node-b" and taken.fence > first.fence
    assert await nodes.a.leases.renew(first, 30) is None  # a stalled node-a cannot take it back
    assert await nodes.a.leases.holder("s1") == "node-b"
