"""What only the Redis backends do: fencing, retried appends, lost wake-ups, a Redis that is away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError

from myagent.ws.event_log import LogEntry, StaleFence
from myagent.ws.redis import RedisBackends, connect_redis_backends
from myagent.ws.redis.appender import APPEND_SCRIPT

WAIT = 15.0


@pytest.fixture
async def backends(redis_url: str) -> AsyncIterator[RedisBackends]:
    opened = connect_redis_backends(redis_url, poll_interval=30.0)  # polling too slow to hide a bug
    try:
        yield opened
    finally:
        await opened.aclose()


def frame(n: int) -> dict[str, object]:
    return {"event": "agent.tool_call", "content": str(n)}


async def test_a_writer_whose_lease_was_taken_can_append_nothing_more(backends: RedisBackends) -> None:
    leases, events = backends.leases, backends.event_log
    old = await leases.acquire("s1", "node-a", 0.2)
    assert old is not None
    assert (await events.append("s1", frame(1), fence=old.fence)).seq == 1
    await leases.release(old)
    new = await leases.acquire("s1", "node-b", 30)
    assert new is not None
    with pytest.raises(StaleFence):
        await events.append("s1", frame(2), fence=old.fence)
    assert (await events.append("s1", frame(3), fence=new.fence)).seq == 2
    assert await events.last_seq("s1") == 2


async def test_an_append_retried_after_a_lost_reply_is_written_once(backends: RedisBackends) -> None:
    events = backends.event_log
    keys = events.keys
    script = backends.store.client.register_script(APPEND_SCRIPT)
    script_keys = [
        keys.seq("s1"),
        keys.events("s1"),
        keys.fence("s1"),
        f"{keys.session('s1')}:appends",
        keys.acked("s1"),
    ]
    args = ["", '{"event":"x"', '"s1:', 100, 60_000, keys.wake("s1"), "append-1"]
    first = await script(keys=script_keys, args=args)
    await events.append("s1", frame(2))  # another writer in between
    again = await script(keys=script_keys, args=args)  # the same append sent again
    assert again == first and int(first[0]) == 1
    window = await events.read("s1", 0)
    assert [e.seq for e in window.entries] == [1, 2]


async def test_events_published_while_the_wakeup_connection_is_down_still_arrive(
    backends: RedisBackends, redis_url: str
) -> None:
    events = backends.event_log
    got: list[int] = []
    arrived = asyncio.Event()

    def deliver(entry: LogEntry) -> None:
        got.append(entry.seq)
        if len(got) == 20:
            arrived.set()

    subscription = await events.subscribe("s1", 0, deliver)
    subscription.start()
    async with redis.asyncio.Redis.from_url(redis_url) as admin:
        for n in range(1, 21):
            if n % 5 == 0:  # cut the wake-up connection again and again while appending
                await admin.client_kill_filter(_type="pubsub")
            await events.append("s1", frame(n))
    await asyncio.wait_for(arrived.wait(), WAIT)
    assert got == list(range(1, 21))
    await events.unsubscribe(subscription)


async def test_a_redis_that_is_away_is_an_error_never_a_made_up_seq() -> None:
    away = connect_redis_backends("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(RedisConnectionError):
            await away.event_log.append("s1", frame(1))
        with pytest.raises(RedisConnectionError):
            await away.store.count()
    finally:
        await away.aclose()


async def test_a_queued_delta_redis_refused_makes_the_next_append_fail(backends: RedisBackends) -> None:
    leases, events = backends.leases, backends.event_log
    old = await leases.acquire("s1", "node-a", 30)
    assert old is not None
    await leases.release(old)
    assert await leases.acquire("s1", "node-b", 30) is not None
    delta = {"event": "agent.partial_answer", "content": "lost?", "metadata": {"step": 1}}
    assert await events.append("s1", delta, fence=old.fence) is None  # queued: the run does not wait
    with pytest.raises(StaleFence):  # the refusal surfaces on the session's next append
        await events.append("s1", frame(2), fence=old.fence)
    assert await events.last_seq("s1") == 0


async def test_deltas_queued_behind_one_another_merge_and_keep_their_text(backends: RedisBackends) -> None:
    events = backends.event_log
    pieces = [f"{n}," for n in range(100)]
    for piece in pieces:
        await events.append("s1", {"event": "agent.partial_answer", "content": piece, "metadata": {"step": 1}})
    closing = await events.append("s1", frame(1))
    assert closing is not None
    window = await events.read("s1", 0)
    assert [e.seq for e in window.entries] == list(range(1, closing.seq + 1))
    assert closing.seq < 101  # some deltas were merged while queued
    texts = [json.loads(e.seal())["content"] for e in window.entries[:-1]]
    assert "".join(texts) == "".join(pieces)


async def test_a_closing_event_stays_readable_by_other_nodes_after_drop(redis_url: str) -> None:
    a, b = connect_redis_backends(redis_url), connect_redis_backends(redis_url)
    try:
        await a.event_log.append("s1", frame(1))
        got: list[int] = []
        arrived = asyncio.Event()

        def deliver(entry: LogEntry) -> None:
            got.append(entry.seq)
            arrived.set()

        subscription = await b.event_log.subscribe("s1", 1, deliver)
        subscription.start()
        await a.event_log.append("s1", {"event": "agent.session_end", "content": "bye"})
        await a.event_log.drop("s1")  # the owner closes the session at once
        await asyncio.wait_for(arrived.wait(), WAIT)
        assert got == [2]
        await b.event_log.unsubscribe(subscription)
    finally:
        await a.aclose()
        await b.aclose()
