"""Security over real sockets: Origin allowlist, authentication, ownership, token rotation, limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

import jwt
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from myagent import create_toolcall_agent
from myagent.auth import JWTVerifier, StaticTokens
from myagent.llm import ScriptedModel
from myagent.protocol.errors import ErrorCodes
from tests.harness import WAIT, Client, running_server

TOKENS = StaticTokens({"token-alice": "alice", "token-bob": "bob"})
SECRET = "s" * 40


def agent() -> Any:
    return create_toolcall_agent(llm=ScriptedModel(["hello"] * 20), name="guarded")


def bearer(token: str) -> dict[str, Any]:
    return {"additional_headers": {"Authorization": f"Bearer {token}"}}


async def refused_status(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, **kwargs):
            pass
    return refused.value.response.status_code


async def closed_with(client: Client) -> int | None:
    """Read until the server closes; the close code."""
    with pytest.raises(ConnectionClosed):
        while True:
            await client.recv()
    return client.ws.close_code


def code_of(frame: dict[str, Any]) -> str:
    assert frame["event"] in ("system.error", "agent.error") and "seq" not in frame, frame
    return str(frame["metadata"]["error_code"])


# -- Origin ---------------------------------------------------------------------------------------


async def test_origins_of_other_sites_are_refused_before_the_upgrade() -> None:
    async with running_server(agent) as server:
        for origin in ("https://evil.example", "file://", "http://localhost.evil.example"):
            assert await refused_status(server.url, origin=origin) == 403, origin  # type: ignore[arg-type]
        for origin in ("null", "http://localhost:5173", "http://127.0.0.1:8080"):
            client = await Client.connect(server.url, origin=origin)  # the guide's page, a dev server
            await client.create_session()
            await client.close()
        client = await Client.connect(server.url)  # no Origin at all: not a browser
        await client.close()


async def test_a_configured_allowlist_replaces_the_default() -> None:
    async with running_server(agent, allowed_origins=("https://app.example",)) as server:
        client = await Client.connect(server.url, origin="https://app.example")  # type: ignore[arg-type]
        await client.close()
        assert await refused_status(server.url, origin="https://evil.example") == 403  # type: ignore[arg-type]


# -- authentication -------------------------------------------------------------------------------


async def test_without_authentication_configured_the_guide_clients_need_no_token() -> None:
    async with running_server(agent) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        assert (await client.ask("hi"))[-1]["content"] == "hello"
        await client.send("user.authenticate", content={"token": "anything"})
        assert code_of(await client.expect_error()) == ErrorCodes.NOT_SUPPORTED
        await client.close()


async def test_a_header_token_is_checked_before_the_upgrade() -> None:
    async with running_server(agent, authenticate=TOKENS) as server:
        assert await refused_status(server.url, **bearer("wrong")) == 401
        client = await Client.connect(server.url, **bearer("token-alice"))
        await client.create_session()
        assert (await client.ask("hi"))[-1]["content"] == "hello"
        await client.close()


async def test_browsers_authenticate_with_the_first_frame() -> None:
    async with running_server(agent, authenticate=TOKENS) as server:
        client = await Client.connect(server.url)
        await client.send("user.authenticate", content={"token": "token-bob"})
        notice = await client.expect("system.notice")
        assert notice["metadata"]["action"] == "authenticate" and notice["metadata"]["principal"] == "bob"
        await client.create_session()
        await client.close()

        early = await Client.connect(server.url)
        await early.send("user.create_session")  # anything before user.authenticate ends the connection
        assert await closed_with(early) == 4401

        wrong = await Client.connect(server.url)
        await wrong.send("user.authenticate", content={"token": "nope"})
        assert await closed_with(wrong) == 4401


async def test_a_connection_that_never_authenticates_is_closed() -> None:
    async with running_server(agent, authenticate=TOKENS, auth_timeout=0.2) as server:
        client = await Client.connect(server.url)
        assert await closed_with(client) == 4401


def token(claims: dict[str, Any]) -> str:
    return jwt.encode({"sub": "carol", "aud": "myagent", **claims}, SECRET, algorithm="HS256")


async def test_jwts_are_checked_for_expiry_and_audience_and_expire_during_the_connection() -> None:
    verifier = JWTVerifier(SECRET, audience="myagent")
    async with running_server(agent, authenticate=verifier) as server:
        assert await refused_status(server.url, **bearer(token({"exp": int(time.time()) - 60}))) == 401
        assert await refused_status(server.url, **bearer(token({"exp": time.time() + 600, "aud": "other"}))) == 401
        good = await Client.connect(server.url, **bearer(token({"exp": int(time.time()) + 600})))
        await good.create_session()
        await good.close()

        short = await Client.connect(server.url, **bearer(token({"exp": int(time.time()) + 2})))
        await short.create_session()
        assert await asyncio.wait_for(closed_with(short), WAIT) == 4401  # not refreshed in time


# -- ownership and tokens ----------------------------------------------------------------------------


async def test_another_principal_cannot_touch_a_session_even_with_its_id_token_or_state() -> None:
    async with running_server(agent, authenticate=TOKENS) as server:
        alice = await Client.connect(server.url, **bearer("token-alice"))
        await alice.create_session()
        await alice.ask("hi")
        await alice.send("user.request_state", session_id=alice.session_id)
        signed = (await alice.expect("agent.state_exported"))["metadata"]["signed_state"]

        bob = await Client.connect(server.url, **bearer("token-bob"))
        sid = alice.session_id
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("user.message", {"content": "mine now"}),
            ("user.response", {"step_id": "confirm_x", "content": {"confirmed": True}}),
            ("user.cancel", {}),
            ("user.ack", {"last_seq": 1}),
            ("user.request_state", {}),
            ("user.close_session", {}),
            ("user.cancel_task", {"content": {"task_id": 1}}),
            ("user.restart_task", {"content": {"task_id": 1}}),
            ("user.cancel_plan", {}),
            ("user.replan", {}),
            ("user.reconnect", {"resume_token": alice.resume_token}),
        ]
        for event, fields in attempts:
            await bob.send(event, session_id=sid, **fields)
            assert code_of(await bob.expect_error()) == ErrorCodes.SESSION_NOT_FOUND, event
        await bob.send("user.reconnect_with_state", signed_state=signed)
        assert code_of(await bob.expect_error()) == ErrorCodes.STATE_SIGNATURE_MISMATCH

        assert (await alice.ask("still mine"))[-1]["content"] == "hello"  # untouched
        await alice.close()
        await bob.close()


async def test_a_resume_token_works_once_and_each_reconnect_hands_out_the_next() -> None:
    async with running_server(agent) as server:
        first = await Client.connect(server.url)
        await first.create_session()
        sid, token = first.session_id, first.resume_token
        await first.close()

        second = await Client.connect(server.url)
        await second.send("user.reconnect", session_id=sid, resume_token=token)
        notice = await second.expect("system.notice")
        following = notice["metadata"]["resume_token"]
        assert following and following != token
        await second.close()

        third = await Client.connect(server.url)
        await third.send("user.reconnect", session_id=sid, resume_token=token)  # spent
        assert code_of(await third.expect_error()) == ErrorCodes.INVALID_RESUME_TOKEN
        await third.send("user.reconnect", session_id=sid, resume_token=following)
        assert (await third.expect("system.notice"))["metadata"]["action"] == "reconnect"
        await third.close()


async def test_a_connection_lost_after_a_resume_leaves_the_token_used_working_until_the_new_one_is() -> None:
    """The new token may never reach the client (its connection died): the one it holds still resumes."""
    async with running_server(agent) as server:
        first = await Client.connect(server.url)
        await first.create_session()
        sid, token = first.session_id, first.resume_token
        await first.close()

        second = await Client.connect(server.url)
        await second.send("user.reconnect", session_id=sid, resume_token=token)
        assert (await second.expect("system.notice"))["metadata"]["resume_token"] != token
        second.ws.transport.abort()  # gone without a frame or a closing handshake
        await second.ws.wait_closed()

        third = await Client.connect(server.url)
        await third.send("user.reconnect", session_id=sid, resume_token=token)
        assert (await third.expect("system.notice"))["metadata"]["action"] == "reconnect"
        await third.close()  # a clean close: it got its new token, the old one is spent now

        fourth = await Client.connect(server.url)
        await fourth.send("user.reconnect", session_id=sid, resume_token=token)
        assert code_of(await fourth.expect_error()) == ErrorCodes.INVALID_RESUME_TOKEN
        await fourth.close()


# -- limits -------------------------------------------------------------------------------------------


async def test_sessions_and_connections_are_capped_per_client() -> None:
    async with running_server(agent, max_sessions_per_client=2, max_connections_per_client=2) as server:
        a, b = await Client.connect(server.url), await Client.connect(server.url)
        assert await refused_status(server.url) == 429
        await a.create_session()
        await b.create_session()
        await b.send("user.create_session")
        error = await b.expect_error()
        assert code_of(error) == ErrorCodes.SESSION_LIMIT  # counted across connections
        await a.send("user.close_session", session_id=a.session_id)
        await a.expect("agent.session_end")
        await b.create_session()  # room again
        await a.close()
        await b.close()


async def test_a_client_sending_too_fast_gets_rate_limited_and_keeps_its_connection() -> None:
    async with running_server(agent, frames_per_second=0.5, frame_burst=3) as server:
        client = await Client.connect(server.url)
        for _ in range(4):
            await client.send("user.cancel", session_id="x")
        codes = [code_of(await client.expect_error()) for _ in range(4)]
        assert codes[:3] == [ErrorCodes.SESSION_NOT_FOUND] * 3
        assert codes[3] == ErrorCodes.RATE_LIMITED
        assert client.frames[-1]["metadata"]["details"]["retry_after"] > 0
        await client.close()


async def test_guessing_resume_tokens_is_slowed_down() -> None:
    async with running_server(agent, failed_attempts_free=2) as server:
        owner = await Client.connect(server.url)
        await owner.create_session()
        guesser = await Client.connect(server.url)
        codes = []
        for attempt in range(5):
            await guesser.send("user.reconnect", session_id=owner.session_id, resume_token=f"guess-{attempt}")
            codes.append(code_of(await guesser.expect_error()))
        assert codes[:3] == [ErrorCodes.INVALID_RESUME_TOKEN] * 3
        assert codes[3:] == [ErrorCodes.RATE_LIMITED] * 2
        await guesser.send("user.reconnect", session_id=owner.session_id, resume_token=owner.resume_token)
        assert code_of(await guesser.expect_error()) == ErrorCodes.RATE_LIMITED  # even the right one, now
        await owner.close()
        await guesser.close()


async def test_a_client_that_never_reads_is_cut_off_within_the_byte_budget() -> None:
    budget = 64 * 1024
    options = {"outbound_buffer_bytes": budget, "outbound_queue_frames": 10**6, "frames_per_second": 1e6}
    async with running_server(agent, frame_burst=10**6, **options) as server:
        sock = socket.socket()  # a small receive window: the kernel holds little for the client
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader = await websockets.connect(server.url, sock=sock, max_queue=1, max_size=None)
        odd_id = "x" * 1000  # an error about it echoes a short prefix only
        peak = 0
        with contextlib.suppress(ConnectionClosed):
            for _ in range(40_000):  # far more answers than the socket buffers hold
                await reader.send(f'{{"event":"user.cancel","session_id":"{odd_id}"}}')
                peak = max([peak, *(c.outbound.queued_bytes for c in server.gateway.connections)])
                if server.service.metrics.slow_consumer_disconnects_total:
                    break
        assert server.service.metrics.slow_consumer_disconnects_total == 1
        assert peak <= budget + 4096  # at most one frame past the budget
        reader.transport.abort()


async def test_an_agent_factory_may_take_the_session_and_its_principal() -> None:
    made: list[Any] = []

    def per_user(context: Any) -> Any:
        made.append(context)
        return create_toolcall_agent(llm=ScriptedModel([f"hello {context.principal.id}"]), name="per-user")

    async with running_server(per_user, authenticate=TOKENS) as server:
        client = await Client.connect(server.url, **bearer("token-alice"))
        created = await client.create_session()
        assert (await client.ask("hi"))[-1]["content"] == "hello alice"
        assert made[-1].session_id == created["session_id"]
        await client.close()


async def test_invalid_utf8_closes_1007_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async with running_server(agent) as server:
        with caplog.at_level(logging.INFO):
            client = await Client.connect(server.url)
            await client.ws.send(b'{"event":"user.message","content":"\xff\xfe"}', text=True)
            assert await closed_with(client) == 1007
            other = await Client.connect(server.url)  # the server carries on
            await other.create_session()
            await other.close()
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.records
