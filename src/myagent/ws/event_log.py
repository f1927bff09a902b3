"""Per-session event log: gapless ``seq``, stable ``event_id``, bounded retention, replay.

Every sequenced downstream event of a session is appended here before it is sent, so a client
that reconnects can be given exactly the events it missed. Text deltas
(``agent.partial_answer``) are coalesced losslessly: a delta is appended to the previous entry
when that entry is also a delta of the same step/task and has not been serialised for sending
yet. That saves frames under load without ever reordering, dropping or renumbering anything.
"""

from __future__ import annotations

import abc
import json
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from myagent.protocol.names import AgentEvents

__all__ = ["EventLog", "InMemoryEventLog", "LogEntry", "ReplayWindow", "encode_frame", "parse_event_id"]


def encode_frame(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def parse_event_id(event_id: str) -> tuple[str, int] | None:
    """``"<session_id>:<seq>"`` → ``(session_id, seq)``; ``None`` if it is not one of ours."""
    session_id, _, seq = event_id.rpartition(":")
    # ASCII only: str.isdigit() also accepts e.g. "²", which int() then rejects with ValueError.
    if not session_id or not (seq.isascii() and seq.isdigit()):
        return None
    return session_id, int(seq)


class LogEntry:
    """One sequenced event. Its frame may still grow (delta coalescing) until :meth:`seal`.

    Once sealed only the JSON text is kept (a retained event costs its text, not a dict as well);
    :attr:`frame` then decodes it on demand.
    """

    __slots__ = ("_frame", "data", "event_id", "seq")

    def __init__(self, seq: int, frame: dict[str, Any]) -> None:
        self.seq = seq
        self.event_id = str(frame["event_id"])
        self._frame: dict[str, Any] | None = frame
        self.data: str | None = None

    @property
    def frame(self) -> dict[str, Any]:
        if self._frame is not None:
            return self._frame
        assert self.data is not None
        decoded: dict[str, Any] = json.loads(self.data)
        return decoded

    @property
    def sealed(self) -> bool:
        return self.data is not None

    def seal(self) -> str:
        """Freeze and serialise the entry (idempotent); called when it is first sent."""
        if self.data is None:
            assert self._frame is not None
            self.data = encode_frame(self._frame)
            self._frame = None
        return self.data

    def absorb(self, frame: dict[str, Any]) -> bool:
        """Append ``frame``'s delta text to this entry if both are deltas of the same stream."""
        mine = self._frame
        if mine is None or frame.get("event") != AgentEvents.PARTIAL_ANSWER:
            return False
        if mine.get("event") != AgentEvents.PARTIAL_ANSWER or mine.get("metadata") != frame.get("metadata"):
            return False
        mine["content"] = str(mine.get("content", "")) + str(frame.get("content", ""))
        return True


@dataclass(frozen=True)
class ReplayWindow:
    """What a resuming client gets: the entries after its position, and any range no longer retained."""

    entries: list[LogEntry]
    missing: tuple[int, int] | None


class EventLog(abc.ABC):
    """The interface a session's event log offers (in memory now; a shared store later)."""

    @abc.abstractmethod
    def append(self, frame: dict[str, Any]) -> LogEntry | None:
        """Sequence ``frame``; returns the new entry, or ``None`` when it was coalesced into the last one."""

    @abc.abstractmethod
    def ack(self, seq: int) -> bool:
        """Mark everything up to ``seq`` delivered; false if ``seq`` was never issued."""

    @abc.abstractmethod
    def after(self, seq: int) -> ReplayWindow:
        """Entries with a higher ``seq``, in order, plus the lost range if some were dropped."""

    @property
    @abc.abstractmethod
    def last_seq(self) -> int: ...

    @property
    @abc.abstractmethod
    def acked_seq(self) -> int: ...


class InMemoryEventLog(EventLog):
    """Retains at most ``max_events`` entries and about ``max_bytes`` of memory for their frames."""

    def __init__(self, session_id: str, *, max_events: int = 1000, max_bytes: int = 1 << 20) -> None:
        self.session_id = session_id
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._entries: deque[LogEntry] = deque()
        self._last_seq = 0
        self._acked_seq = 0
        self._bytes = 0

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def acked_seq(self) -> int:
        return self._acked_seq

    @property
    def retained(self) -> int:
        return len(self._entries)

    @property
    def retained_bytes(self) -> int:
        return self._bytes

    def append(self, frame: dict[str, Any]) -> LogEntry | None:
        if self._entries and self._entries[-1].absorb(frame):
            return None
        if self._entries:
            # The tail can no longer grow: freeze it and count its memory once.
            self._bytes += sys.getsizeof(self._entries[-1].seal())
        self._last_seq += 1
        frame["seq"] = self._last_seq
        frame["event_id"] = f"{self.session_id}:{self._last_seq}"
        entry = LogEntry(self._last_seq, frame)
        self._entries.append(entry)
        self._trim()
        return entry

    def ack(self, seq: int) -> bool:
        if seq > self._last_seq or seq < 0:
            return False
        self._acked_seq = max(self._acked_seq, seq)
        while self._entries and self._entries[0].seq <= self._acked_seq:
            self._drop_oldest()
        return True

    def after(self, seq: int) -> ReplayWindow:
        first = self._entries[0].seq if self._entries else self._last_seq + 1
        missing = (seq + 1, first - 1) if seq + 1 < first and seq < self._last_seq else None
        entries = [entry for entry in self._entries if entry.seq > seq]
        return ReplayWindow(entries, missing)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def _trim(self) -> None:
        while len(self._entries) > self.max_events or (self._bytes > self.max_bytes and len(self._entries) > 1):
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        entry = self._entries.popleft()
        if self._entries and entry.data is not None:  # only non-tail entries were counted
            self._bytes -= sys.getsizeof(entry.data)
