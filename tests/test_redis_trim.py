"""A live reader that falls behind the stream's ``MAXLEN``: told the lost range, as a replay is.

Another node's appends go through the real append script (its ``XADD … MAXLEN ~`` trims whole
stream nodes) with their wake-ups held back, then one wake-up is published: the reader cannot run
in between, so it finds its next events trimmed. It must say so (``Missed`` / ``REPLAY_GAP`` with
the range) and then deliver everything after the gap, in order.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from myagent.protocol.envelope import create_event
from myagent.protocol.rules import format_event_id
from myagent.ws.event_log import LogEntry, Missed
from myagent.ws.redis import Keys, RedisBackends, connect_redis_backends
from myagent.ws.redis.appender import APPEND_SCRIPT
from tests.harness import WAIT, Client, running_server
from tests.test_ws_resume import Models

APPENDED = 300
MAXLEN = 10  # approximate: Redis drops whole stream nodes (100 entries by default)


@pytest.fixture
async def backends(redis_url: str) -> AsyncIterator[RedisBackends]:
    opened = connect_redis_backends(redis_url, poll_interval=30.0)  # only the wake-up makes it read
    try:
        yield opened
    finally:
        await opened.aclose()


async def append_elsewhere(redis_url: str, session_id: str, count: int) -> int:
    """``count`` events appended as another node does, their wake-ups held back; then one wake-up. The last seq."""
    keys = Keys()
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        script = client.register_script(APPEND_SCRIPT)
        script_keys = [
            keys.seq(session_id),
            keys.events(session_id),
            keys.fence(session_id),
            f"{keys.session(session_id)}:appends",
            keys.acked(session_id),
        ]
        eid = json.dumps(format_event_id(session_id, 0)[:-1])[:-1]
        seq = 0
        for n in range(count):
            frame = create_event("agent.tool_result", session_id=session_id, content=f"result {n}")
            head = json.dumps(frame, separators=(",", ":"))[:-1]
            args = ["", head, eid, MAXLEN, 60_000, "held-back", uuid.uuid4().hex]
            seq = int((await script(keys=script_keys, args=args))[0])
        assert int(await client.xlen(keys.events(session_id))) < count  # MAXLEN did trim
        await client.publish(keys.wake(session_id), seq)
        return seq
    finally:
        await client.aclose()


async def test_a_reader_whose_next_events_were_trimmed_gets_the_range_then_the_rest(
    backends: RedisBackends, redis_url: str
) -> None:
    events = backends.event_log
    await events.append("s1", {"event": "agent.tool_call", "content": "first"})
    got: list[LogEntry | Missed] = []
    done = asyncio.Event()

    def deliver(entry: LogEntry | Missed) -> None:
        got.append(entry)
        if isinstance(entry, LogEntry) and entry.seq == APPENDED + 1:
            done.set()

    subscription = await events.subscribe("s1", 1, deliver)
    subscription.start()
    await append_elsewhere(redis_url, "s1", APPENDED)
    await asyncio.wait_for(done.wait(), WAIT)

    gap = got[0]
    assert isinstance(gap, Missed) and gap.session_id == "s1" and gap.first == 2
    rest = [entry.seq for entry in got[1:] if isinstance(entry, LogEntry)]
    assert len(rest) == len(got) - 1  # one gap, then only events
    assert rest == list(range(gap.last + 1, APPENDED + 2))  # everything after the gap, in order
    window = await events.read("s1", 1)
    assert window.missing == (gap.first, gap.last)  # the same range a replay from there reports
    await events.unsubscribe(subscription)


async def test_a_client_whose_live_events_were_trimmed_gets_replay_gap_then_the_rest(redis_url: str) -> None:
    async with running_server(Models(lambda: ["unused"]), redis_url=redis_url) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid = client.session_id
        assert sid is not None
        last = await append_elsewhere(redis_url, sid, APPENDED)

        while client.frames[-1].get("seq") != last:
            await client.recv()
        # Each seq arrives once or lies in a REPLAY_GAP reported before the events after it
        # (the node also polls, so it may have read part of the burst before the trim: two gaps).
        told: list[int] = []
        for frame in client.frames:
            if "seq" in frame:
                told.append(frame["seq"])
            elif frame["event"] == "system.error":
                assert frame["metadata"]["error_code"] == "REPLAY_GAP" and frame["session_id"] == sid
                details: dict[str, Any] = frame["metadata"]["details"]
                told += range(details["missing_from_seq"], details["missing_to_seq"] + 1)
        assert told == list(range(1, last + 1))
        assert len([f for f in client.frames if "seq" in f]) < last  # something was trimmed and said so
        await client.close()
