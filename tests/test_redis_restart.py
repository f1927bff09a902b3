"""Redis restarted (with AOF) under two idle nodes: their sessions resume and run afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.redis_server import RedisProcess, start_redis
from tests.harness import Client, answer_text, running_server
from tests.test_redis_multinode import assert_exactly_once, shared_log
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
