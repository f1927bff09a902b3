"""A node killed with SIGKILL mid-run: another node takes its sessions over and the run goes on.

Real processes: two servers started from the command line on one real redis-server, the model a
real local HTTP server (``FakeOpenAIServer``). Node A runs the session and is killed; the client
reconnects to node B, which claims the session once A's lease lapses and continues the run from
its last checkpoint. The client's stream has no gap and no duplicate, and no tool runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fake_openai import FakeOpenAIServer
from tests.harness import WAIT, Client
from tests.test_cli import PYTHON, ServerProcess, free_port

LEASE_TTL = 1.0  # node B takes over about max(lease, the control bus's 5 s liveness) after A stops
FAILOVER_WAIT = 30.0  # bound for the takeover to show: never an assertion about speed

AGENT = textwrap.dedent(
    """
    import asyncio
    import os

    from myagent import create_toolcall_agent
    from myagent.tool import BaseTool

    LOG = os.environ["FAILOVER_TOOL_LOG"]
    BLOCK = os.environ.get("FAILOVER_BLOCK") == "1"  # node A's tools never finish: it is killed meanwhile


    def note(line):
        with open(LOG, "a") as log:
            log.write(line + "\\n")


    class Charge(BaseTool):
        name = "charge"
        description = "Charges the customer's card (must never run twice)."

        async def execute(self, amount: int) -> str:
            note(f"charge {amount} started")
            if BLOCK and amount > 100:
                await asyncio.Event().wait()
            return f"charged {amount}"


    class Lookup(BaseTool):
        name = "lookup"
        description = "Looks a price up (safe to repeat)."
        idempotent = True

        async def execute(self, item: str) -> str:
            note(f"lookup {item} started")
            if BLOCK and item == "slow":
                await asyncio.Event().wait()
            return f"{item} costs 7"


    class Transfer(BaseTool):
        name = "transfer"
        description = "Moves money (asks the user first)."
        user_confirm = True

        async def execute(self, amount: int) -> str:
            note(f"transfer {amount} started")
            return f"moved {amount}"


    def create_agent():
        return create_toolcall_agent(tools=[Charge(), Lookup(), Transfer()], name="failover")
    """
)


class Cluster:
    """Nodes started from the command line on one Redis and one model endpoint."""

    def __init__(self, tmp_path: Path, redis_url: str, model: FakeOpenAIServer) -> None:
        self.tmp_path = tmp_path
        self.redis_url = redis_url
        self.model = model
        self.agent = tmp_path / "failover_agent.py"
        self.agent.write_text(AGENT)
        self.tool_log = tmp_path / "tools.log"
        self.tool_log.touch()
        self.nodes: list[ServerProcess] = []

    def start(self, **env: str) -> ServerProcess:
        port = free_port()
        args = [PYTHON, "-m", "myagent.cli.server", "server", str(self.agent), "--host", "127.0.0.1"]
        args += ["--port", str(port), "--redis-url", self.redis_url, "--lease-ttl", str(LEASE_TTL)]
        args += ["--state-secret-key", "failover-test-secret", "--grace-period", "60", "--language", "en"]
        node = ServerProcess(
            args,
            self.tmp_path,
            port,
            OPENAI_BASE_URL=self.model.url,
            OPENAI_API_KEY="sk-test",
            LLM_MODEL="fake-model",
            FAILOVER_TOOL_LOG=str(self.tool_log),
            **env,
        )
        self.nodes.append(node)
        node.wait_healthy()
        return node

    def tool_runs(self) -> list[str]:
        return self.tool_log.read_text().splitlines()

    async def wait_tool_runs(self, count: int) -> None:
        """Until ``count`` tool calls started (they run in another process and say so in a file)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while len(self.tool_runs()) < count:
            assert loop.time() < deadline, f"tools started: {self.tool_runs()}"
            await asyncio.sleep(0.02)

    def close(self) -> None:
        for node in self.nodes:
            node.close()


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str) -> Iterator[Cluster]:
    with FakeOpenAIServer() as model:
        nodes = Cluster(tmp_path, redis_url, model)
        try:
            yield nodes
        finally:
            nodes.close()


def kill(node: ServerProcess) -> None:
    node.process.send_signal(signal.SIGKILL)
    node.process.wait(timeout=WAIT)


async def reconnect(node: ServerProcess, session_id: str, token: str | None, last_seq: int) -> Client:
    client = await Client.connect(node.url)
    await client.send("user.reconnect", session_id=session_id, resume_token=token, last_seq=last_seq)
    return client


async def until_closed(client: Client) -> None:
    """Receive until the run's closing event (the takeover may take up to the lease and liveness times)."""
    closing = await asyncio.wait_for(
        client.expect("agent.final_answer", "agent.error", "agent.interrupted"), FAILOVER_WAIT
    )
    assert "seq" in closing, closing  # a run's end, not an error about a request


async def lose(client: Client) -> None:
    """The client's socket was on the killed node: it ends without a closing handshake."""
    with contextlib.suppress(Exception):
        while True:
            await client.recv()


def sequenced(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if "seq" in f]


def check_one_stream(stream: list[dict[str, Any]]) -> None:
    """Gapless from 1, no event twice, one closing event at the end."""
    assert [f["seq"] for f in stream] == list(range(1, len(stream) + 1)), [f["seq"] for f in stream]
    assert len({f["event_id"] for f in stream}) == len(stream)
    closing = [f for f in stream if f["event"] in ("agent.final_answer", "agent.error", "agent.interrupted")]
    assert closing == [stream[-1]], [f["event"] for f in closing]


def deltas_after(stream: list[dict[str, Any]], index: int) -> str:
    return "".join(f["content"] for f in stream[index:] if f["event"] == "agent.partial_answer")


def tool_messages(request: dict[str, Any]) -> dict[str, str]:
    return {m["tool_call_id"]: m["content"] for m in request["messages"] if m["role"] == "tool"}


async def start_run(node: ServerProcess, text: str) -> tuple[Client, str]:
    client = await Client.connect(node.url)
    await client.create_session()
    assert client.session_id is not None
    await client.send("user.message", session_id=client.session_id, content=text)
    return client, client.session_id


async def test_killed_mid_answer_the_run_finishes_on_b_and_the_finished_tool_is_not_run_again(
    cluster: Cluster,
) -> None:
    answer = "".join(f"part {i:02d} of the receipt; " for i in range(20))
    cluster.model.add_tool_calls([("call_charge", "charge", json.dumps({"amount": 5}))])
    held = cluster.model.add_text(answer, chunks=20, hold_after=6)  # A streams 6 deltas, then dies
    cluster.model.add_text(answer, chunks=20)  # the step answered again, on B
    a, b = cluster.start(), cluster.start()

    client, sid = await start_run(a, "charge me 5")
    await client.expect("agent.partial_answer")  # the model holds after 6 deltas (merged into fewer frames)
    await held.await_first_chunk()
    kill(a)
    await lose(client)
    before = sequenced(client.frames)

    resumed = await reconnect(b, sid, client.resume_token, before[-1]["seq"])
    await until_closed(resumed)
    stream = before + sequenced(resumed.frames)
    check_one_stream(stream)

    [notice] = [i for i, f in enumerate(stream) if f["event"] == "agent.run_resumed"]
    assert stream[notice]["metadata"]["step"] == 2 and stream[notice]["metadata"]["interrupted_calls"] == []
    assert deltas_after(stream, notice) == answer == stream[-1]["content"]
    assert stream[-1]["event"] == "agent.final_answer"
    assert held.events_sent >= 6
    assert cluster.tool_runs() == ["charge 5 started"]  # checkpointed before A died: never run again
    on_b = cluster.model.requests[-1]
    assert tool_messages(on_b) == {"call_charge": "charged 5"}
    await resumed.close()


async def test_killed_while_tools_run_the_unsafe_call_is_reported_interrupted_and_the_idempotent_one_runs_again(
    cluster: Cluster,
) -> None:
    calls = [
        ("call_big", "charge", json.dumps({"amount": 500})),
        ("call_look", "lookup", json.dumps({"item": "slow"})),
    ]
    cluster.model.add_tool_calls(calls)
    cluster.model.add_text("The lookup says 7; the charge may or may not have happened.", chunks=4)
    a = cluster.start(FAILOVER_BLOCK="1")  # A's two calls never finish
    b = cluster.start()

    client, sid = await start_run(a, "charge 500 and look the price up")
    await cluster.wait_tool_runs(2)
    kill(a)
    await lose(client)
    before = sequenced(client.frames)

    resumed = await reconnect(b, sid, client.resume_token, before[-1]["seq"])
    await until_closed(resumed)
    stream = before + sequenced(resumed.frames)
    check_one_stream(stream)

    [notice] = [f for f in stream if f["event"] == "agent.run_resumed"]
    assert notice["metadata"]["interrupted_calls"] == ["call_big"] and notice["metadata"]["step"] == 2
    results = {f["metadata"]["call_id"]: f["metadata"] for f in stream if f["event"] == "agent.tool_result"}
    assert results["call_big"]["status"] == "failed" and results["call_big"]["failure"] == "interrupted"
    assert results["call_look"]["status"] == "success"
    assert sorted(cluster.tool_runs()) == ["charge 500 started", "lookup slow started", "lookup slow started"]
    seen_by_model = tool_messages(cluster.model.requests[-1])
    assert seen_by_model["call_look"] == "slow costs 7"
    assert "Interrupted: the process running this tool call stopped" in seen_by_model["call_big"]
    assert stream[-1]["event"] == "agent.final_answer"
    await resumed.close()


async def test_killed_while_a_confirmation_waits_b_asks_again_and_the_answer_runs_the_tool_once(
    cluster: Cluster,
) -> None:
    cluster.model.add_tool_calls([("call_move", "transfer", json.dumps({"amount": 40}))])
    cluster.model.add_text("Moved 40.", chunks=2)
    a, b = cluster.start(), cluster.start()

    client, sid = await start_run(a, "move 40")
    asked = await client.expect("agent.user_confirm")
    kill(a)
    await lose(client)
    before = sequenced(client.frames)

    resumed = await reconnect(b, sid, client.resume_token, before[-1]["seq"])
    again = await asyncio.wait_for(resumed.expect("agent.user_confirm"), FAILOVER_WAIT)
    assert again["metadata"]["call_id"] == "call_move" and again["step_id"] != asked["step_id"]
    await resumed.send("user.response", session_id=sid, step_id=again["step_id"], content={"confirmed": True})
    await until_closed(resumed)
    stream = before + sequenced(resumed.frames)
    check_one_stream(stream)

    [notice] = [f for f in stream if f["event"] == "agent.run_resumed"]
    assert notice["metadata"]["interrupted_calls"] == []
    assert cluster.tool_runs() == ["transfer 40 started"]
    assert stream[-1]["event"] == "agent.final_answer" and stream[-1]["content"] == "Moved 40."
    await resumed.close()
