"""Connection and session lifecycle: slow consumers, leaks, heartbeats, shutdown, HTTP endpoints."""

from __future__ import annotations

import asyncio
import gc
import socket
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx2 as httpx  # the environment's httpx (the distribution is named httpx2)
import websockets

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.llm import ScriptedModel, ScriptedReply, call
from myagent.tool import BaseTool, ToolResult
from myagent.ws.outbound import OutboundChannel
from myagent.ws.server import AgentWebSocketServer
from tests.harness import WAIT, Client, SessionView, find_session, running_server

# -- helpers ------------------------------------------------------------------------------------


class Bulky(BaseTool):
    name = "bulky"
    description = "Returns a large text"

    async def execute(self, n: int) -> ToolResult:
        return ToolResult(output=f"{n:05d}" + "x" * 32_000)


class Agents:
    """Agent factory keeping every session's scripted model."""

    def __init__(self, script: Callable[[], list[Any]], *tools: Callable[[], BaseTool]) -> None:
        self.script = script
        self.tool_types = tools
        self.models: list[ScriptedModel] = []

    def __call__(self) -> ToolCallAgent:
        model = ScriptedModel(self.script())
        self.models.append(model)
        return create_toolcall_agent(llm=model, tools=[make() for make in self.tool_types], name="lifecycle")

    @property
    def last(self) -> ScriptedModel:
        return self.models[-1]


async def until(condition: Callable[[], bool]) -> None:
    """Bounded polling of in-process server state (in this task: no helper task to count)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - the server exposes no event for these states
            await asyncio.sleep(0.02)


def session_of(server: AgentWebSocketServer, session_id: str | None) -> SessionView:
    assert session_id is not None
    session = find_session(server, session_id)
    assert session is not None
    return session


def sequenced(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if "seq" in f]


# -- slow consumer ------------------------------------------------------------------------------


SLOW_OPTIONS = {"outbound_queue_frames": 20, "retention_events": 10_000, "retention_bytes": 1 << 30}
FLOOD_CALLS = 300  # 600 tool frames of ~32 KB: far more than the socket buffers hold


def flood_agents() -> Agents:
    return Agents(lambda: [[call("bulky", {"n": i}) for i in range(FLOOD_CALLS)], "finished"], Bulky)


async def flood_a_slow_reader(server: AgentWebSocketServer) -> tuple[Client, SessionView, str]:
    """A client that starts a large run and stops reading; returns once the server dropped it."""
    # A small receive window keeps the amount of data the kernel buffers for the client modest.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    slow = Client(await websockets.connect(server.url, sock=sock, max_queue=1, max_size=None))
    await slow.expect("system.connected")
    await slow.create_session()
    assert slow.session_id is not None and slow.resume_token is not None
    await slow.send("user.message", session_id=slow.session_id, content="flood")  # ... and stop reading
    await until(lambda: server.service.metrics.slow_consumer_disconnects_total >= 1)
    session = session_of(server, slow.session_id)
    await until(lambda: session.sink is None)
    return slow, session, slow.resume_token


async def drain(client: Client) -> None:
    """Read whatever the socket still holds until the connection is closed."""
    try:
        while True:
            await client.recv()
    except websockets.ConnectionClosed:
        pass


async def test_slow_consumer_is_disconnected_and_its_session_stays_alive():
    async with running_server(flood_agents(), **SLOW_OPTIONS) as server:
        slow, session, _ = await flood_a_slow_reader(server)
        assert not session.closed and session.expiry is not None  # detached, inside its grace period
        assert find_session(server, session.id) is not None
        run = session.run_task
        assert run is not None
        done, _ = await asyncio.wait({run}, timeout=WAIT)
        assert done, "the run goes on without a reader"
        assert server.service.metrics.slow_consumer_disconnects_total == 1
        assert not server.gateway.connections

        # What reached the slow client before the cut is a gapless prefix of the session's events ...
        await drain(slow)
        got = [f["seq"] for f in sequenced(slow.frames)]
        assert got == list(range(1, len(got) + 1))
        # ... and everything is retained for a resume.
        log = [entry.frame for entry in session.log]
        assert [f["seq"] for f in log] == list(range(1, session.log.last_seq + 1))
        assert sum(f["event"] == "agent.tool_result" for f in log) == FLOOD_CALLS
        assert log[-1]["event"] == "agent.final_answer" and log[-1]["content"] == "finished"
        assert len(got) < len(log)


async def test_outbound_channel_refuses_every_frame_after_an_overflow():
    """No frame may follow a dropped one, even when the writer frees room before the connection closes."""
    sent: list[str] = []
    permits: asyncio.Queue[None] = asyncio.Queue()
    entered = asyncio.Event()

    async def send(data: str) -> None:  # a peer that reads one frame per permit
        entered.set()
        await permits.get()
        sent.append(data)

    overflows: list[int] = []
    channel = OutboundChannel(send, max_frames=3, on_overflow=lambda: overflows.append(1))
    writer = asyncio.create_task(channel.run())
    assert channel.push("f0")
    await entered.wait()  # the writer took f0 and is blocked on the peer
    for name in ("f1", "f2", "f3"):
        assert channel.push(name)
    assert not channel.push("f4")  # full: overflow
    assert overflows == [1] and channel.overflowed
    permits.put_nowait(None)  # the peer reads f0: there is room again ...
    while len(sent) < 1:
        entered.clear()
        await entered.wait()
    assert not channel.push("f5")  # ... but nothing may follow the dropped f4
    channel.close()
    for _ in range(3):
        permits.put_nowait(None)
    await asyncio.wait_for(writer, WAIT)
    assert sent == ["f0", "f1", "f2", "f3"]


async def test_slow_consumer_session_resumes_with_the_rest_on_a_new_connection():
    async with running_server(flood_agents(), **SLOW_OPTIONS) as server:
        slow, session, token = await flood_a_slow_reader(server)
        await drain(slow)
        had = sequenced(slow.frames)[-1]["seq"]
        run = session.run_task
        assert run is not None
        await asyncio.wait({run}, timeout=WAIT)

        resumed = Client(await websockets.connect(server.url, max_size=None))
        await resumed.expect("system.connected")
        await resumed.send("user.reconnect", session_id=session.id, resume_token=token, last_seq=had)
        await resumed.expect("agent.final_answer")
        rest = sequenced(resumed.frames)
        assert [f["seq"] for f in rest] == list(range(had + 1, session.log.last_seq + 1))
        assert rest[-1]["content"] == "finished"
        assert not any(f["event"] == "system.error" for f in resumed.frames)
        assert server.service.metrics.slow_consumer_disconnects_total == 1
        await resumed.close()


# -- leaks ------------------------------------------------------------------------------------


async def _batch(server: AgentWebSocketServer, count: int) -> None:
    """``count`` sessions: half closed with user.close_session, half left to expire after a disconnect."""
    closing = await Client.connect(server.url)
    for _ in range(count // 2):
        await closing.send("user.create_session")
        created = await closing.expect("agent.session_created")
        await closing.send("user.close_session", session_id=created["session_id"])
        await closing.expect("agent.session_end")
        closing.frames.clear()
    await closing.close()

    per_connection = 100
    for _ in range(count // 2 // per_connection):
        client = await Client.connect(server.url)
        for _ in range(per_connection):
            await client.send("user.create_session")
        for _ in range(per_connection):
            await client.expect("agent.session_created")
        client.frames.clear()
        client.ws.transport.abort()  # vanish; the sessions expire after the (tiny) grace period
    service = server.service
    await until(lambda: service.live_sessions == 0 and not service.tasks and not server.gateway.connections)


def fresh_agent() -> ToolCallAgent:
    """A factory that keeps nothing itself, so whatever stays alive is the server's doing."""
    return create_toolcall_agent(llm=ScriptedModel([]), name="short-lived")


async def test_sessions_closed_or_expired_leave_nothing_behind():
    # Not a rate-limit test: one client makes 1,000 sessions back to back.
    async with running_server(fresh_agent, grace_period=0.01, frames_per_second=1e6, frame_burst=10**6) as server:
        baseline = len(asyncio.all_tasks())
        await _batch(server, 1000)  # warm-up: caches, lazily created objects
        await until(lambda: len(asyncio.all_tasks()) <= baseline)
        assert server.service.live_sessions == 0 and not server.service.tasks

        gc.collect()
        tracemalloc.start()
        try:
            first = tracemalloc.get_traced_memory()[0]
            await _batch(server, 1000)
            await until(lambda: len(asyncio.all_tasks()) <= baseline)
            gc.collect()
            middle = tracemalloc.get_traced_memory()[0]
            await _batch(server, 1000)
            await until(lambda: len(asyncio.all_tasks()) <= baseline)
            gc.collect()
            last = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert server.service.live_sessions == 0
        assert not server.service.tasks
        assert not server.gateway.connections
        assert len(asyncio.all_tasks()) == baseline
        assert server.service.metrics.sessions_total == 3000
        growth_1, growth_2 = middle - first, last - middle
        # A leak of even a few hundred bytes per session would show as ~1 MB per batch.
        assert growth_2 < 200_000, f"memory grew by {growth_2} bytes over 1000 sessions (batch 1: {growth_1})"


# -- heartbeat ----------------------------------------------------------------------------------


async def test_heartbeats_arrive_without_seq():
    async with running_server(Agents(lambda: []), heartbeat_interval=0.1) as server:
        client = await Client.connect(server.url)
        assert client.frames[0]["metadata"]["heartbeat_interval"] == 0.1
        await client.create_session()
        beats = [await client.expect("system.heartbeat") for _ in range(3)]
        for beat in beats:
            assert "seq" not in beat and "event_id" not in beat
        # heartbeats never take sequence numbers from the session
        assert [f["seq"] for f in sequenced(client.frames)] == [1]
        await client.close()


# -- shutdown and HTTP endpoints ------------------------------------------------------------------


async def test_shutdown_mid_run_interrupts_then_closes_with_1001():
    factory = Agents(lambda: [ScriptedReply("a long answer " * 20, chunk_size=4, hold_after=2)])
    async with running_server(factory) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send("user.message", session_id=client.session_id, content="go")
        await asyncio.wait_for(factory.last.holding.wait(), WAIT)
        await server.shutdown()  # returns once the server has stopped
        assert server.service.live_sessions == 0 and not server.gateway.connections
        assert server.get_status()["running"] is False
        interrupted = await client.expect("agent.interrupted")
        assert interrupted["metadata"]["reason"]
        try:
            while True:
                await client.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1001, closed
        assert client.ws.close_code == 1001
        ended = [f for f in client.frames if f["event"] in ("agent.interrupted", "agent.session_end")]
        assert ended[0]["event"] == "agent.interrupted"


async def test_health_readiness_metrics_and_index_over_http():
    factory = Agents(lambda: ["hello world"])
    async with running_server(factory) as server:
        base = f"http://127.0.0.1:{server.port}"
        ws = await Client.connect(server.url)  # WebSocket at "/" ...
        await ws.create_session()
        await ws.ask("hi")
        other = await Client.connect(f"{server.url}/ws")  # ... and at "/ws"
        await other.send("user.reconnect", session_id=ws.session_id, resume_token=ws.resume_token, last_seq=0)
        await other.expect("agent.final_answer")
        async with httpx.AsyncClient(base_url=base, timeout=WAIT, trust_env=False) as http:
            index = await http.get("/", follow_redirects=True)  # ... while plain HTTP on "/" leads to the console
            assert index.status_code == 200
            assert index.headers["content-type"].startswith("text/html")
            assert index.url.path == "/ui/" and "<title>myagent" in index.text

            health = await http.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"

            ready = await http.get("/readyz")
            assert ready.status_code == 200
            status = ready.json()
            assert status["ready"] is True and status["sessions"] == 1 and status["connections"] == 2

            metrics = (await http.get("/metrics")).text
            values = _metric_values(metrics)
            for name in (
                "myagent_events_sent_total",
                "myagent_replays_total",
                "myagent_prompt_tokens_total",
                "myagent_outbound_queue_depth",
            ):
                assert name in values, name
            assert sum(v for k, v in values.items() if k.startswith("myagent_sessions{")) == 1  # by agent
            assert values["myagent_replays_total"] == 1
            assert values["myagent_events_sent_total"] > 0
            assert values["myagent_prompt_tokens_total"] > 0
        await ws.close()
        await other.close()


def _metric_values(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


async def test_readyz_is_503_while_shutting_down():
    async with (
        running_server(Agents(lambda: [])) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", trust_env=False) as http,
    ):
        assert (await http.get("/readyz")).status_code == 200
        server.service.shutting_down = True  # what shutdown sets first
        response = await http.get("/readyz")
        assert response.status_code == 503 and response.json()["ready"] is False
        server.service.shutting_down = False
