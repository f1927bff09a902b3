"""Errors about a request that names a session are ``agent.error`` frames of that session, without ``seq``.

A console written before resume tokens reconnects on a new socket and keeps sending its old session
id: it must get an error it shows, in that session, saying how to resume. Such an error ends no run;
connection-level errors stay ``system.error``. Runs in process on the real connection adapter.
"""

from __future__ import annotations

from typing import Any

from myagent import create_toolcall_agent
from myagent.llm.testing import ScriptedModel
from myagent.protocol.rules import closes_run, is_request_error
from tests.fakes.memory_socket import in_process_server
from tests.harness import Client, assert_request_error


def factory() -> Any:
    return lambda: create_toolcall_agent(llm=ScriptedModel(["first", "second", "third"]), name="errors")


async def test_an_old_session_id_on_a_new_socket_gets_an_agent_error_that_says_how_to_resume() -> None:
    async with in_process_server(factory()) as server:
        old = await Client.connect(server.url)
        await old.create_session()
        sid, token = str(old.session_id), str(old.resume_token)
        seen = (await old.ask("one"))[-1]["seq"]
        await old.close()

        fresh = await Client.connect(server.url)  # what a console written before resume tokens does
        await fresh.send("user.message", session_id=sid, content="two")
        error = await fresh.expect_error()
        assert_request_error(error, "SESSION_NOT_FOUND", "user.message")
        assert error["event"] == "agent.error" and error["session_id"] == sid and "seq" not in error
        assert "user.reconnect" in error["content"] and "resume token" in error["content"]
        assert not closes_run(error["event"], error.get("seq"))  # nothing was running, nothing ends

        await fresh.send("user.reconnect", session_id=sid, resume_token=token, last_seq=seen)
        await fresh.expect("system.notice")
        fresh.session_id = sid
        assert (await fresh.ask("two"))[-1]["content"] == "second"


async def test_a_closed_sessions_id_gets_an_agent_error_naming_both_ways_to_resume() -> None:
    async with in_process_server(factory()) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        sid = str(client.session_id)
        await client.send("user.close_session", session_id=sid)
        await client.expect("agent.session_end")
        await client.send("user.message", session_id=sid, content="still there?")
        error = await client.expect_error()
        assert_request_error(error, "SESSION_NOT_FOUND", "user.message")
        assert error["session_id"] == sid
        assert "user.reconnect" in error["content"] and "user.reconnect_with_state" in error["content"]


async def test_errors_not_about_a_named_session_stay_system_errors() -> None:
    async with in_process_server(factory()) as server:
        client = await Client.connect(server.url)
        await client.send_raw("not json")
        assert (await client.recv())["event"] == "system.error"
        await client.send("user.cancel")  # no session named, none attached
        error = await client.recv()
        assert_request_error(error, "MISSING_FIELD", "user.cancel")
        assert error["event"] == "system.error" and "session_id" not in error


async def test_a_request_error_during_a_run_does_not_end_the_run() -> None:
    async with in_process_server(factory()) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        await client.send("user.response", session_id=client.session_id, step_id="confirm_nope", content={})
        error = await client.expect_error()
        assert error["event"] == "agent.error" and is_request_error(error["event"], error.get("seq"))
        frames = await client.ask("one")  # collects up to the closing event: the request error was not one
        assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == "first"
