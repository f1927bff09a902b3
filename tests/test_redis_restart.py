"""Redis restarted (with AOF) under two idle nodes: their sessions resume and run afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from myagent.llm import ScriptedReply
from tests.fakes.redis_server import RedisProcess, start_redis
from tests.harness import WAIT, Client, answer_text, running_server
from tests.test_redis_multinode import ANSWER, CLOSING, assert_exactly_once, shared_log
from tests.test_ws_resume import Models, expect_resumed, receive_until_seq, reconnect, sequenced


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    try:
        yield server
    finally:
        server.stop()


async def test_idle_sessions_resume_and_run_after_redis_restarts(aof_redis: RedisProcess) -> None:
    factory = Models(lambda: ["first answer", "second answer"])
    async with contextlib.AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_server(factory, redis_url=aof_redis.url, grace_period=60))
        b = await stack.enter_async_context(running_server(factory, redis_url=aof_redis.url, grace_period=60))
        client = await Client.connect(a.url)
        await client.create_session()
        sid, token = client.session_id, client.resume_token
        assert sid is not None
        before = sequenced(await client.ask("one"))
        assert answer_text(before) == "first answer"
        await client.close()

        aof_redis.restart()  # every connection of both nodes breaks; the data comes back from the AOF

        resumed = await reconnect(b, sid, token, last_seq=0)
        notice = await expect_resumed(resumed)
        assert notice["metadata"]["last_seq"] >= before[-1]["seq"]
        await receive_until_seq(resumed, notice["metadata"]["last_seq"])  # the replay
        second = await resumed.ask("two")  # B sends it to A, which still runs the session
        assert second[-1]["event"] == "agent.final_answer" and answer_text(second) == "second answer"
        assert_exactly_once(sequenced(resumed.frames), await shared_log(b, sid))
        await resumed.close()


async def test_a_run_streaming_while_redis_restarts_ends_with_its_full_answer_or_an_error(
    aof_redis: RedisProcess,
) -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=6)])
    async with running_server(factory, redis_url=aof_redis.url, grace_period=60) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send("user.message", session_id=client.session_id, content="go")
        await client.expect("agent.partial_answer")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)

        aof_redis.restart()  # mid-answer: the next deltas go to a Redis that was away
        factory.last.release()

        closing = await client.expect(*CLOSING)
        stream = sequenced(client.frames)
        assert [f["seq"] for f in stream] == list(range(1, len(stream) + 1))  # nothing lost on the way
        if closing["event"] == "agent.final_answer":
            assert answer_text(stream) == ANSWER == closing["content"]
        else:  # told, with a code, never a stream that just stops
            assert closing["event"] == "agent.error" and closing["metadata"]["error_code"]
        assert_exactly_once(stream, await shared_log(server, client.session_id))
        await client.close()


class _Logged(logging.Handler):
    """Sets an event when a record containing ``needle`` is logged (something to await, not to sleep on)."""

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle = needle
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.seen.set()


async def test_a_run_whose_redis_stays_away_ends_with_agent_error_once_it_is_back(aof_redis: RedisProcess) -> None:
    factory = Models(lambda: [ScriptedReply(ANSWER, chunk_size=3, hold_after=6)])
    retrying = _Logged("could not write the run's closing error")
    logging.getLogger("myagent.ws.runs").addHandler(retrying)
    try:
        async with running_server(factory, redis_url=aof_redis.url, grace_period=60) as server:
            client = await Client.connect(server.url)
            await client.create_session()
            await client.send("user.message", session_id=client.session_id, content="go")
            await client.expect("agent.partial_answer")
            await asyncio.wait_for(factory.last.holding.wait(), WAIT)

            aof_redis.stop()  # down longer than the client's retries: the run fails on its next events
            factory.last.release()
            await asyncio.wait_for(retrying.seen.wait(), WAIT)
            aof_redis.restart()

            closing = await client.expect(*CLOSING)  # not a stream that just stops
            assert closing["event"] == "agent.error" and closing["metadata"]["error_code"] == "RUN_FAILED"
            stream = sequenced(client.frames)
            assert [f["seq"] for f in stream] == list(range(1, len(stream) + 1))
            await client.close()
    finally:
        logging.getLogger("myagent.ws.runs").removeHandler(retrying)
