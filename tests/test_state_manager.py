"""Signed session state: what goes in, what is refused and why, what comes back."""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myagent import create_toolcall_agent
from myagent.llm.base import Message, ToolCall
from myagent.llm.testing import ScriptedModel
from myagent.protocol.errors import ErrorCodes
from myagent.tool import BaseTool, ToolResult
from myagent.ws.options import ServerOptions
from myagent.ws.session import Session
from myagent.ws.state_manager import STATE_VERSION, StateManager, canonical_json
from myagent.ws.translate import Outgoing


class Lookup(BaseTool):
    name = "lookup"
    description = "look something up"

    async def execute(self, query: str) -> ToolResult:
        return ToolResult(output=f"result for {query}")


async def nowhere(session_id: str, out: Outgoing) -> int:
    """These sessions never emit: only their snapshot is taken."""
    raise AssertionError(f"unexpected event {out.event}")


def make_session(messages: list[Message] | None = None) -> Session:
    agent = create_toolcall_agent(tools=[Lookup()], name="tester", llm=ScriptedModel([]))
    agent.memory.extend(messages or [])
    agent.current_step = 2
    return Session("sess-test", agent, ServerOptions(), nowhere)


def conversation(turns: int = 2) -> list[Message]:
    messages: list[Message] = []
    for i in range(turns):
        call = ToolCall(f"c{i}", "lookup", json.dumps({"query": f"q{i}"}))
        messages += [
            Message("user", f"question {i}"),
            Message("assistant", None, (call,)),
            Message("tool", f"result {i}", tool_call_id=call.id, name="lookup"),
            Message("assistant", f"answer {i}"),
        ]
    return messages


def test_round_trip_keeps_the_whole_conversation_with_tool_calls() -> None:
    manager = StateManager("k1")
    session = make_session(conversation(3))
    signed = manager.sign_state(manager.create_state_snapshot(session))
    assert set(signed) == {"state", "timestamp", "signature", "version", "checksum"}
    ok, state, error = manager.verify_state(json.loads(json.dumps(signed)))
    assert ok and error is None and state is not None
    fresh = make_session()
    result = manager.restore_session_from_state(fresh, state)
    assert fresh.agent.memory == session.agent.memory
    assert result.message_count == 12 and result.restored_step == 2 and result.pending_calls == []


def test_secrets_in_tool_arguments_and_results_are_redacted() -> None:
    call = ToolCall("c1", "lookup", json.dumps({"query": "x", "api_key": "k-123", "auth": {"password": "p"}}))
    messages = [
        Message("user", "use my key"),
        Message("assistant", None, (call,)),
        Message("tool", "logged in with token=abcdef123 and key sk-abcdefghijklmnopqrstuvwx", tool_call_id="c1"),
    ]
    manager = StateManager("k1")
    text = json.dumps(manager.sign_state(manager.create_state_snapshot(make_session(messages))), ensure_ascii=False)
    for secret in ("k-123", '"p"', "abcdef123", "sk-abcdefghijklmnopqrstuvwx"):
        assert secret not in text
    assert text.count("[REDACTED]") == 4


def test_trimming_drops_oldest_turns_whole_and_reports_it() -> None:
    manager = StateManager("k1", max_messages=10)
    state = manager.create_state_snapshot(make_session(conversation(5)))  # 20 messages
    assert len(state["messages"]) == 8
    assert state["messages"][0] == {"role": "user", "content": "question 3"}
    assert state["trimmed"] == {"turns": 3, "messages": 12, "truncated_contents": 0, "plan_outputs": 0}
    tool_ids = {m["tool_call_id"] for m in state["messages"] if m["role"] == "tool"}
    call_ids = {c["id"] for m in state["messages"] for c in m.get("tool_calls", [])}
    assert tool_ids == call_ids  # never a call without its result
    result = manager.restore_session_from_state(make_session(), state)
    assert any("trimmed" in warning for warning in result.warnings)


def test_byte_limit_trims_and_shortens_a_single_huge_turn() -> None:
    manager = StateManager("k1", max_state_bytes=20_000)
    huge = [Message("user", "big"), Message("assistant", "x" * 50_000)]
    state = manager.create_state_snapshot(make_session(conversation(3) + huge))
    assert [m["content"][:3] for m in state["messages"]] == ["big", "xxx"]
    assert state["trimmed"]["truncated_contents"] == 1
    assert len(canonical_json(state["messages"])) < 20_000


def tampered(signed: dict, change) -> dict:
    copy_ = copy.deepcopy(signed)
    change(copy_)
    return copy_


@pytest.fixture
def signed() -> dict:
    manager = StateManager("k1")
    return manager.sign_state(manager.create_state_snapshot(make_session(conversation(2))))


def refusal(manager: StateManager, value: object) -> str:
    ok, state, error = manager.verify_state(value)
    assert not ok and state is None and error is not None
    return error.code


def test_every_single_byte_flip_is_refused(signed: dict) -> None:
    manager = StateManager("k1")
    text = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
    data = text.encode()
    codes = set()
    for position in range(0, len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0x01
        try:
            value = json.loads(flipped.decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue  # not even JSON: the server answers INVALID_JSON before looking at it
        if value == signed:
            continue  # e.g. a flip inside insignificant text that decodes to the same value
        codes.add(refusal(manager, value))
    assert codes <= {
        ErrorCodes.STATE_MALFORMED,
        ErrorCodes.STATE_VERSION_MISMATCH,
        ErrorCodes.STATE_CHECKSUM_MISMATCH,
        ErrorCodes.STATE_SIGNATURE_MISMATCH,
        ErrorCodes.STATE_EXPIRED,
        ErrorCodes.STATE_FROM_FUTURE,
    }
    assert {ErrorCodes.STATE_CHECKSUM_MISMATCH, ErrorCodes.STATE_SIGNATURE_MISMATCH} <= codes


def test_each_kind_of_tampering_has_its_own_code(signed: dict) -> None:
    manager = StateManager("k1")

    def recompute_checksum(s: dict) -> None:
        s["state"]["current_step"] = 99
        import hashlib

        s["checksum"] = hashlib.sha256(canonical_json(s["state"])).hexdigest()

    def resign(s: dict, *, timestamp: float) -> dict:
        s["timestamp"] = timestamp
        s["signature"] = manager._signature(s, b"k1")
        return s

    assert refusal(manager, tampered(signed, recompute_checksum)) == ErrorCodes.STATE_SIGNATURE_MISMATCH
    assert refusal(manager, tampered(signed, lambda s: s["state"].update(current_step=7))) == (
        ErrorCodes.STATE_CHECKSUM_MISMATCH
    )
    assert refusal(manager, tampered(signed, lambda s: s.update(version="0.9"))) == ErrorCodes.STATE_VERSION_MISMATCH
    expired = resign(copy.deepcopy(signed), timestamp=time.time() - 8 * 24 * 3600)
    assert refusal(manager, expired) == ErrorCodes.STATE_EXPIRED
    future = resign(copy.deepcopy(signed), timestamp=time.time() + 3600)
    assert refusal(manager, future) == ErrorCodes.STATE_FROM_FUTURE
    for wrong in (
        None,
        [],
        "state",
        {"state": {}},
        {**signed, "timestamp": "now"},
        {**signed, "signature": 5},
        {**signed, "state": 3},
        {**signed, "timestamp": True},
    ):
        assert refusal(manager, wrong) == ErrorCodes.STATE_MALFORMED
    small = StateManager("k1", max_signed_bytes=500)
    assert refusal(small, signed) == ErrorCodes.STATE_TOO_LARGE


def test_a_correctly_signed_but_unusable_state_is_refused() -> None:
    manager = StateManager("k1")
    bad = manager.sign_state({"session_id": "s", "messages": [{"role": "wizard", "content": "hi"}]})
    assert refusal(manager, bad) == ErrorCodes.STATE_UNREADABLE


def test_key_rotation(signed: dict) -> None:
    assert refusal(StateManager("other"), signed) == ErrorCodes.STATE_SIGNATURE_MISMATCH
    ok, state, _ = StateManager("k2", previous_keys=["k1"]).verify_state(signed)
    assert ok and state is not None
    assert signed["version"] == STATE_VERSION


def test_encrypted_state_hides_the_conversation_and_round_trips() -> None:
    manager = StateManager("k1", encrypt=True)
    session = make_session(conversation(2))
    signed = manager.sign_state(manager.create_state_snapshot(session))
    assert signed["encrypted"] is True and isinstance(signed["state"], str)
    assert "question 0" not in json.dumps(signed)
    ok, state, _ = manager.verify_state(signed)
    assert ok and state is not None and state["messages"][0]["content"] == "question 0"
    rotated = StateManager("k2", previous_keys=["k1"], encrypt=True)
    assert rotated.verify_state(signed)[0]


def test_snapshot_mid_step_keeps_finished_results_and_leaves_the_rest_to_resume() -> None:
    calls = (ToolCall("a", "lookup", '{"query": "1"}'), ToolCall("b", "lookup", '{"query": "2"}'))
    session = make_session([Message("user", "two lookups"), Message("assistant", None, calls)])
    session.agent._open_calls = list(calls)
    session.agent._open_results = {"a": ToolResult(output="done a")}
    manager = StateManager("k1")
    state = manager.check(manager.sign_state(manager.create_state_snapshot(session)))
    fresh = make_session()
    result = manager.restore_session_from_state(fresh, state)
    assert [m.role for m in fresh.agent.memory] == ["user", "assistant", "tool"]
    assert result.pending_calls == ["b"]


def test_a_state_this_server_exports_is_always_one_it_accepts() -> None:
    manager = StateManager("k1", max_state_bytes=2000)
    huge_turn = [Message("user", "写一篇长文"), Message("assistant", "好" * 3000)]
    for encrypt in (False, True):
        manager.encrypt = encrypt
        signed = manager.sign_state(manager.create_state_snapshot(make_session(huge_turn)))
        ok, state, error = manager.verify_state(signed)
        assert ok, error
        assert state is not None and state["trimmed"]["truncated_contents"] == 1
        assert state["messages"][1]["content"].endswith("…[truncated in saved state]")


def test_a_huge_plan_context_is_shortened_so_the_state_stays_acceptable() -> None:
    from myagent.plan_solve import PlanAgent, SolverAgent, create_plan_solver

    agent = create_plan_solver(planner=PlanAgent(), solver=SolverAgent())
    agent.import_plan_context(
        {"question": "q", "tasks": [{"id": 1}, {"id": 2}], "results": [{"task_id": 1, "output": "x" * 300_000}]}
    )
    manager = StateManager("k1")
    session = Session("sess-test", agent, ServerOptions(), nowhere)
    state = manager.check(manager.sign_state(manager.create_state_snapshot(session)))
    assert state["trimmed"]["plan_outputs"] == 1
    assert state["plan_context"]["results"][0]["output"].endswith("…[truncated in saved state]")
    assert [t["id"] for t in state["plan_context"]["tasks"]] == [1, 2]


# -- hostile envelopes (issue 12) ---------------------------------------------------------------


def test_encrypted_flag_on_a_plain_state_is_unreadable_not_an_internal_error(signed: dict) -> None:
    manager = StateManager("k1")
    assert refusal(manager, {**signed, "encrypted": True}) == ErrorCodes.STATE_UNREADABLE
    assert refusal(manager, {**signed, "encrypted": "yes"}) == ErrorCodes.STATE_MALFORMED


def test_an_encrypted_state_on_a_server_without_cryptography_is_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = StateManager("k1", encrypt=True)
    encrypted = manager.sign_state(manager.create_state_snapshot(make_session(conversation(1))))
    monkeypatch.setitem(sys.modules, "cryptography.fernet", None)  # what a missing package looks like
    assert refusal(manager, encrypted) == ErrorCodes.STATE_UNREADABLE


def test_a_bad_ciphertext_under_a_genuine_signature_is_unreadable() -> None:
    manager = StateManager("k1", encrypt=True)
    forged = {"state": "gAAAA-not-a-fernet-token", "timestamp": int(time.time()), "version": STATE_VERSION}
    forged["checksum"] = hashlib.sha256(canonical_json(forged["state"])).hexdigest()
    forged["signature"] = manager._signature(forged, b"k1")
    forged["encrypted"] = True
    assert refusal(manager, forged) == ErrorCodes.STATE_UNREADABLE


@pytest.mark.parametrize("timestamp", [float("nan"), float("inf"), float("-inf"), 10**400])
def test_a_non_finite_timestamp_is_malformed_even_when_signed(signed: dict, timestamp: float) -> None:
    manager = StateManager("k1")
    resigned = {**signed, "timestamp": timestamp}
    if not isinstance(timestamp, int):
        resigned["signature"] = manager._signature(resigned, b"k1")  # NaN would otherwise never expire
    assert refusal(manager, resigned) == ErrorCodes.STATE_MALFORMED


def test_the_same_envelope_from_the_wire_with_a_nan_timestamp_is_refused(signed: dict) -> None:
    text = json.dumps({**signed, "timestamp": float("nan")})  # Python's json writes NaN
    assert refusal(StateManager("k1"), json.loads(text)) == ErrorCodes.STATE_MALFORMED


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"checksum": "é" * 64}, ErrorCodes.STATE_CHECKSUM_MISMATCH),
        ({"checksum": "\ud800"}, ErrorCodes.STATE_MALFORMED),
        ({"signature": "ü" * 64}, ErrorCodes.STATE_SIGNATURE_MISMATCH),
        ({"signature": ""}, ErrorCodes.STATE_SIGNATURE_MISMATCH),
        ({"version": "\ud800" * 1000}, ErrorCodes.STATE_VERSION_MISMATCH),
        ({"timestamp": 1}, ErrorCodes.STATE_SIGNATURE_MISMATCH),
        ({"state": "not encrypted"}, ErrorCodes.STATE_CHECKSUM_MISMATCH),
    ],
)
def test_tampered_envelope_fields_get_their_precise_codes(signed: dict, change: dict, code: str) -> None:
    assert refusal(StateManager("k1"), {**signed, **change}) == code


def test_a_lone_surrogate_inside_the_state_is_malformed_not_a_crash(signed: dict) -> None:
    poisoned = copy.deepcopy(signed)
    poisoned["state"]["messages"][0]["content"] = "\ud800"
    assert refusal(StateManager("k1"), poisoned) == ErrorCodes.STATE_MALFORMED


def test_absurdly_nested_state_is_refused_not_a_crash(signed: dict) -> None:
    nested: object = {}
    for _ in range(100_000):
        nested = {"x": nested}
    code = refusal(StateManager("k1", max_signed_bytes=10**9), {**signed, "state": nested})
    assert code == ErrorCodes.STATE_MALFORMED


def test_a_state_bound_to_a_principal_is_refused_to_anyone_else_like_a_forgery() -> None:
    manager = StateManager("k1")
    snapshot = manager.create_state_snapshot(make_session(conversation(1)))
    alices = manager.sign_state(snapshot, principal="alice")
    assert "alice" not in json.dumps(alices)  # the binding is in the signature, not readable
    assert manager.verify_state(alices, principal="alice")[0]
    forged = refusal(manager, {**alices, "signature": "0" * 64})
    for stranger in ("bob", None, "alice "):
        ok, state, error = manager.verify_state(alices, principal=stranger)
        assert not ok and state is None and error is not None
        assert error.code == forged == ErrorCodes.STATE_SIGNATURE_MISMATCH
    unbound = manager.sign_state(snapshot)
    assert manager.verify_state(unbound)[0]
    assert manager.verify_state(unbound, principal="alice")[1] is None  # an unbound state is no one's


STATE_CODES = {code for code in ErrorCodes.__dict__.values() if isinstance(code, str) and code.startswith("STATE_")}
JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None, categories=["Cs", "Ll", "Nd"]), max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
ENVELOPE_FIELDS = st.sampled_from(["state", "timestamp", "signature", "version", "checksum", "encrypted"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(ENVELOPE_FIELDS, JSONISH, max_size=6), st.booleans())
def test_any_envelope_is_accepted_or_refused_with_a_state_code(signed: dict, fields: dict, start_genuine: bool) -> None:
    candidate = {**signed, **fields} if start_genuine else fields
    for manager in (StateManager("k1"), StateManager("k1", encrypt=True)):
        ok, state, error = manager.verify_state(candidate, principal=None)
        if ok:
            assert state is not None and candidate["signature"] == signed["signature"]
        else:
            assert error is not None and error.code in STATE_CODES
