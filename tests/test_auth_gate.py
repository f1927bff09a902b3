"""The handshake gate in front of a real uvicorn server on a free loopback port, with a real client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
import uvicorn
import websockets
from websockets.exceptions import InvalidStatus

from myagent.auth import JWTVerifier, OriginPolicy
from myagent.auth.gate import SCOPE_KEY, GateResult, HandshakeGate

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"
WAIT = 15.0


HANDLER_DONE = "handler_done"


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Accepts, reports what the gate decided, then waits until the client closes."""
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"http ok"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    result: GateResult = scope[SCOPE_KEY]
    principal = result.principal.id if result.principal else None
    report = {"principal": principal, "pending": result.awaiting_first_frame, "key": result.limit_key}
    await send({"type": "websocket.send", "text": json.dumps(report)})
    try:
        while (await receive())["type"] != "websocket.disconnect":
            pass
    finally:
        scope["state"][HANDLER_DONE].set()


class Gated:
    def __init__(self, url: str, handler_done: asyncio.Event) -> None:
        self.url = url
        self.handler_done = handler_done


@contextlib.asynccontextmanager
async def gated_server(**gate: Any) -> AsyncIterator[Gated]:
    done = asyncio.Event()
    gated = HandshakeGate(echo_app, **gate)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})[HANDLER_DONE] = done  # lets a test await the handler's end
        await gated(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections queue in the kernel until uvicorn accepts them: no need to poll for start
    config = uvicorn.Config(app, ws="websockets-sansio", log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield Gated(f"ws://127.0.0.1:{sock.getsockname()[1]}/ws", done)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT)


async def first_report(url: str, **kwargs: Any) -> dict[str, Any]:
    async with websockets.connect(url, **kwargs) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), WAIT))  # type: ignore[no-any-return]


async def refusal_status(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as info:
        await websockets.connect(url, **kwargs)
    return info.value.response.status_code


def token(**claims: Any) -> str:
    return jwt.encode({"sub": "alice", "aud": "myagent", "exp": int(time.time()) + 600, **claims}, SECRET)


async def test_a_hostile_origin_gets_403_before_the_upgrade_and_local_pages_get_in() -> None:
    async with gated_server(origins=OriginPolicy()) as server:
        url = server.url
        assert await refusal_status(url, origin="https://evil.example") == 403
        assert await refusal_status(url, additional_headers={"Origin": "file://"}) == 403
        assert (await first_report(url, origin="http://localhost:5173"))["principal"] is None
        assert (await first_report(url, additional_headers={"Origin": "null"}))["pending"] is False
        assert (await first_report(url))["key"].startswith('[null,"anonymous@127.0.0.1"')  # no Origin: not a browser


async def test_jwt_in_the_header_valid_wrong_expired_missing() -> None:
    async with gated_server(authenticator=JWTVerifier.hs256(SECRET, audience="myagent")) as server:
        url = server.url
        good = await first_report(url, additional_headers={"Authorization": f"Bearer {token()}"})
        assert good == {"principal": "alice", "pending": False, "key": '[null,"alice"]'}
        assert await refusal_status(url, additional_headers={"Authorization": f"Bearer {token(aud='x')}"}) == 401
        expired = token(exp=int(time.time()) - 100)
        assert await refusal_status(url, additional_headers={"Authorization": f"Bearer {expired}"}) == 401
        assert await refusal_status(url, additional_headers={"Authorization": "Bearer junk"}) == 401
        # No header (a browser): admitted, and the application must ask for user.authenticate.
        assert await first_report(url) == {"principal": None, "pending": True, "key": '[null,"anonymous@127.0.0.1"]'}
        # A token in the query string is ignored, not used.
        assert (await first_report(f"{url}?token={token()}"))["pending"] is True


async def test_connections_per_principal_are_capped_and_freed_on_close() -> None:
    async with gated_server(max_connections_per_principal=2) as server:
        first = await websockets.connect(server.url)
        second = await websockets.connect(server.url)
        assert await refusal_status(server.url) == 429
        await first.close()
        await asyncio.wait_for(server.handler_done.wait(), WAIT)  # the gate frees the place right after
        third = await websockets.connect(server.url)
        await third.close()
        await second.close()


async def test_plain_http_passes_through() -> None:
    async with gated_server(origins=OriginPolicy(["https://only.example"])) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(server.url.rsplit(":", 1)[1].split("/")[0]))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n")
        response = await asyncio.wait_for(reader.read(), WAIT)
        writer.close()
        assert response.startswith(b"HTTP/1.1 200") and b"http ok" in response


async def test_refusals_leave_no_error_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with gated_server(origins=OriginPolicy(), authenticator=JWTVerifier.hs256(SECRET)) as server:
        for _ in range(3):
            assert await refusal_status(server.url, origin="https://evil.example") == 403
            assert await refusal_status(server.url, additional_headers={"Authorization": "Bearer junk"}) == 401
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sum("refused WebSocket handshake" in r.getMessage() for r in caplog.records) == 6
