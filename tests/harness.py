"""Shared helpers for server tests: a real server on a free loopback port and a recording client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import websockets

from myagent.protocol.rules import closes_run, is_request_error
from myagent.ws.event_log import InMemoryEventLog, SessionLog
from myagent.ws.server import AgentWebSocketServer
from myagent.ws.service import Attachment
from myagent.ws.session import Session
from tests.fakes.memory_socket import InProcessServer
from tests.frame_schema import check_frame

WAIT = 15.0  # generous upper bound for a frame to arrive; never an assertion about speed


@contextlib.asynccontextmanager
async def running_server(factory: Callable[[], Any], **options: Any) -> AsyncIterator[AgentWebSocketServer]:
    """An ``AgentWebSocketServer`` on 127.0.0.1 with a free port, shut down afterwards."""
    options.setdefault("heartbeat_interval", 0)
    server = AgentWebSocketServer(factory, host="127.0.0.1", port=0, state_secret_key="test-secret", **options)
    task = asyncio.create_task(server.start_server(log_level="warning"))
    await asyncio.wait_for(server.wait_started(), WAIT)
    try:
        yield server
    finally:
        await server.shutdown()
        await asyncio.wait_for(task, WAIT)


class Client:
    """A WebSocket client that keeps every frame it receives, in order."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.session_id: str | None = None
        self.resume_token: str | None = None

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> Client:
        """Connect over a real socket, or in-process to a ``memory://`` server (:func:`in_process_server`)."""
        if url.startswith("memory://"):
            client = cls(InProcessServer.registry[url].connect())  # type: ignore[arg-type]
        else:
            client = cls(await websockets.connect(url, **kwargs))
        connected = await client.expect("system.connected")
        assert connected["metadata"]["connection_id"]
        return client

    async def send(self, event: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"event": event, **fields}, ensure_ascii=False))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), WAIT))
        self.frames.append(frame)
        check_frame(frame)  # every frame the suite receives matches the catalog
        return frame

    async def expect(self, *events: str) -> dict[str, Any]:
        """Receive until a frame with one of ``events`` arrives; return it."""
        while True:
            frame = await self.recv()
            if frame["event"] in events:
                return frame

    async def expect_error(self) -> dict[str, Any]:
        """Receive until an error about a request arrives (``system.error``, or ``agent.error`` without ``seq``)."""
        while True:
            frame = await self.recv()
            if is_request_error(frame["event"], frame.get("seq")):
                return frame

    async def collect_until_closed(self) -> list[dict[str, Any]]:
        """Every frame up to and including the run's closing event (a request error closes nothing)."""
        collected = []
        while True:
            frame = await self.recv()
            collected.append(frame)
            if closes_run(frame["event"], frame.get("seq")):
                return collected

    async def collect_until(self, *events: str) -> list[dict[str, Any]]:
        """Every frame up to and including the first with one of ``events``."""
        collected = []
        while True:
            frame = await self.recv()
            collected.append(frame)
            if frame["event"] in events:
                return collected

    async def create_session(self) -> dict[str, Any]:
        await self.send("user.create_session", content="create_session")
        created = await self.expect("agent.session_created")
        self.session_id = created["session_id"]
        self.resume_token = created["metadata"]["resume_token"]
        return created

    async def ask(self, text: str, session_id: str | None = None) -> list[dict[str, Any]]:
        """Send a message and return the frames up to the run's closing event."""
        await self.send("user.message", session_id=session_id or self.session_id, content=text)
        return await self.collect_until_closed()

    async def close(self) -> None:
        await self.ws.close()


def assert_request_error(frame: dict[str, Any], code: str, request_event: str | None = None) -> None:
    """An unsequenced error about a rejected frame: ``agent.error`` if it names a session, else ``system.error``."""
    assert is_request_error(frame["event"], frame.get("seq")), frame
    assert "seq" not in frame and "event_id" not in frame, frame
    assert frame["metadata"]["error_code"] == code, frame
    assert isinstance(frame["content"], str) and frame["content"], frame
    if request_event is not None:
        assert frame["metadata"]["request_event"] == request_event, frame
    expected = "agent.error" if frame.get("session_id") and frame["metadata"].get("request_event") else "system.error"
    assert frame["event"] == expected, frame


def events_of(frames: list[dict[str, Any]]) -> list[str]:
    return [frame["event"] for frame in frames]


def answer_text(frames: list[dict[str, Any]]) -> str:
    return "".join(f["content"] for f in frames if f["event"] == "agent.partial_answer")


class SessionView:
    """What a test may read of a session inside a server: its event log, attachment and live agent."""

    def __init__(self, server: AgentWebSocketServer, session_id: str) -> None:
        self.server = server
        self.id = session_id

    @property
    def live(self) -> Session | None:
        return self.server.service.host.get(self.id)

    @property
    def log(self) -> SessionLog:
        events = self.server.service.events
        assert isinstance(events, InMemoryEventLog)
        return events.log(self.id)

    @property
    def sink(self) -> Attachment | None:
        """The connection the session is attached to, if any."""
        return self.server.service.attachments.get(self.id)

    @property
    def closed(self) -> bool:
        live = self.live
        return live is None or live.closed

    @property
    def expiry(self) -> float | None:
        """The deadline of a detached session (``None`` while attached)."""
        return self.server.service.sweeper.deadline(self.id)

    @property
    def busy(self) -> bool:
        live = self.live
        return live is not None and live.busy

    @property
    def agent(self) -> Any:
        live = self.live
        assert live is not None, f"session {self.id} is not live"
        return live.agent

    @property
    def confirmations(self) -> Any:
        live = self.live
        assert live is not None, f"session {self.id} is not live"
        return live.confirmations

    @property
    def run_task(self) -> asyncio.Task[None] | None:
        live = self.live
        return None if live is None else live.run_task


def find_session(server: AgentWebSocketServer, session_id: str | None) -> SessionView | None:
    """The session if the server still runs it."""
    if session_id is None or server.service.host.get(session_id) is None:
        return None
    return SessionView(server, session_id)
