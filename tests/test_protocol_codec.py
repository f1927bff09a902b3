"""Downstream frames always encode to strict JSON that is valid UTF-8 (the writer must never die)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from myagent.protocol.codec import UNENCODABLE_PLACEHOLDER, encode_frame, encode_frame_reporting
from myagent.protocol.envelope import create_event


def strict_loads(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)

    return json.loads(text.encode("utf-8"), parse_constant=refuse)  # what a browser accepts


def test_a_good_frame_is_encoded_as_before_and_not_reported() -> None:
    frame = create_event("agent.partial_answer", session_id="s", content="你好 😀", metadata={"step": 1})
    frame.update(seq=3, event_id="s:3")
    text, repaired = encode_frame_reporting(frame)
    assert not repaired
    assert text == json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def test_a_model_reply_with_a_lone_surrogate_is_repaired_not_fatal() -> None:
    frame = create_event("agent.final_answer", session_id="s", content="bad \ud800 text", metadata={"k\udc00": 1})
    frame.update(seq=7, event_id="s:7")
    text, repaired = encode_frame_reporting(frame)
    decoded = strict_loads(text)
    assert repaired
    assert decoded["content"] == "bad \\ud800 text" and decoded["metadata"] == {"k\\udc00": 1}
    assert (decoded["seq"], decoded["event_id"]) == (7, "s:7")


def test_non_finite_numbers_become_null() -> None:
    frame = create_event("agent.tool_result", session_id="s", content="x", metadata={"data": [float("nan"), 1.5]})
    assert strict_loads(encode_frame(frame))["metadata"]["data"] == [None, 1.5]


def test_a_circular_frame_keeps_its_place_in_the_stream() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    frame = create_event("agent.tool_result", session_id="s", content="x", metadata={"data": loop})
    frame.update(seq=9, event_id="s:9")
    decoded = strict_loads(encode_frame(frame))
    assert (decoded["event"], decoded["seq"], decoded["event_id"]) == ("agent.tool_result", 9, "s:9")
    assert decoded["content"] == UNENCODABLE_PLACEHOLDER


PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.characters(codec=None), max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@given(PLAIN, PLAIN)
def test_frames_of_plain_values_are_encoded_exactly_as_json_dumps_would(content: Any, metadata: Any) -> None:
    # Strings, ints (also beyond 64 bits), bools and None, nested: the fast encoder must not change a byte.
    frame = {"event": "agent.partial_answer", "content": content, "metadata": metadata, "seq": 1}
    expected = json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)
    text, repaired = encode_frame_reporting(frame)
    if any("\ud800" <= ch <= "\udfff" for ch in expected):
        assert repaired and strict_loads(text)["seq"] == 1  # lone surrogates: repaired as before
    else:
        assert (text, repaired) == (expected, False)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None, categories=["Cs", "Ll", "Lo", "Nd"]), max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(codec=None, categories=["Cs", "Ll"]), max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH, JSONISH, st.integers(1, 10**6))
def test_any_frame_encodes_to_strict_utf8_json_with_its_seq(content: Any, metadata: Any, seq: int) -> None:
    frame = {"event": "agent.tool_result", "session_id": "s", "content": content, "metadata": metadata, "seq": seq}
    decoded = strict_loads(encode_frame(frame))
    assert decoded["seq"] == seq and decoded["event"] == "agent.tool_result"
