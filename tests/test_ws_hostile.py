"""Hostile frames against a real server: each is answered with a documented code and the connection goes on.

Regression tests for issue 12, items 1, 2, 3 (echoes) and 8, over real sockets on loopback.
"""

from __future__ import annotations

import json
from typing import Any

from myagent import create_toolcall_agent
from myagent.llm.testing import ScriptedModel
from tests.harness import Client, assert_request_error, running_server


def factory(model: ScriptedModel) -> Any:
    return lambda: create_toolcall_agent(tools=[], llm=model, name="hostile_test")


def assert_error(frame: dict[str, Any], code: str, field: str | None = None) -> None:
    assert_request_error(frame, code)
    if field is not None:
        assert frame["metadata"]["details"]["field"] == field, frame


async def test_a_lone_surrogate_session_id_is_answered_and_the_connection_keeps_working() -> None:
    async with running_server(factory(ScriptedModel(["still here"]))) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send_raw('{"event":"user.cancel","session_id":"\\ud800"}')
        error = await client.recv()
        assert_error(error, "INVALID_FIELD", "session_id")
        assert error["metadata"]["request_event"] == "user.cancel"
        frames = await client.ask("hello")
        assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == "still here"


async def test_a_lone_surrogate_in_message_text_never_reaches_the_session() -> None:
    model = ScriptedModel(["first", "second"])
    async with running_server(factory(model)) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid = client.session_id
        await client.send_raw(json.dumps({"event": "user.message", "session_id": sid, "content": "a\ud800b"}))
        assert_error(await client.recv(), "INVALID_FIELD", "content")
        await client.send_raw(
            json.dumps({"event": "user.message", "session_id": sid, "content": {"question": "q", "x": {"\udc00": 1}}})
        )
        assert_error(await client.recv(), "INVALID_FIELD", "content.x")
        assert (await client.ask("one"))[-1]["content"] == "first"
        assert (await client.ask("two"))[-1]["content"] == "second"
        await client.send("user.request_state", session_id=sid)
        exported = await client.expect("agent.state_exported", "system.error")
        assert exported["event"] == "agent.state_exported"
        assert exported["metadata"]["message_count"] == 4
    assert all(m.content != "a\ud800b" for request in model.requests for m in request.messages)


async def test_error_frames_do_not_echo_a_huge_session_id_or_event() -> None:
    async with running_server(factory(ScriptedModel([]))) as server:
        client = await Client.connect(server.url)
        await client.send("user.cancel", session_id="s" * 1_000_000)
        raw = await client.ws.recv()
        assert len(raw) < 2000
        assert_error(json.loads(raw), "INVALID_FIELD", "session_id")
        await client.send("x" * 1_000_000)
        raw = await client.ws.recv()
        assert len(raw) < 2000
        assert_error(json.loads(raw), "UNKNOWN_EVENT")


async def test_encrypted_flag_on_a_genuine_state_is_unreadable_not_an_internal_error() -> None:
    async with running_server(factory(ScriptedModel(["ok"]))) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.ask("remember this")
        await client.send("user.request_state", session_id=client.session_id)
        signed = (await client.expect("agent.state_exported"))["metadata"]["signed_state"]
        await client.send("user.reconnect_with_state", signed_state={**signed, "encrypted": True})
        assert_error(await client.recv(), "STATE_UNREADABLE")


async def test_a_nan_timestamp_is_refused_and_the_connection_goes_on() -> None:
    async with running_server(factory(ScriptedModel(["ok"]))) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send("user.request_state", session_id=client.session_id)
        signed = (await client.expect("agent.state_exported"))["metadata"]["signed_state"]
        text = json.dumps({"event": "user.reconnect_with_state", "signed_state": {**signed, "timestamp": float("nan")}})
        await client.send_raw(text)
        assert_error(await client.recv(), "INVALID_JSON")
        assert (await client.ask("hi"))[-1]["content"] == "ok"
