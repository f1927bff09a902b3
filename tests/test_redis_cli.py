"""The command line selects Redis: ``--redis-url`` on one process, ``MYAGENT_REDIS_URL`` on another."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.harness import Client
from tests.test_cli import WEATHER, WRAPPER, serve
from tests.test_ws_resume import expect_resumed, receive_until_seq, sequenced


async def test_a_session_made_on_one_cli_process_resumes_on_another(tmp_path: Path, redis_url: str) -> None:
    agent = [str(WRAPPER), "server", str(WEATHER)]
    with (
        serve([*agent, "--redis-url", redis_url], tmp_path, MYAGENT_STATE_SECRET="s") as a,
        serve(agent, tmp_path, MYAGENT_STATE_SECRET="s", MYAGENT_REDIS_URL=redis_url) as b,
    ):
        client = await Client.connect(a.url)
        await client.create_session()
        frames = sequenced(await client.ask("北京明天天气怎么样？"))
        assert frames[-1]["event"] == "agent.final_answer"
        await client.close()

        resumed = await Client.connect(b.url)
        await resumed.send("user.reconnect", session_id=client.session_id, resume_token=client.resume_token, last_seq=0)
        await expect_resumed(resumed)
        await receive_until_seq(resumed, frames[-1]["seq"])
        replayed = {f["event_id"]: f for f in sequenced(resumed.frames)}
        assert [f["seq"] for f in replayed.values()] == list(range(1, len(replayed) + 1))  # from the very first
        assert [replayed[f["event_id"]]["content"] for f in frames] == [f["content"] for f in frames]
        await resumed.close()
        assert a.stop(signal.SIGTERM) == 0 and b.stop(signal.SIGTERM) == 0
        assert "Traceback" not in a.stderr + b.stderr
