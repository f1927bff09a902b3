"""A WebSocket without a socket: the server's :class:`~myagent.ws.connection.Connection` runs unchanged on it.

Like Starlette's TestClient, it lets protocol tests drive the real connection adapter, commands and
service in-process. The server side offers what Connection uses of a Starlette WebSocket (accept,
receive, send_text, close); the client side what the tests use of a ``websockets`` connection
(send, recv, close).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.websockets import WebSocketDisconnect

from myagent.ws.app import Gateway, build_service
from myagent.ws.options import ServerOptions


@dataclass(frozen=True)
class Closed:
    code: int
    reason: str


class ConnectionClosedInProcess(Exception):
    """The server closed the in-process connection (``code``/``reason`` as a WebSocket close frame)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


class ServerSide:
    #: What Connection reads of the handshake: a local client with no headers.
    scope: ClassVar[dict[str, Any]] = {"type": "websocket", "headers": [], "client": ("127.0.0.1", 50000), "path": "/"}

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[str | Closed] = asyncio.Queue()
        self.client_gone = False

    async def accept(self) -> None:
        return None

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, data: str) -> None:
        if self.client_gone:
            raise WebSocketDisconnect(1006)
        self.outbox.put_nowait(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.outbox.put_nowait(Closed(code, reason))


class ClientSide:
    """The test's end: ``send``, ``recv`` and ``close`` as on a ``websockets`` client connection."""

    def __init__(self, server: ServerSide) -> None:
        self._server = server
        self.close_code: int | None = None

    async def send(self, data: str | bytes) -> None:
        message = (
            {"type": "websocket.receive", "bytes": data}
            if isinstance(data, bytes)
            else {"type": "websocket.receive", "text": data}
        )
        self._server.inbox.put_nowait(message)

    async def recv(self) -> str:
        item = await self._server.outbox.get()
        if isinstance(item, Closed):
            self.close_code = item.code
            raise ConnectionClosedInProcess(item.code, item.reason)
        return item

    async def close(self) -> None:
        self._server.client_gone = True
        self._server.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})


class InProcessServer:
    """A gateway and its service, with connections made by :meth:`connect` (``url`` names it for ``Client``)."""

    _ids = itertools.count(1)
    registry: ClassVar[dict[str, InProcessServer]] = {}

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.service = gateway.service
        self.url = f"memory://server-{next(self._ids)}"
        self._tasks: set[asyncio.Task[None]] = set()

    def connect(self) -> ClientSide:
        server_side = ServerSide()
        task = asyncio.create_task(self.gateway.serve(server_side))  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return ClientSide(server_side)

    async def stop(self) -> None:
        await self.gateway.shutdown()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)


@asynccontextmanager
async def in_process_server(factory: Callable[[], Any], **options: Any) -> AsyncIterator[InProcessServer]:
    """The server's whole protocol stack on in-memory connections (no uvicorn, no socket)."""
    options.setdefault("heartbeat_interval", 0)
    service = build_service(factory, ServerOptions.from_kwargs(options), state_secret_key="test-secret")
    await service.start()
    server = InProcessServer(Gateway(service))
    InProcessServer.registry[server.url] = server
    try:
        yield server
    finally:
        InProcessServer.registry.pop(server.url, None)
        await server.stop()
