"""Client-held signed session state over real sockets (docs/state.md).

A conversation is exported from one server and restored on another server instance (same key),
where the next ``user.message`` must reach the model with the whole earlier conversation; a live,
detached original is re-attached instead; refused states get their own error code while every
other session on the server goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import pytest

from myagent import create_toolcall_agent
from myagent.agent import ToolCallAgent
from myagent.llm.base import Message
from myagent.llm.testing import Script, ScriptedModel, call
from myagent.protocol.errors import ErrorCodes
from myagent.tool import BaseTool, ToolResult
from myagent.ws.server import AgentWebSocketServer
from myagent.ws.state_manager import StateManager, canonical_json
from tests.harness import WAIT, Client, SessionView, find_session

KEY = "test-secret"  # the key tests.harness.running_server uses
CLOSING = ("agent.final_answer", "agent.error", "agent.interrupted")


# -- tools, agents, servers ---------------------------------------------------------------------


class Lookup(BaseTool):
    name = "lookup"
    description = "Look up the weather of a city"

    async def execute(self, city: str) -> ToolResult:
        return ToolResult(output=f"weather in {city}: sunny")


class DeleteFile(BaseTool):
    name = "delete_file"
    description = "Delete a file (asks the user first)"
    user_confirm = True

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def execute(self, path: str) -> ToolResult:
        self.deleted.append(path)
        return ToolResult(output=f"deleted {path}")


class Login(BaseTool):
    """Echoes credentials back the way careless tools do."""

    name = "login"
    description = "Log in to a service"

    async def execute(self, service: str, api_key: str, auth: dict[str, str] | None = None) -> ToolResult:
        return ToolResult(
            output=(
                f"logged in to {service} with key {api_key}; session token=tok_9f8e7d6c5b4a, "
                'raw reply {"access_token": "at-123456789", "refresh_token": "rt-987654321", '
                '"password": "pa\\"ss-after-quote"}\n'
                "Authorization: Bearer abcdefghijklmnop.qrstuvwx\n"
                "Proxy-Authorization: Basic dXNlcjpwcm94eXBhc3M=\n"
                "Cookie: theme=dark; sessionid=cookie-value-42\n"
                "X-Api-Key: xak-55aa66bb"
            )
        )


class Fetch(BaseTool):
    """A slow download: on the exporting server it waits until the test lets it finish."""

    name = "fetch"
    description = "Download a URL"

    def __init__(self, *, blocking: bool) -> None:
        self.started = asyncio.Event()
        self.proceed = asyncio.Event()
        if not blocking:
            self.proceed.set()
        self.fetched: list[str] = []

    async def execute(self, url: str) -> ToolResult:
        self.started.set()
        await self.proceed.wait()
        self.fetched.append(url)
        return ToolResult(output=f"{url}: 42 bytes")


class Agents:
    """An agent factory: each new agent gets the next script and fresh tools; models are kept."""

    def __init__(self, scripts: Iterable[Sequence[Script]], *tools: Callable[[], BaseTool]) -> None:
        self.scripts = [list(script) for script in scripts]
        self.tool_types = tools
        self.models: list[ScriptedModel] = []
        self.tools: list[list[BaseTool]] = []

    def __call__(self) -> ToolCallAgent:
        script = self.scripts.pop(0) if self.scripts else []
        model = ScriptedModel(script)
        tools = [make() for make in self.tool_types]
        self.models.append(model)
        self.tools.append(tools)
        return create_toolcall_agent(llm=model, tools=tools, name="state_agent")

    @property
    def last(self) -> ScriptedModel:
        return self.models[-1]


@contextlib.asynccontextmanager
async def serve(factory: Callable[[], Any], *, key: str = KEY, **options: Any) -> AsyncIterator[AgentWebSocketServer]:
    """Like ``tests.harness.running_server``, with a choice of state key (the harness fixes ``test-secret``)."""
    options.setdefault("heartbeat_interval", 0)
    server = AgentWebSocketServer(factory, host="127.0.0.1", port=0, state_secret_key=key, **options)
    task = asyncio.create_task(server.start_server(log_level="warning"))
    await asyncio.wait_for(server.wait_started(), WAIT)
    try:
        yield server
    finally:
        await server.shutdown()
        await asyncio.wait_for(task, WAIT)


async def connect_with_session(url: str) -> Client:
    client = await Client.connect(url)
    await client.create_session()
    return client


async def respond(client: Client, step_id: str, confirmed: bool, message: str | None = None) -> None:
    content: dict[str, Any] = {"confirmed": confirmed}
    if message is not None:
        content["message"] = message
    await client.send("user.response", session_id=client.session_id, step_id=step_id, content=content)


async def export_state(client: Client, session_id: str | None = None) -> dict[str, Any]:
    """``user.request_state`` → the ``agent.state_exported`` frame."""
    await client.send("user.request_state", session_id=session_id or client.session_id)
    frame = await client.expect("agent.state_exported", "system.error")
    assert frame["event"] == "agent.state_exported", frame
    return frame


async def restore(client: Client, signed: Any, *, where: str = "top", **position: Any) -> dict[str, Any]:
    """``user.reconnect_with_state`` → the ``agent.state_restored`` (or ``system.error``) frame."""
    if where == "top":
        await client.send("user.reconnect_with_state", signed_state=signed, **position)
    else:
        await client.send("user.reconnect_with_state", content={"signed_state": signed, **position})
    return await client.expect("agent.state_restored", "system.error")


async def restored_session(client: Client, signed: Any, **kwargs: Any) -> dict[str, Any]:
    frame = await restore(client, signed, **kwargs)
    assert frame["event"] == "agent.state_restored", frame
    client.session_id = frame["session_id"]
    client.resume_token = frame["metadata"]["resume_token"]
    return frame


def assert_refused(frame: dict[str, Any], code: str) -> None:
    assert frame["event"] == "system.error", frame
    assert frame["metadata"]["error_code"] == code, frame
    assert frame["metadata"].get("request_event") == "user.reconnect_with_state", frame
    assert "seq" not in frame


def session_of(server: AgentWebSocketServer, session_id: str | None) -> SessionView:
    assert session_id is not None
    session = find_session(server, session_id)
    assert session is not None, f"session {session_id} is gone"
    return session


def conversation(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The messages without the system prompt (the restoring agent supplies its own)."""
    return [m.to_dict() for m in messages if m.role != "system"]


def assert_valid_history(messages: Sequence[Message]) -> None:
    """Every assistant tool call is answered by exactly one tool message, right after it."""
    index = 0
    while index < len(messages):
        message = messages[index]
        assert message.role != "tool", f"tool message without a call at {index}: {messages}"
        index += 1
        if message.role == "assistant" and message.tool_calls:
            answers = messages[index : index + len(message.tool_calls)]
            assert [m.role for m in answers] == ["tool"] * len(message.tool_calls), messages
            assert sorted(str(m.tool_call_id) for m in answers) == sorted(c.id for c in message.tool_calls)
            index += len(message.tool_calls)


async def disconnect(server: AgentWebSocketServer, client: Client) -> None:
    """Close ``client`` and wait until the server has let go of its sessions.

    The server detaches a connection's sessions when its serving task ends; that task is awaited
    (bounded) instead of polling, so the next step never races the detachment.
    """
    (connection,) = [c for c in server.gateway.connections if client.session_id in c.sessions]
    serving = connection._reader
    assert isinstance(serving, asyncio.Task)
    await client.close()
    done, _ = await asyncio.wait({serving}, timeout=WAIT)
    assert done, "the server did not finish the closed connection"
    assert session_of(server, client.session_id).sink is None


def resign(signed: dict[str, Any], key: str = KEY, **changes: Any) -> dict[str, Any]:
    """A copy of ``signed`` with ``changes`` applied, checksum and signature made valid again for ``key``."""
    envelope = copy.deepcopy(signed)
    envelope.update(changes)
    envelope["checksum"] = hashlib.sha256(canonical_json(envelope["state"])).hexdigest()
    envelope["signature"] = StateManager._signature(envelope, key.encode())
    return envelope


# -- a conversation worth restoring -----------------------------------------------------------------

FIRST_QUESTION = "What is the weather in Paris and Rome?"
FIRST_ANSWER = "Paris and Rome are both sunny."
SECOND_QUESTION = "Delete report.txt"
REFUSAL_NOTE = "keep it, I still need it"
SECOND_ANSWER = "Understood, report.txt stays."
FOLLOW_UP = "What did I ask you first?"
FOLLOW_UP_ANSWER = "You asked about the weather in Paris and Rome."


def original_script() -> list[Script]:
    return [
        [call("lookup", {"city": "Paris"}, id="call_paris"), call("lookup", {"city": "Rome"}, id="call_rome")],
        FIRST_ANSWER,
        call("delete_file", {"path": "report.txt"}, id="call_delete"),
        SECOND_ANSWER,
    ]


async def have_conversation(client: Client) -> None:
    """Two turns: two lookups in one step, then a confirmation the user refuses with a note."""
    frames = await client.ask(FIRST_QUESTION)
    assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == FIRST_ANSWER, frames
    assert [f["step_id"] for f in frames if f["event"] == "agent.tool_call"] == ["call_paris", "call_rome"]
    await client.send("user.message", session_id=client.session_id, content=SECOND_QUESTION)
    confirm = await client.expect("agent.user_confirm")
    assert confirm["metadata"]["call_id"] == "call_delete"
    await respond(client, confirm["step_id"], False, REFUSAL_NOTE)
    frames = await client.collect_until_closed()
    result = next(f for f in frames if f["event"] == "agent.tool_result")
    assert result["metadata"]["status"] == "refused" and REFUSAL_NOTE in result["content"]
    assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == SECOND_ANSWER, frames


# -- round trip across server instances -----------------------------------------------------------


@pytest.mark.parametrize("where", ["top", "content"])
async def test_state_restored_on_a_new_server_reaches_the_model_in_full(where: str) -> None:
    agents_a = Agents([original_script()], Lookup, DeleteFile)
    async with serve(agents_a) as server_a:
        client = await connect_with_session(server_a.url)
        original_id = client.session_id
        await have_conversation(client)
        exported = await export_state(client)
        history = conversation(session_of(server_a, original_id).agent.memory)
        step = session_of(server_a, original_id).agent.current_step
        await client.close()
    agents_a.last.assert_finished()
    assert agents_a.tools[0][1].deleted == []  # type: ignore[attr-defined]

    meta = exported["metadata"]
    signed = meta["signed_state"]
    assert exported["session_id"] == original_id
    assert set(signed) >= {"state", "timestamp", "signature", "version", "checksum"}
    assert meta["message_count"] == len(history) == 9  # user, call×2, result×2, answer; user, call, refusal...
    assert meta["current_step"] == step == 2
    assert meta["state_size"] == len(canonical_json(signed))
    state = signed["state"]
    assert state["session_id"] == original_id and state["agent_state"] == "idle"
    assert state["messages"] == history and state["pending_confirmations"] == []

    # A new server instance with the same key and a fresh model that knows nothing yet.
    agents_b = Agents([[FOLLOW_UP_ANSWER]], Lookup, DeleteFile)
    async with serve(agents_b) as server_b:
        client = await Client.connect(server_b.url)
        restored = await restored_session(client, json.loads(json.dumps(signed)), where=where)
        assert restored["session_id"] != original_id
        rmeta = restored["metadata"]
        assert rmeta["original_session_id"] == original_id
        assert rmeta["restored_step"] == 2
        assert rmeta["message_count"] == 9
        assert rmeta["resume_token"] and rmeta["reattached"] is False
        assert rmeta["pending_calls"] == 0 and rmeta["warnings"] == []
        assert "seq" in restored

        frames = await client.ask(FOLLOW_UP)
        assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == FOLLOW_UP_ANSWER, frames
        assert all(f.get("session_id") in (None, client.session_id) for f in frames)
        restored_memory = session_of(server_b, client.session_id).agent.memory
        await client.close()

    model = agents_b.last
    model.assert_finished()
    sent = model.requests[0].messages
    assert sent[0].role == "system"  # the restoring server's own system prompt
    assert conversation(sent) == [*history, {"role": "user", "content": FOLLOW_UP}]
    # Spelled out: the model sees every earlier part of the conversation, in order.
    assert [m.role for m in sent[1:]] == [
        *("user", "assistant", "tool", "tool", "assistant"),
        *("user", "assistant", "tool", "assistant"),
        "user",
    ]
    assert sent[1].content == FIRST_QUESTION
    assert [c.id for c in sent[2].tool_calls] == ["call_paris", "call_rome"]
    assert [m.content for m in sent[3:5]] == ["weather in Paris: sunny", "weather in Rome: sunny"]
    assert sent[5].content == FIRST_ANSWER and sent[6].content == SECOND_QUESTION
    assert sent[7].tool_calls[0].name == "delete_file"
    assert sent[8].tool_call_id == "call_delete" and REFUSAL_NOTE in str(sent[8].content)
    assert "the user refused to run it" in str(sent[8].content)
    assert sent[9].content == SECOND_ANSWER and sent[10].content == FOLLOW_UP
    assert_valid_history(restored_memory)
    assert conversation(restored_memory)[-1] == {"role": "assistant", "content": FOLLOW_UP_ANSWER}


# -- the original still lives on this server ----------------------------------------------------------


async def test_restoring_a_live_original_takes_it_over_and_reattaches_it_once_detached() -> None:
    agents = Agents([["first answer", "second answer", "third answer"]])
    async with serve(agents) as server:
        owner = await connect_with_session(server.url)
        original_id = owner.session_id
        assert (await owner.ask("one"))[-1]["content"] == "first answer"
        position = owner.frames[-1]  # the client processed everything up to the first final answer
        assert (await owner.ask("two"))[-1]["content"] == "second answer"
        signed = (await export_state(owner))["metadata"]["signed_state"]

        # Attached to a live connection: the restoring client takes it over, and the owner is told.
        other = await Client.connect(server.url)
        taken = await restore(other, signed, last_event_id=position["event_id"])
        assert taken["event"] == "agent.state_restored" and taken["metadata"]["reattached"] is True
        notice = await owner.expect("system.notice")
        assert notice["metadata"]["action"] == "session_taken_over" and notice["session_id"] == original_id
        await owner.send("user.message", session_id=original_id, content="still mine?")
        assert (await owner.expect_error())["metadata"]["error_code"] == "SESSION_NOT_FOUND"
        await other.close()
        owner.resume_token = taken["metadata"]["resume_token"]
        last = [f for f in owner.frames if f.get("session_id") == original_id and "seq" in f][-1]
        await owner.send(
            "user.reconnect", session_id=original_id, resume_token=owner.resume_token, last_event_id=last["event_id"]
        )
        resumed = await owner.expect("system.notice")
        assert resumed["metadata"]["action"] == "reconnect"
        owner.resume_token = resumed["metadata"]["resume_token"]  # every reconnect hands out the next token
        session = session_of(server, original_id)
        frames = await owner.ask("three")
        assert frames[-1]["content"] == "third answer"
        assert session.sink is not None and original_id in [s for c in server.gateway.connections for s in c.sessions]
        other = await Client.connect(server.url)

        # Detached (the owner went away): the same session is re-attached with the missed events.
        expected = [entry.frame for entry in session.log if entry.seq > position["seq"]]
        assert [f["event"] for f in expected][-1] == "agent.final_answer" and len(expected) > 5
        await disconnect(server, owner)
        restored = await restore(other, signed, last_event_id=position["event_id"])
        while restored["seq"] <= expected[-1]["seq"]:  # the replay carries the earlier takeover's restore
            restored = await other.expect("agent.state_restored")
        assert restored["event"] == "agent.state_restored", restored
        assert restored["session_id"] == original_id
        meta = restored["metadata"]
        assert meta["reattached"] is True and meta["original_session_id"] == original_id
        assert meta["resume_token"] != owner.resume_token  # a restore hands out a new token...
        assert meta["message_count"] == 6 and meta["restored_step"] == 1, meta

        received = [f for f in other.frames if f.get("session_id") == original_id and "seq" in f]
        replayed = received[:-1]
        assert [f["event_id"] for f in replayed] == [f["event_id"] for f in expected]  # each once, in order
        assert [f["seq"] for f in received] == list(range(position["seq"] + 1, restored["seq"] + 1))
        notice = next(f for f in other.frames if f["event"] == "system.notice")
        assert notice["metadata"]["action"] == "reconnect" and notice["metadata"]["replay_count"] == len(expected)
        assert not [f for f in other.frames if f["event"] == "system.error"]

        # The re-attached session goes on with its own memory on the new connection.
        agents.last.add("fourth answer")
        other.session_id = original_id
        assert (await other.ask("four"))[-1]["content"] == "fourth answer"
        assert len(agents.models) == 1  # no new agent was built
        assert conversation(agents.last.requests[-1].messages)[0] == {"role": "user", "content": "one"}

        # ...and the token the owner had no longer opens the session.
        stranger = await Client.connect(server.url)
        await stranger.send("user.reconnect", session_id=original_id, resume_token=owner.resume_token)
        assert (await stranger.expect_error())["metadata"]["error_code"] == ErrorCodes.INVALID_RESUME_TOKEN
        await stranger.close()
        await other.close()


# -- a confirmation that was waiting at export time --------------------------------------------------


async def test_state_exported_while_awaiting_confirmation_asks_again_after_restore() -> None:
    agents_a = Agents([[call("delete_file", {"path": "old.log"}, id="call_del")]], DeleteFile)
    async with serve(agents_a) as server_a:
        client = await connect_with_session(server_a.url)
        original_id = client.session_id
        await client.send("user.message", session_id=original_id, content="Delete old.log")
        first_confirm = await client.expect("agent.user_confirm")
        exported = await export_state(client)  # the run is waiting for the answer
        await client.close()
    assert agents_a.tools[0][0].deleted == []  # type: ignore[attr-defined]
    state = exported["metadata"]["signed_state"]["state"]
    assert state["agent_state"] == "awaiting_confirmation"
    assert state["pending_confirmations"] == [
        {
            "step_id": first_confirm["step_id"],
            "call_id": "call_del",
            "tool_name": "delete_file",
            "arguments": {"path": "old.log"},
        }
    ]

    agents_b = Agents([["old.log is gone."]], DeleteFile)
    async with serve(agents_b) as server_b:
        client = await Client.connect(server_b.url)
        restored = await restored_session(client, exported["metadata"]["signed_state"])
        assert restored["metadata"]["pending_calls"] == 1
        assert restored["metadata"]["original_session_id"] == original_id
        confirm = await client.expect("agent.user_confirm")
        assert confirm["session_id"] == client.session_id
        assert confirm["step_id"] != first_confirm["step_id"]  # a new request, on the new server
        assert confirm["metadata"]["call_id"] == "call_del"
        assert confirm["metadata"]["tool_args"] == {"path": "old.log"}
        tool = agents_b.tools[0][0]
        assert tool.deleted == []  # type: ignore[attr-defined]
        await respond(client, confirm["step_id"], True)
        frames = await client.collect_until_closed()
        assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == "old.log is gone.", frames
        result = next(f for f in frames if f["event"] == "agent.tool_result")
        assert result["step_id"] == "call_del" and result["content"] == "deleted old.log"
        assert tool.deleted == ["old.log"]  # type: ignore[attr-defined]
        memory = session_of(server_b, client.session_id).agent.memory
        assert_valid_history(memory)
        assert [m.role for m in memory] == ["user", "assistant", "tool", "assistant"]
        await client.close()
    agents_b.last.assert_finished()
    sent = agents_b.last.requests[0].messages
    assert sent[-1].role == "tool" and sent[-1].content == "deleted old.log"


async def test_state_exported_while_a_tool_ran_runs_that_call_again_after_restore() -> None:
    agents_a = Agents([[call("fetch", {"url": "https://example.org"}, id="call_fetch")]], lambda: Fetch(blocking=True))
    async with serve(agents_a) as server_a:
        client = await connect_with_session(server_a.url)
        await client.send("user.message", session_id=client.session_id, content="Fetch example.org")
        await client.expect("agent.tool_call")
        tool = agents_a.tools[0][0]
        assert isinstance(tool, Fetch)
        await asyncio.wait_for(tool.started.wait(), WAIT)
        exported = await export_state(client)
        await client.close()
    assert tool.fetched == []  # never finished there
    state = exported["metadata"]["signed_state"]["state"]
    assert state["agent_state"] == "running" and state["pending_confirmations"] == []
    assert [m["role"] for m in state["messages"]] == ["user", "assistant"]

    agents_b = Agents([["example.org has 42 bytes."]], lambda: Fetch(blocking=False))
    async with serve(agents_b) as server_b:
        client = await Client.connect(server_b.url)
        restored = await restored_session(client, exported["metadata"]["signed_state"])
        assert restored["metadata"]["pending_calls"] == 1
        frames = await client.collect_until_closed()
        assert [f["event"] for f in frames if f["event"].startswith("agent.tool")] == [
            "agent.tool_call",
            "agent.tool_result",
        ]
        assert frames[-1]["event"] == "agent.final_answer" and frames[-1]["content"] == "example.org has 42 bytes."
        assert agents_b.tools[0][0].fetched == ["https://example.org"]  # type: ignore[attr-defined]
        assert_valid_history(session_of(server_b, client.session_id).agent.memory)
        await client.close()


async def test_restores_count_against_the_session_limits() -> None:
    async with serve(Agents([["hello"]])) as server_a:
        client = await connect_with_session(server_a.url)
        await client.ask("hi")
        signed = (await export_state(client))["metadata"]["signed_state"]
        await client.close()

    async with serve(Agents([]), max_sessions=2, max_sessions_per_connection=1) as server:
        first = await connect_with_session(server.url)
        assert_refused(await restore(first, signed), ErrorCodes.SESSION_LIMIT)  # one per connection
        second = await Client.connect(server.url)
        await restored_session(second, signed)
        third = await Client.connect(server.url)
        assert_refused(await restore(third, signed), ErrorCodes.SESSION_LIMIT)  # two on the server
        assert server.service.live_sessions == 2
        await second.send("user.close_session", session_id=second.session_id)
        await second.expect("agent.session_end")
        restored = await restored_session(third, signed)  # room again
        assert restored["metadata"]["message_count"] == 2
        for client in (first, second, third):
            await client.close()


# -- keys and encryption --------------------------------------------------------------------------------


async def test_state_from_a_rotated_key_is_accepted_only_where_the_old_key_is_listed() -> None:
    async with serve(Agents([["hello"]])) as server_a:
        client = await connect_with_session(server_a.url)
        await client.ask("hi")
        signed = (await export_state(client))["metadata"]["signed_state"]
        await client.close()

    async with serve(Agents([]), key="another-secret") as server_b:
        client = await Client.connect(server_b.url)
        assert_refused(await restore(client, signed), ErrorCodes.STATE_SIGNATURE_MISMATCH)
        assert server_b.service.live_sessions == 0
        await client.close()

    agents_c = Agents([["you said hi"]])
    async with serve(agents_c, key="new-secret", state_previous_keys=(KEY,)) as server_c:
        client = await Client.connect(server_c.url)
        restored = await restored_session(client, signed)
        assert restored["metadata"]["message_count"] == 2
        assert (await client.ask("what did I say?"))[-1]["content"] == "you said hi"
        assert conversation(agents_c.last.requests[0].messages)[0] == {"role": "user", "content": "hi"}
        # New states are signed with the current key only.
        resigned = (await export_state(client))["metadata"]["signed_state"]
        assert StateManager("new-secret").verify_state(resigned)[0]
        assert StateManager(KEY).verify_state(resigned)[2].code == ErrorCodes.STATE_SIGNATURE_MISMATCH  # type: ignore[union-attr]
        await client.close()


async def test_encrypted_state_hides_the_conversation_and_restores() -> None:
    secret_words = ("Zanzibar", "weather in", "lookup", "a secret plan")
    script = [call("lookup", {"city": "Zanzibar"}), "Zanzibar is sunny.", "a secret plan"]
    async with serve(Agents([script], Lookup), state_encrypt=True) as server_a:
        client = await connect_with_session(server_a.url)
        await client.ask("Weather in Zanzibar?")
        await client.ask("Tell me a secret plan")
        exported = await export_state(client)
        original_id = client.session_id
        await client.close()
    signed = exported["metadata"]["signed_state"]
    assert isinstance(signed["state"], str) and signed.get("encrypted") is True
    assert exported["metadata"]["encrypted"] is True
    text = json.dumps(signed, ensure_ascii=False)
    for word in (*secret_words, original_id):
        assert word not in text

    agents_b = Agents([["It was Zanzibar."]], Lookup)
    async with serve(agents_b, state_encrypt=True) as server_b:
        client = await Client.connect(server_b.url)
        restored = await restored_session(client, signed)
        assert restored["metadata"]["original_session_id"] == original_id
        assert restored["metadata"]["message_count"] == exported["metadata"]["message_count"] == 6
        assert (await client.ask("Which city?"))[-1]["content"] == "It was Zanzibar."
        sent = conversation(agents_b.last.requests[0].messages)
        assert sent[0] == {"role": "user", "content": "Weather in Zanzibar?"} and len(sent) == 7
        await client.close()


async def test_encrypted_export_reports_the_message_count_of_the_trimmed_state() -> None:
    """``message_count`` describes the state, not the live memory (the state keeps the newest turns)."""
    async with serve(Agents([["a1", "a2", "a3"]]), state_encrypt=True, state_max_messages=4) as server:
        client = await connect_with_session(server.url)
        for question in ("q1", "q2", "q3"):
            await client.ask(question)
        exported = await export_state(client)
        restorer = await Client.connect(server.url)
        await disconnect(server, client)
        # As if it had expired: with the original gone, the restore builds a new session.
        await server.service.close(client.session_id, "expired")
        restored = await restored_session(restorer, exported["metadata"]["signed_state"])
        await restorer.close()
    assert restored["metadata"]["reattached"] is False
    assert restored["metadata"]["message_count"] == 4
    assert exported["metadata"]["message_count"] == 4
    assert restored["metadata"]["warnings"] == ["1 oldest turn(s) were trimmed when the state was saved"]


# -- refused states ------------------------------------------------------------------------------------


async def test_each_damaged_state_gets_its_own_code_and_every_session_goes_on() -> None:
    agents = Agents([["first", *(f"bystander {i}" for i in range(3))], ["tamperer's own"]])
    # Not a throttling test: every damaged state comes from the same address.
    async with serve(agents, state_max_bytes=2000, failed_attempts_free=1000) as server:
        bystander = await connect_with_session(server.url)
        assert (await bystander.ask("hello"))[-1]["content"] == "first"
        good = (await export_state(bystander))["metadata"]["signed_state"]
        bystander_frames = len(bystander.frames)
        tamperer = await connect_with_session(server.url)
        now = int(time.time())

        flipped = copy.deepcopy(good)
        flipped["checksum"] = ("0" if good["checksum"][0] != "0" else "1") + good["checksum"][1:]
        changed_state = copy.deepcopy(good)
        changed_state["state"]["messages"][0]["content"] = "something I never said"
        recomputed = copy.deepcopy(changed_state)
        recomputed["checksum"] = hashlib.sha256(canonical_json(recomputed["state"])).hexdigest()
        moved_time = dict(good, timestamp=good["timestamp"] - 60)
        big_state = copy.deepcopy(good["state"])
        big_state["messages"].append({"role": "user", "content": "x" * 10_000})
        oversized = StateManager(KEY, max_state_bytes=10**6).sign_state(big_state)  # honest, just too big
        no_list = dict(good["state"], messages="not a list")
        bad_call = dict(good["state"], messages=[{"role": "assistant", "tool_calls": ["call_1"]}])
        bad_step = dict(good["state"], current_step="two")
        cases: list[tuple[str, Any, str]] = [
            ("flipped checksum", flipped, ErrorCodes.STATE_CHECKSUM_MISMATCH),
            ("changed state", changed_state, ErrorCodes.STATE_CHECKSUM_MISMATCH),
            ("changed state, checksum recomputed", recomputed, ErrorCodes.STATE_SIGNATURE_MISMATCH),
            ("timestamp moved", moved_time, ErrorCodes.STATE_SIGNATURE_MISMATCH),
            ("signature of another key", resign(good, "not-our-key"), ErrorCodes.STATE_SIGNATURE_MISMATCH),
            ("wrong version", dict(good, version="2.0"), ErrorCodes.STATE_VERSION_MISMATCH),
            ("wrong version, re-signed", resign(good, version="0.9"), ErrorCodes.STATE_VERSION_MISMATCH),
            ("expired", resign(good, timestamp=now - 8 * 24 * 3600), ErrorCodes.STATE_EXPIRED),
            ("from the future", resign(good, timestamp=now + 3600), ErrorCodes.STATE_FROM_FUTURE),
            ("too large", oversized, ErrorCodes.STATE_TOO_LARGE),
            ("too large and damaged", dict(good, padding="p" * 10_000), ErrorCodes.STATE_TOO_LARGE),
            ("missing fields", {"state": good["state"], "version": "1.0"}, ErrorCodes.STATE_MALFORMED),
            ("empty object", {}, ErrorCodes.STATE_MALFORMED),
            ("timestamp as text", dict(good, timestamp=str(good["timestamp"])), ErrorCodes.STATE_MALFORMED),
            ("state as a number", dict(good, state=42), ErrorCodes.STATE_MALFORMED),
            ("signed nonsense", resign(good, state=no_list), ErrorCodes.STATE_UNREADABLE),
            ("signed bad tool call", resign(good, state=bad_call), ErrorCodes.STATE_UNREADABLE),
            ("signed bad step", resign(good, state=bad_step), ErrorCodes.STATE_UNREADABLE),
            ("signed bad trimmed", resign(good, state=dict(good["state"], trimmed=[1])), ErrorCodes.STATE_UNREADABLE),
            ("signed, claims encryption", resign(good, encrypted=True), ErrorCodes.STATE_UNREADABLE),
            ("signed_state as text", json.dumps(good), ErrorCodes.INVALID_FIELD),
            ("signed_state as a list", [good], ErrorCodes.INVALID_FIELD),
        ]
        for name, signed, code in cases:
            frame = await restore(tamperer, signed)
            assert frame["event"] == "system.error", (name, frame)
            assert frame["metadata"]["error_code"] == code, (name, frame)
        # Missing altogether, and in content instead of the top level.
        await tamperer.send("user.reconnect_with_state", content={})
        missing = await tamperer.expect_error()
        assert missing["metadata"]["error_code"] == ErrorCodes.MISSING_FIELD
        assert_refused(await restore(tamperer, flipped, where="content"), ErrorCodes.STATE_CHECKSUM_MISMATCH)

        # Nothing was created, nothing was disturbed: both connections and their sessions go on.
        assert server.service.live_sessions == 2
        assert bystander.frames[bystander_frames:] == []
        assert (await bystander.ask("still there?"))[-1]["content"] == "bystander 0"
        assert (await tamperer.ask("and me?"))[-1]["content"] == "tamperer's own"
        # The undamaged state is still accepted: its holder takes the live original over, and the
        # connection it leaves is told.
        restored = await restore(tamperer, good)
        assert restored["event"] == "agent.state_restored" and restored["metadata"]["reattached"] is True
        taken = await bystander.expect("system.notice")
        assert taken["metadata"]["action"] == "session_taken_over"
        assert (await tamperer.ask("once more", session_id=bystander.session_id))[-1]["content"] == "bystander 1"
        assert server.service.metrics.client_errors_total == len(cases) + 2
        await bystander.close()
        await tamperer.close()


# -- redaction ---------------------------------------------------------------------------------------


async def test_secrets_in_tool_arguments_and_results_never_reach_the_exported_state() -> None:
    api_key = "sk-live-0123456789abcdefghij"
    secrets = (
        api_key,
        "tok_9f8e7d6c5b4a",
        "at-123456789",
        "rt-987654321",
        "abcdefghijklmnop.qrstuvwx",
        "hunter2-password",
        "ss-after-quote",
        "dXNlcjpwcm94eXBhc3M=",
        "cookie-value-42",
        "xak-55aa66bb",
    )
    script = [
        call("login", {"service": "billing", "api_key": api_key, "auth": {"password": "hunter2-password"}}),
        "You are logged in.",
    ]
    agents = Agents([script], Login)
    async with serve(agents) as server:
        client = await connect_with_session(server.url)
        frames = await client.ask("Log in to billing")
        result = next(f for f in frames if f["event"] == "agent.tool_result")
        assert api_key in result["content"]  # the live stream shows the tool's output as it is
        exported = await export_state(client)
        await client.close()
    text = json.dumps(exported, ensure_ascii=False)
    for secret in secrets:
        assert secret not in text, secret
    messages = exported["metadata"]["signed_state"]["state"]["messages"]
    arguments = json.loads(messages[1]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"service": "billing", "api_key": "[REDACTED]", "auth": {"password": "[REDACTED]"}}
    assert messages[2]["content"].startswith("logged in to billing with key [REDACTED]")
    assert messages[0] == {"role": "user", "content": "Log in to billing"}  # user text is kept as written


@pytest.mark.parametrize(
    "position",
    [
        pytest.param(lambda f: {"last_seq": f["seq"]}, id="last_seq"),
        pytest.param(lambda f: {"last_seq": str(f["seq"])}, id="last_seq-string"),
        pytest.param(lambda f: {"content": {"last_seq": f["seq"]}}, id="last_seq-in-content"),
        pytest.param(lambda f: {"metadata": {"last_event_id": f["event_id"]}}, id="event_id-in-metadata"),
    ],
)
async def test_a_reattaching_restore_replays_only_after_the_position_given(position: Any) -> None:
    agents = Agents([["first answer", "second answer"]])
    async with serve(agents) as server:
        owner = await connect_with_session(server.url)
        original_id = owner.session_id
        seen = (await owner.ask("one"))[-1]  # the client processed everything up to here
        await owner.ask("two")
        signed = (await export_state(owner))["metadata"]["signed_state"]
        expected = [entry.frame["event_id"] for entry in session_of(server, original_id).log if entry.seq > seen["seq"]]
        await disconnect(server, owner)

        other = await Client.connect(server.url)
        fields = position(seen)
        content = {"signed_state": signed, **fields.pop("content", {})}
        await other.send("user.reconnect_with_state", content=content, **fields)
        restored = await other.expect("agent.state_restored")
        assert restored["metadata"]["reattached"] is True
        replayed = [f["event_id"] for f in other.frames if f.get("session_id") == original_id and "seq" in f][:-1]
        assert replayed == expected  # not the whole conversation again from seq 1
        notice = next(f for f in other.frames if f["event"] == "system.notice")
        assert notice["metadata"]["replay_count"] == len(expected)
        await other.close()
