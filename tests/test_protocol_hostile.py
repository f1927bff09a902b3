"""Hostile input at the protocol layer: lone surrogates, non-finite numbers, huge echoes. No I/O.

The property tests feed the frame decoder arbitrary text and arbitrary JSON (with surrogates,
huge and non-finite numbers, deep nesting) and check the one promise the connection relies on:
the decoder returns a frame whose every string can be encoded, or raises a ``ProtocolError``
with a documented code, and the error frame built from it can always be sent and stays small.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myagent.errors import ProtocolError
from myagent.protocol.catalog import CATALOG
from myagent.protocol.close_codes import CLOSE_CODES, CloseCodes
from myagent.protocol.envelope import ERROR_MESSAGE_LIMIT, create_error
from myagent.protocol.errors import ERROR_CODES, ErrorCodes
from myagent.protocol.inbound import InboundFrame, decode_frame, requested_event
from myagent.protocol.names import SystemEvents, UserEvents
from myagent.protocol.render import render_markdown
from myagent.protocol.text import ECHO_LIMIT, find_unsafe_value, truncate_for_echo

DECODER_CODES = {
    ErrorCodes.INVALID_JSON,
    ErrorCodes.INVALID_FRAME,
    ErrorCodes.UNKNOWN_EVENT,
    ErrorCodes.MISSING_FIELD,
    ErrorCodes.INVALID_FIELD,
}
CLIENT_EVENTS = sorted(name for name, spec in CATALOG.items() if spec.direction == "up")


def rejected(text: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_frame(text)
    return info.value


def error_frame_for(text: str | bytes, error: ProtocolError) -> bytes:
    """What the connection sends for a rejected frame, as the bytes that go on the wire."""
    event, session_id = requested_event(text)
    extra = {"request_event": event} if event else {}
    frame = create_error(
        SystemEvents.ERROR, error.code, error.message, session_id=session_id, details=error.details, **extra
    )
    return json.dumps(frame, ensure_ascii=False).encode("utf-8")


# -- lone surrogates ----------------------------------------------------------------------------


def test_the_frame_that_silenced_a_connection_is_invalid_field_and_its_error_can_be_sent() -> None:
    text = '{"event":"user.cancel","session_id":"\\ud800"}'
    error = rejected(text)
    assert error.code == ErrorCodes.INVALID_FIELD
    assert error.details == {"field": "session_id"}
    wire = json.loads(error_frame_for(text, error))
    assert wire["metadata"]["request_event"] == "user.cancel"
    assert "session_id" not in wire  # the unusable id is not repeated


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ('{"event":"user.\\ud800"}', "event"),
        ('{"event":"user.message","session_id":"s","content":"hi \\udfff there"}', "content"),
        ('{"event":"user.message","session_id":"s","content":{"question":"\\ud83d"}}', "content.question"),
        ('{"event":"user.response","session_id":"s","step_id":"\\ud800x","content":{"confirmed":true}}', "step_id"),
        (
            '{"event":"user.solve_tasks","session_id":"s","content":{"tasks":[{"id":1},{"id":2,"name":"\\udc00"}]}}',
            "content.tasks[1].name",
        ),
        (
            '{"event":"user.cancel","session_id":"s","metadata":{"note":{"deep":["ok","\\ud800"]}}}',
            "metadata.note.deep[1]",
        ),
        ('{"event":"user.cancel","session_id":"s","metadata":{"\\ud800":1}}', "metadata"),
        ('{"event":"user.cancel","session_id":"s","\\ud800":1}', "frame"),
    ],
)
def test_a_lone_surrogate_anywhere_is_invalid_field_with_its_path(frame: str, field: str) -> None:
    error = rejected(frame)
    assert error.code == ErrorCodes.INVALID_FIELD
    assert error.details["field"] == field
    error_frame_for(frame, error)  # encodable


def test_a_surrogate_pair_escape_is_a_valid_character_and_accepted() -> None:
    frame = decode_frame('{"event":"user.message","session_id":"s","content":"smile \\ud83d\\ude00"}')
    assert frame.text == "smile 😀"


def test_raw_invalid_utf8_bytes_are_invalid_json() -> None:
    assert rejected(b'{"event":"user.cancel","session_id":"\xff"}').code == ErrorCodes.INVALID_JSON
    # A surrogate encoded as UTF-8 bytes: json.loads alone would decode it ("surrogatepass").
    assert rejected(b'{"event":"user.cancel","session_id":"\xed\xa0\x80"}').code == ErrorCodes.INVALID_JSON


def test_a_raw_surrogate_in_a_str_frame_is_found_too() -> None:
    text = '{"event":"user.cancel","session_id":"s","metadata":{"a":"\ud800"}}'  # no JSON escape: a raw surrogate
    assert "\\" not in text
    error = rejected(text)
    assert (error.code, error.details["field"]) == (ErrorCodes.INVALID_FIELD, "metadata.a")


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(literal: str) -> None:
    error = rejected(f'{{"event":"user.ack","session_id":"s","last_seq":{literal}}}')
    assert error.code == ErrorCodes.INVALID_JSON


def test_a_number_too_large_to_be_finite_is_invalid_field() -> None:
    error = rejected('{"event":"user.cancel","session_id":"s","metadata":{"x":[1e400]}}')
    assert (error.code, error.details["field"]) == (ErrorCodes.INVALID_FIELD, "metadata.x[0]")


def test_integer_fields_stay_within_what_javascript_represents() -> None:
    assert decode_frame('{"event":"user.ack","last_seq":9007199254740991}').get("last_seq") == 2**53 - 1
    error = rejected('{"event":"user.ack","last_seq":9007199254740992}')
    assert (error.code, error.details["field"]) == (ErrorCodes.INVALID_FIELD, "last_seq")


# -- bounded echoes -----------------------------------------------------------------------------


def test_a_huge_session_id_is_echoed_truncated() -> None:
    huge = "s" * 1_000_000
    text = json.dumps({"event": "user.cancel", "session_id": huge, "content": 5})
    error = rejected(text)
    assert (error.code, error.details["field"]) == (ErrorCodes.INVALID_FIELD, "session_id")
    wire = error_frame_for(text, error)
    assert len(wire) < 2000
    assert json.loads(wire)["session_id"].startswith("s" * ECHO_LIMIT + "…")


def test_a_huge_unknown_event_name_is_not_echoed_in_full() -> None:
    text = json.dumps({"event": "x" * 1_000_000})
    error = rejected(text)
    assert error.code == ErrorCodes.UNKNOWN_EVENT
    assert len(error_frame_for(text, error)) < 2000


def test_create_error_bounds_every_string_and_makes_it_encodable() -> None:
    frame = create_error(
        SystemEvents.ERROR,
        ErrorCodes.INVALID_FIELD,
        "bad \ud800 " + "m" * 100_000,
        session_id="\udc00" * 5,
        details={"field": "f" * 10_000},
        request_event="e" * 10_000,
    )
    wire = json.dumps(frame, ensure_ascii=False).encode("utf-8")
    assert len(wire) < ERROR_MESSAGE_LIMIT + 3 * ECHO_LIMIT + 500
    assert frame["session_id"] == "\\udc00" * 5
    assert frame["content"].startswith("bad \\ud800 mmm")


def test_truncate_for_echo() -> None:
    assert truncate_for_echo("short") == "short"
    assert truncate_for_echo("abcdef", 3) == "abc…[3 more characters]"
    assert truncate_for_echo("a\ud800b") == "a\\ud800b"


def test_find_unsafe_value_survives_the_deepest_nesting_json_allows() -> None:
    depth = 900
    value: Any = "\ud800"
    for _ in range(depth):
        value = [value]
    found = find_unsafe_value(value)
    assert found is not None and found.path == "[0]" * depth


# -- close codes --------------------------------------------------------------------------------


def test_every_close_code_is_in_the_table_and_in_the_protocol_doc() -> None:
    names = {key: value for key, value in vars(CloseCodes).items() if key.isupper()}
    assert set(names.values()) == set(CLOSE_CODES)
    for required in (1000, 1001, 1002, 1007, 1008, 1009, 1011, 4008, 4401, 4403, 4429):
        assert required in CLOSE_CODES
    doc = render_markdown()
    for code in CLOSE_CODES:
        assert f"| {code} |" in doc


# -- properties ---------------------------------------------------------------------------------

# Characters of every category, lone surrogates included.
WIRE_CHARS = st.characters(codec=None, categories=["Cs", "Ll", "Lu", "Nd", "Po", "Zs", "Cc", "So"])
WIRE_TEXT = st.text(WIRE_CHARS, max_size=30)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    WIRE_TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(WIRE_TEXT, children, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(
    [
        "session_id",
        "step_id",
        "content",
        "metadata",
        "question",
        "confirmed",
        "message",
        "tasks",
        "task_id",
        "last_seq",
        "last_event_id",
        "resume_token",
        "signed_state",
    ]
)
CATALOG_SHAPED = st.fixed_dictionaries(
    {"event": st.sampled_from(CLIENT_EVENTS)},
    optional={
        "session_id": WIRE_TEXT | JSON_VALUES,
        "content": JSON_VALUES | st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=4),
    },
).flatmap(lambda frame: st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=4).map(lambda extra: {**extra, **frame}))


def assert_decoder_contract(text: str | bytes) -> None:
    try:
        frame = decode_frame(text)
    except ProtocolError as error:
        assert error.code in DECODER_CODES and error.code in ERROR_CODES
        assert len(error_frame_for(text, error)) < ERROR_MESSAGE_LIMIT + 3 * ECHO_LIMIT + 1000
        return
    assert isinstance(frame, InboundFrame)
    # Whatever was accepted can be logged, given to the agent and encoded again.
    json.dumps([frame.event, frame.session_id, frame.step_id, frame.content, dict(frame.values)]).encode()
    json.dumps(frame.content, ensure_ascii=False, allow_nan=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.one_of(WIRE_TEXT, st.binary(max_size=64), st.text(max_size=200)))
def test_any_text_is_a_frame_or_a_documented_error(text: str | bytes) -> None:
    assert_decoder_contract(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_any_json_value_is_a_frame_or_a_documented_error(value: Any) -> None:
    assert_decoder_contract(json.dumps(value))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CATALOG_SHAPED)
def test_any_catalog_shaped_frame_is_a_frame_or_a_documented_error(frame: dict[str, Any]) -> None:
    assert_decoder_contract(json.dumps(frame))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(CLIENT_EVENTS), st.integers(min_value=10_000, max_value=300_000))
def test_huge_values_are_a_frame_or_a_documented_error(event: str, size: int) -> None:
    payload = "\u4e2d" * size
    assert_decoder_contract(json.dumps({"event": event, "session_id": payload, "content": {"question": payload}}))
    assert_decoder_contract(json.dumps({"event": event, "session_id": "s", "content": payload}))


def test_the_message_event_still_decodes() -> None:
    frame = decode_frame(json.dumps({"event": UserEvents.MESSAGE, "session_id": "s", "content": "你好"}))
    assert frame.text == "你好"
