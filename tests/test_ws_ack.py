"""ACKs as clients send them: every placement and form is applied, and ACKs never flood a client with errors.

Clients ACK every 200 ms; an ACK the server cannot apply gets one error per session per connection and
is then ignored (ACKs are advisory). Runs in process on the real connection adapter.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myagent import create_toolcall_agent
from myagent.llm.testing import ScriptedModel
from myagent.protocol.rules import is_request_error
from myagent.ws.event_log import InMemoryEventLog
from tests.fakes.memory_socket import InProcessServer, in_process_server
from tests.harness import Client, assert_request_error


def factory() -> Any:
    return lambda: create_toolcall_agent(llm=ScriptedModel(["one two three"] * 50), name="acked")


async def answered(url: str) -> tuple[Client, str, list[dict[str, Any]]]:
    """A client with a session that has answered once: ``(client, session id, that run's frames)``."""
    client = await Client.connect(url)
    await client.create_session()
    frames = await client.ask("hi")
    return client, str(client.session_id), frames


def acked_seq(server: InProcessServer, session_id: str) -> int:
    events = server.service.events
    assert isinstance(events, InMemoryEventLog)
    return events.log(session_id).acked_seq


async def errors_before_probe(client: Client) -> list[dict[str, Any]]:
    """Send a frame that is always refused; return the errors that arrived before its answer."""
    await client.send("user.cancel", session_id="probe-no-such-session")
    errors = []
    while (frame := await client.expect_error())["metadata"].get("request_event") != "user.cancel":
        errors.append(frame)
    return errors


def placements(name: str, value: Any) -> list[dict[str, Any]]:
    return [{name: value}, {"content": {name: value}}, {"metadata": {name: value}}]


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda sid, seq: placements("last_seq", seq), id="last_seq-number"),
        pytest.param(lambda sid, seq: placements("last_seq", str(seq)), id="last_seq-string"),
        pytest.param(lambda sid, seq: placements("last_event_id", f"{sid}:{seq}"), id="event_id"),
        pytest.param(lambda sid, seq: placements("last_event_id", str(seq)), id="event_id-bare-seq-string"),
        pytest.param(lambda sid, seq: placements("last_event_id", seq), id="event_id-bare-seq-number"),
        pytest.param(lambda sid, seq: placements("last_seq", float(seq)), id="last_seq-whole-float"),
    ],
)
async def test_every_ack_form_at_every_placement_is_applied_silently(form: Any) -> None:
    async with in_process_server(factory()) as server:
        client, sid, frames = await answered(server.url)
        last = frames[-1]["seq"]
        for fields in form(sid, last - 2):
            for extra in ({}, {"session_id": sid}):
                await client.send("user.ack", **extra, **fields)
            assert await errors_before_probe(client) == []
            assert acked_seq(server, sid) == last - 2
        for fields in form(sid, last):
            await client.send("user.ack", **fields)
        assert await errors_before_probe(client) == []
        assert acked_seq(server, sid) == last


UNUSABLE: list[tuple[dict[str, Any], str]] = [
    ({"last_seq": 10_000}, "ACK_OUT_OF_RANGE"),
    ({"last_event_id": "not-an-event-id"}, "INVALID_FIELD"),
    ({"last_event_id": "SID:-1"}, "INVALID_FIELD"),
    ({"last_seq": -1}, "INVALID_FIELD"),
    ({"last_seq": 2.5}, "INVALID_FIELD"),
    ({"last_seq": True}, "INVALID_FIELD"),
    ({"content": {"last_seq": "seven"}}, "INVALID_FIELD"),
    ({}, "MISSING_FIELD"),
]


@pytest.mark.parametrize(("fields", "code"), UNUSABLE, ids=[code + str(i) for i, (_, code) in enumerate(UNUSABLE)])
async def test_an_unusable_ack_gets_one_error_then_the_same_ack_is_ignored(fields: dict[str, Any], code: str) -> None:
    async with in_process_server(factory()) as server:
        client, sid, _ = await answered(server.url)
        frame = {"event": "user.ack", "session_id": sid, **json.loads(json.dumps(fields).replace("SID", sid))}
        await client.send_raw(json.dumps(frame))
        error = await client.expect_error()
        assert_request_error(error, code, "user.ack")
        assert error["event"] == "agent.error" and error["session_id"] == sid
        for _ in range(5):  # the client's ACK timer keeps firing
            await client.send_raw(json.dumps(frame))
        assert await errors_before_probe(client) == []
        # ...and a good ACK afterwards still works.
        await client.send("user.ack", session_id=sid, last_seq=1)
        assert await errors_before_probe(client) == []
        assert acked_seq(server, sid) == 1


async def test_acks_for_a_session_of_another_connection_get_one_error_per_session() -> None:
    async with in_process_server(factory()) as server:
        _, victim, _ = await answered(server.url)
        _, other, _ = await answered(server.url)
        stranger = await Client.connect(server.url)
        for _ in range(3):
            for sid in (victim, other, "no-such-session"):
                await stranger.send("user.ack", session_id=sid, last_seq=1)
        errors = await errors_before_probe(stranger)
        assert Counter(f["session_id"] for f in errors) == {victim: 1, other: 1, "no-such-session": 1}
        codes = {f["session_id"]: f["metadata"]["error_code"] for f in errors}
        assert codes == {
            victim: "SESSION_NOT_FOUND",
            other: "SESSION_NOT_FOUND",
            "no-such-session": "SESSION_NOT_FOUND",
        }
        assert all("user.reconnect" in f["content"] for f in errors)  # says how to resume
        assert acked_seq(server, victim) == 0 and acked_seq(server, other) == 0


# -- property: whatever a client ACKs, at most one error per session ----------------------------------

_VALUES = st.one_of(
    st.integers(min_value=-5, max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["MINE:1", "MINE:0", "MINE:999", "OTHER:1", "ghost:3", "MINE:x", ":4", "7", "-1", "1e3"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_SESSIONS = st.sampled_from(["MINE", "OTHER", "ghost", None, ""])
_PLACES = st.sampled_from(["top", "content", "metadata"])
_ACK = st.tuples(_SESSIONS, st.sampled_from(["last_seq", "last_event_id"]), _VALUES, _PLACES)


def ack_frame(session: str | None, name: str, value: Any, place: str, ids: dict[str, str]) -> dict[str, Any]:
    if isinstance(value, str):
        for alias, real in ids.items():
            value = value.replace(alias, real)
    frame: dict[str, Any] = {"event": "user.ack"}
    if session is not None:
        frame["session_id"] = ids.get(session, session)
    if place == "top":
        frame[name] = value
    else:
        frame[place] = {name: value}
    return frame


async def errors_per_session(acks: list[tuple[str | None, str, Any, str]]) -> Counter[str | None]:
    async with in_process_server(factory()) as server:
        client, mine, _ = await answered(server.url)
        _, other, _ = await answered(server.url)
        ids = {"MINE": mine, "OTHER": other}
        for ack in acks:
            await client.send(**ack_frame(*ack, ids=ids))
        errors = await errors_before_probe(client)
    assert all(is_request_error(f["event"], f.get("seq")) for f in errors)
    assert {f["metadata"]["request_event"] for f in errors} <= {"user.ack"}
    return Counter(f.get("session_id") for f in errors)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ACK, min_size=1, max_size=25))
def test_a_stream_of_random_acks_gives_at_most_one_error_per_session(
    acks: list[tuple[str | None, str, Any, str]],
) -> None:
    counts = asyncio.run(errors_per_session(acks))
    assert all(count == 1 for count in counts.values()), counts


async def test_acks_naming_ever_new_sessions_stop_getting_errors() -> None:
    async with in_process_server(factory()) as server:
        client = await Client.connect(server.url)
        for number in range(100):
            await client.send("user.ack", session_id=f"ghost-{number}", last_seq=1)
        errors = await errors_before_probe(client)
        assert 0 < len(errors) <= 64 and len({f["session_id"] for f in errors}) == len(errors)
