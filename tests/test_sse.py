"""The SSE decoder: bytes in any split, any line ending, hostile sizes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myagent.llm.sse import SSEDecoder, SSEError

# A payload is one line of data: no CR or LF inside (JSON text never has raw ones).
payloads = st.lists(
    st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), min_size=1, max_size=40),
    max_size=8,
)
line_endings = st.sampled_from([b"\n", b"\r\n", b"\r"])


def feed_in_pieces(decoder: SSEDecoder, data: bytes, cuts: list[int]) -> list[bytes]:
    events: list[bytes] = []
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:  # repeated cuts feed b""
        events.extend(decoder.feed(data[start:cut]))
        start = cut
    return events


@given(payloads, line_endings, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_events_survive_any_split_and_line_ending(texts: list[str], eol: bytes, cuts: list[int]) -> None:
    stream = b"".join(b"data: " + t.encode() + eol + b": comment" + eol + eol for t in texts)

    assert feed_in_pieces(SSEDecoder(), stream, cuts) == [t.encode() for t in texts]


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_arbitrary_bytes_never_crash_and_never_depend_on_the_split(data: bytes, cuts: list[int]) -> None:
    assert feed_in_pieces(SSEDecoder(), data, cuts) == SSEDecoder().feed(data)


def test_multi_line_data_is_joined_and_the_optional_space_is_removed_once() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data:a\ndata:  b\nevent: x\nid: 1\nretry: 5\n\n") == [b"a\n b"]


def test_event_cut_off_by_the_end_of_the_stream_is_not_returned() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: complete\n\ndata: cut") == [b"complete"]


def test_endless_line_is_an_error_not_unbounded_memory() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    decoder.feed(b"data: " + b"x" * 900)

    with pytest.raises(SSEError, match="exceeded 1000 bytes"):
        decoder.feed(b"x" * 200)


def test_endless_event_is_an_error_not_unbounded_memory() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)

    with pytest.raises(SSEError, match="exceeded 1000 bytes"):
        for _ in range(20):
            decoder.feed(b"data: " + b"y" * 100 + b"\n")
