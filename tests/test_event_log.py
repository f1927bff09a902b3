"""``SessionLog``: gapless seq, stable ids, lossless delta coalescing, ACK, retention, replay window, subscriptions."""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import pytest

from myagent.protocol.rules import parse_event_id
from myagent.ws.event_log import LogEntry, SessionLog

SID = "sess-1"


def delta(text: str, step: int = 1, **extra: Any) -> dict[str, Any]:
    return {"event": "agent.partial_answer", "content": text, "metadata": {"step": step, **extra}}


def other(name: str = "agent.tool_call", content: str = "x", **metadata: Any) -> dict[str, Any]:
    return {"event": name, "content": content, "metadata": metadata or {"step": 1}}


def entries(log: SessionLog) -> list[LogEntry]:
    return list(log)


def assert_bytes_consistent(log: SessionLog) -> None:
    """Every retained entry but the tail is sealed and counted exactly once."""
    kept = entries(log)
    assert all(entry.sealed for entry in kept[:-1])
    assert log.retained_bytes == sum(sys.getsizeof(entry.seal()) for entry in kept[:-1])


# -- sequence numbers and ids -----------------------------------------------------------------


def test_seq_is_gapless_from_one_and_event_id_is_session_and_seq():
    log = SessionLog(SID)
    made = [log.append(other(content=str(i))) for i in range(5)]
    assert [e.seq for e in made if e] == [1, 2, 3, 4, 5]
    for entry in made:
        assert entry is not None
        assert entry.frame["seq"] == entry.seq
        assert entry.event_id == entry.frame["event_id"] == f"{SID}:{entry.seq}"
        assert parse_event_id(entry.event_id) == (SID, entry.seq)
    assert log.last_seq == 5
    assert [e.seq for e in log] == [1, 2, 3, 4, 5]


def test_sealed_data_is_the_frame_with_its_seq_and_is_stable():
    log = SessionLog(SID)
    entry = log.append(other(content="hello"))
    assert entry is not None and not entry.sealed
    data = entry.seal()
    assert entry.sealed and entry.seal() is data  # idempotent
    decoded = json.loads(data)
    assert decoded["seq"] == 1 and decoded["event_id"] == f"{SID}:1" and decoded["content"] == "hello"


# -- delta coalescing -------------------------------------------------------------------------


def test_consecutive_deltas_with_equal_metadata_merge_into_the_unsealed_tail():
    log = SessionLog(SID)
    first = log.append(delta("Hel"))
    assert first is not None
    assert log.append(delta("lo, ")) is None
    assert log.append(delta("world")) is None
    assert log.last_seq == 1 and log.retained == 1
    assert first.frame["content"] == "Hello, world"
    assert json.loads(first.seal())["content"] == "Hello, world"


def test_no_merge_after_the_tail_was_sealed():
    log = SessionLog(SID)
    first = log.append(delta("ab"))
    assert first is not None
    sent = first.seal()  # the writer took it
    second = log.append(delta("cd"))
    assert second is not None and second.seq == 2
    assert first.frame["content"] == "ab" and json.loads(sent)["content"] == "ab"
    assert second.frame["content"] == "cd"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (delta("x", step=1), delta("y", step=2)),
        (delta("x", task_id="t1"), delta("y", task_id="t2")),
        (delta("x"), delta("y", task_id="t1")),
    ],
    ids=["step", "task_id", "extra-key"],
)
def test_no_merge_across_different_metadata(a, b):
    log = SessionLog(SID)
    assert log.append(a) is not None
    entry = log.append(b)
    assert entry is not None and entry.seq == 2
    assert [e.frame["content"] for e in log] == ["x", "y"]


def test_a_bare_delta_merges_like_a_delta_frame_and_only_where_one_would():
    log = SessionLog(SID)
    assert not log.merge_delta("x", {"step": 1})  # nothing to merge into
    first = log.append(delta("Hel"))
    assert first is not None
    assert log.merge_delta("lo", {"step": 1})
    assert not log.merge_delta("!", {"step": 2})  # another step: a frame of its own
    assert (log.last_seq, first.frame["content"]) == (1, "Hello")
    first.seal()
    assert not log.merge_delta("!", {"step": 1})  # already taken by the writer
    log.append(other())
    assert not log.merge_delta("!", {"step": 1})  # the tail is not a delta
    assert [e.frame["content"] for e in log] == ["Hello", "x"]


def test_no_merge_across_other_events():
    log = SessionLog(SID)
    log.append(delta("a"))
    log.append(other("agent.tool_call"))
    entry = log.append(delta("b"))
    assert entry is not None and entry.seq == 3
    # and a non-delta never merges into a delta tail, nor into another non-delta
    assert log.append(other("agent.tool_result")) is not None
    assert log.append(other("agent.tool_result")) is not None
    assert [e.frame["event"] for e in log] == [
        "agent.partial_answer",
        "agent.tool_call",
        "agent.partial_answer",
        "agent.tool_result",
        "agent.tool_result",
    ]


@pytest.mark.parametrize("seed", range(40))
def test_coalescing_is_lossless_under_random_deltas_events_and_seals(seed):
    rng = random.Random(seed)
    log = SessionLog(SID, max_events=10_000, max_bytes=1 << 30)
    made: list[LogEntry] = []
    expected: dict[int, list[str]] = {}  # seq -> texts that must end up in that entry, in order
    all_deltas: list[str] = []
    previous: tuple[str, Any] | None = None  # (event, metadata) of the last append
    sealed_since = False
    for index in range(rng.randint(1, 150)):
        roll = rng.random()
        if roll < 0.15 and made:
            made[-1].seal()
            sealed_since = True
            continue
        if roll < 0.75:
            text = "".join(rng.choice('abc xyz中文\n"\\') for _ in range(rng.randint(0, 5)))
            frame = delta(text, step=rng.choice([1, 1, 1, 2]), **rng.choice([{}, {}, {"task_id": "t"}]))
            all_deltas.append(text)
        else:
            frame = other(rng.choice(["agent.tool_call", "agent.thinking"]), content=f"e{index}")
        key = (frame["event"], json.dumps(frame["metadata"], sort_keys=True))
        should_merge = frame["event"] == "agent.partial_answer" and previous == key and not sealed_since and bool(made)
        entry = log.append(frame)
        if should_merge:
            assert entry is None, f"seed {seed}: a mergeable delta was not merged"
            expected[made[-1].seq].append(frame["content"])
        else:
            assert entry is not None, f"seed {seed}: merged although it must not"
            made.append(entry)
            expected[entry.seq] = [frame["content"]]
        previous, sealed_since = key, False
        assert_bytes_consistent(log)

    kept = entries(log)
    assert kept == made
    assert [e.seq for e in kept] == list(range(1, len(kept) + 1)), f"seed {seed}"
    assert log.last_seq == len(kept)
    for entry in kept:
        sent = json.loads(entry.seal())
        assert sent["content"] == entry.frame["content"] == "".join(expected[entry.seq]), f"seed {seed}"
        assert sent["seq"] == entry.seq and sent["event_id"] == f"{SID}:{entry.seq}"
    rebuilt = "".join(str(json.loads(e.seal())["content"]) for e in kept if e.frame["event"] == "agent.partial_answer")
    assert rebuilt == "".join(all_deltas), f"seed {seed}"


# -- ack ----------------------------------------------------------------------------------------


def test_ack_drops_entries_up_to_seq_and_rejects_unknown_positions():
    log = SessionLog(SID)
    for i in range(5):
        log.append(other(content=str(i)))
    assert log.ack(2)
    assert [e.seq for e in log] == [3, 4, 5] and log.acked_seq == 2
    assert_bytes_consistent(log)
    assert log.ack(1)  # an older ack is harmless and does not move the position back
    assert log.acked_seq == 2 and [e.seq for e in log] == [3, 4, 5]
    assert not log.ack(6) and not log.ack(-1)
    assert log.acked_seq == 2
    assert log.after(2).entries == entries(log) and log.after(2).missing is None
    assert log.ack(5)
    assert log.retained == 0 and log.retained_bytes == 0
    assert log.after(5).entries == [] and log.after(5).missing is None
    # numbering goes on after everything was acknowledged
    entry = log.append(delta("z"))
    assert entry is not None and entry.seq == 6 and entry.event_id == f"{SID}:6"


def test_acked_unsealed_tail_is_not_grown_by_later_deltas():
    log = SessionLog(SID)
    first = log.append(delta("a"))
    assert first is not None
    assert log.ack(1)
    second = log.append(delta("b"))
    assert second is not None and second.seq == 2
    assert first.frame["content"] == "a"


# -- retention and the replay window ------------------------------------------------------------


def test_retention_by_count_drops_oldest_and_after_reports_the_missing_range():
    log = SessionLog(SID, max_events=3)
    for i in range(7):
        log.append(other(content=str(i)))
    assert [e.seq for e in log] == [5, 6, 7]
    assert_bytes_consistent(log)
    window = log.after(0)
    assert window.missing == (1, 4) and [e.seq for e in window.entries] == [5, 6, 7]
    assert log.after(2).missing == (3, 4)
    assert log.after(3).missing == (4, 4)
    assert log.after(4).missing is None and [e.seq for e in log.after(4).entries] == [5, 6, 7]
    assert log.after(6).missing is None and [e.seq for e in log.after(6).entries] == [7]
    assert log.after(7).missing is None and log.after(7).entries == []


def test_retention_by_bytes_drops_oldest_and_after_reports_the_missing_range():
    log = SessionLog(SID, max_events=1000, max_bytes=600)
    sizes = []
    for i in range(20):
        entry = log.append(other(content=f"{i:03d}" + "x" * 100))
        assert entry is not None
        sizes.append(sys.getsizeof(entry.seal()))
        assert log.retained_bytes <= 600
        assert_bytes_consistent(log)
    kept = [e.seq for e in log]
    assert kept == list(range(kept[0], 21)), "the newest entries are kept, contiguously"
    assert 1 < kept[0] < 20
    # dropping one more oldest entry would be unnecessary: the retained bytes are as many as fit
    assert log.retained_bytes + sizes[kept[0] - 2] > 600
    window = log.after(0)
    assert window.missing == (1, kept[0] - 1)
    assert [e.seq for e in window.entries] == kept
    assert log.after(kept[0] - 1).missing is None


def test_retention_never_drops_the_only_entry_even_if_it_is_large():
    log = SessionLog(SID, max_events=10, max_bytes=10)
    log.append(other(content="y" * 500))
    entry = log.append(other(content="z" * 500))
    assert entry is not None
    assert [e.seq for e in log] == [2]
    assert log.after(0).missing == (1, 1)
    assert_bytes_consistent(log)


def test_after_position_beyond_the_log_is_empty():
    log = SessionLog(SID)
    assert log.after(0).entries == [] and log.after(0).missing is None
    log.append(other())
    assert log.after(1).entries == [] and log.after(1).missing is None


# -- event ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        ("abc:12", ("abc", 12)),
        ("a:b:3", ("a:b", 3)),
        ("9f3c-uuid:0", ("9f3c-uuid", 0)),
        ("abc", None),
        (":3", None),
        ("abc:", None),
        ("abc:-1", None),
        ("abc:1.5", None),
        ("abc: 1", None),
        ("abc:²", None),
        ("abc:١٢", None),
        ("", None),
    ],
)
def test_parse_event_id(event_id, expected):
    assert parse_event_id(event_id) == expected


# -- subscriptions ----------------------------------------------------------------------------


def test_a_subscription_holds_live_events_until_started_so_the_replay_comes_first():
    log = SessionLog(SID)
    log.append(other(content="a"))
    log.append(other(content="b"))
    got: list[int] = []
    subscription = log.subscribe(1, lambda entry: got.append(entry.seq))
    assert [e.seq for e in subscription.window.entries] == [2] and subscription.window.last_seq == 2
    log.append(other(content="c"))  # appended while the consumer is still sending its replay
    assert got == []
    got.extend(e.seq for e in subscription.window.entries)
    subscription.start()
    log.append(other(content="d"))
    assert got == [2, 3, 4]


def test_an_unsubscribed_consumer_gets_nothing_more():
    log = SessionLog(SID)
    got: list[int] = []
    subscription = log.subscribe(0, lambda entry: got.append(entry.seq))
    subscription.start()
    log.append(other())
    log.unsubscribe(subscription)
    log.append(other())
    assert got == [1] and not log.subscriptions


def test_subscribing_without_a_position_starts_after_the_last_ack():
    log = SessionLog(SID)
    for i in range(4):
        log.append(other(content=str(i)))
    log.ack(3)
    subscription = log.subscribe(None, lambda entry: None)
    assert [e.seq for e in subscription.window.entries] == [4] and subscription.window.missing is None
