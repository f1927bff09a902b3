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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from myagent.errors import MyAgentError
from myagent.protocol.codec import encode_frame as codec_encode_frame
from myagent.protocol.names import AgentEvents
from myagent.protocol.rules import format_event_id

__all__ = [
    "EventLog",
    "InMemoryEventLog",
    "LogEntry",
    "Missed",
    "ReplayWindow",
    "SessionLog",
    "StaleFence",
    "Subscription",
    "encode_frame",
]


class StaleFence(MyAgentError):
    """An append carried the fencing token of a run lease that another process has taken since."""


def encode_frame(frame: dict[str, Any]) -> str:
    """The frame as strict JSON that is valid UTF-8; never raises (see :mod:`myagent.protocol.codec`)."""
    return codec_encode_frame(frame)


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

    @classmethod
    def from_data(cls, seq: int, event_id: str, data: str) -> LogEntry:
        """An entry already serialised elsewhere (a shared log hands out the text it stored)."""
        entry = cls.__new__(cls)
        entry.seq, entry.event_id, entry._frame, entry.data = seq, event_id, None, data
        return entry

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
        if frame.get("event") != AgentEvents.PARTIAL_ANSWER:
            return False
        return self.absorb_text(str(frame.get("content", "")), frame.get("metadata"))

    def absorb_text(self, text: str, metadata: dict[str, Any] | None) -> bool:
        """Append a delta's ``text`` if this entry is an unsent delta with the same ``metadata``."""
        mine = self._frame
        if mine is None or mine.get("event") != AgentEvents.PARTIAL_ANSWER or mine.get("metadata") != metadata:
            return False
        mine["content"] = str(mine.get("content", "")) + text
        return True


@dataclass(frozen=True)
class ReplayWindow:
    """What a resuming client gets: the entries after its position, and any range no longer retained."""

    entries: list[LogEntry]
    missing: tuple[int, int] | None
    last_seq: int = 0  # the session's last seq when the window was taken


@dataclass(frozen=True)
class Missed:
    """Not an event: a live consumer's events ``first..last`` were trimmed before it could get them.

    A shared log trims by length whoever still reads; a consumer told this reports it as the replay
    does (``REPLAY_GAP`` with the lost range) and goes on with the events after it.
    """

    session_id: str
    first: int
    last: int


#: A consumer of a subscription: gets each entry in order, and a :class:`Missed` where some were lost.
Deliver = Callable[[LogEntry | Missed], object]


class Subscription:
    """One consumer of a session's events after a position, in order.

    :attr:`window` is what the consumer missed (entries after its position, and any range no
    longer retained). Events appended meanwhile are held until :meth:`start`, so a consumer can
    send a notice and the replay first and the live events after them, never interleaved.
    """

    def __init__(self, session_id: str, window: ReplayWindow, deliver: Deliver) -> None:
        self.session_id = session_id
        self.window = window
        self._deliver = deliver
        self._held: list[LogEntry | Missed] | None = []
        self.closed = False

    def start(self) -> None:
        """Deliver what was held, then every new event as it is appended."""
        held, self._held = self._held or [], None
        for entry in held:
            self._deliver(entry)

    def push(self, entry: LogEntry | Missed) -> None:
        if self.closed:
            return
        if self._held is not None:
            self._held.append(entry)
        else:
            self._deliver(entry)

    def close(self) -> None:
        self.closed = True
        self._held = None


class SessionLog:
    """One session's events in memory: at most ``max_events`` entries and about ``max_bytes`` of frames."""

    def __init__(self, session_id: str, *, max_events: int = 1000, max_bytes: int = 1 << 20) -> None:
        self.session_id = session_id
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.subscriptions: list[Subscription] = []
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
        """Sequence ``frame`` and hand it to the subscribers; ``None`` when it was coalesced into the tail."""
        if self._entries and self._entries[-1].absorb(frame):
            return None
        if self._entries:
            # The tail can no longer grow: freeze it and count its memory once.
            self._bytes += sys.getsizeof(self._entries[-1].seal())
        self._last_seq += 1
        frame["seq"] = self._last_seq
        frame["event_id"] = format_event_id(self.session_id, self._last_seq)
        entry = LogEntry(self._last_seq, frame)
        self._entries.append(entry)
        self._trim()
        for subscription in self.subscriptions:
            subscription.push(entry)
        return entry

    def merge_delta(self, text: str, metadata: dict[str, Any] | None) -> bool:
        """Append a text delta to the tail if the tail is an unsent delta of the same stream."""
        return bool(self._entries) and self._entries[-1].absorb_text(text, metadata)

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
        return ReplayWindow(entries, missing, self._last_seq)

    def subscribe(self, after_seq: int | None, deliver: Deliver) -> Subscription:
        position = self._acked_seq if after_seq is None else after_seq
        subscription = Subscription(self.session_id, self.after(position), deliver)
        self.subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        if subscription in self.subscriptions:
            self.subscriptions.remove(subscription)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def _trim(self) -> None:
        while len(self._entries) > self.max_events or (self._bytes > self.max_bytes and len(self._entries) > 1):
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        entry = self._entries.popleft()
        if self._entries and entry.data is not None:  # only non-tail entries were counted
            self._bytes -= sys.getsizeof(entry.data)


class EventLog(abc.ABC):
    """Where every session's sequenced events live; one per server, shareable between processes.

    ``append`` gives gapless ``seq`` numbers per session; ``subscribe`` delivers every event after a
    position, then live ones, to one consumer (a connection's writer).
    """

    @abc.abstractmethod
    async def append(self, session_id: str, frame: dict[str, Any], *, fence: int | None = None) -> LogEntry | None:
        """Sequence ``frame``; the new entry, or ``None`` when it was coalesced into the last one.

        ``fence`` is the writer's run-lease fencing token; a shared log refuses an append whose
        token is no longer the session's latest.

        Raises:
            StaleFence: another process has taken the session's run lease since ``fence`` was issued.
        """

    def merge_delta(self, session_id: str, text: str, metadata: dict[str, Any] | None) -> bool:
        """Merge a text delta into the session's last event if that is an unsent delta of the same stream.

        Synchronous and without I/O: a log that can tell at once (the in-memory one) saves building
        a whole frame for every delta that would only be coalesced. ``False`` (always, by default):
        :meth:`append` the delta as a frame, which coalesces it wherever the log can.
        """
        return False

    @abc.abstractmethod
    async def read(self, session_id: str, after_seq: int) -> ReplayWindow:
        """Entries with a higher ``seq``, in order, plus the lost range if some were dropped."""

    @abc.abstractmethod
    async def ack(self, session_id: str, seq: int) -> bool:
        """Mark everything up to ``seq`` delivered (it may be trimmed); false if ``seq`` was never issued."""

    @abc.abstractmethod
    async def last_seq(self, session_id: str) -> int: ...

    @abc.abstractmethod
    async def subscribe(self, session_id: str, after_seq: int | None, deliver: Deliver) -> Subscription:
        """Events after ``after_seq`` (``None``: after the last acknowledged one), then live events."""

    @abc.abstractmethod
    async def unsubscribe(self, subscription: Subscription) -> None: ...

    @abc.abstractmethod
    async def drop(self, session_id: str) -> None:
        """Forget a closed session's events."""


class InMemoryEventLog(EventLog):
    """Every session's log in this process's memory (several services may share one instance)."""

    def __init__(self, *, max_events: int = 1000, max_bytes: int = 1 << 20) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.logs: dict[str, SessionLog] = {}

    def log(self, session_id: str) -> SessionLog:
        log = self.logs.get(session_id)
        if log is None:
            log = self.logs[session_id] = SessionLog(session_id, max_events=self.max_events, max_bytes=self.max_bytes)
        return log

    async def append(self, session_id: str, frame: dict[str, Any], *, fence: int | None = None) -> LogEntry | None:
        # One process holds every lease of an in-memory log's sessions: no stale writer to fence out.
        return self.log(session_id).append(frame)

    def merge_delta(self, session_id: str, text: str, metadata: dict[str, Any] | None) -> bool:
        log = self.logs.get(session_id)
        return log is not None and log.merge_delta(text, metadata)

    async def read(self, session_id: str, after_seq: int) -> ReplayWindow:
        return self.log(session_id).after(after_seq)

    async def ack(self, session_id: str, seq: int) -> bool:
        return self.log(session_id).ack(seq)

    async def last_seq(self, session_id: str) -> int:
        log = self.logs.get(session_id)
        return 0 if log is None else log.last_seq

    async def subscribe(self, session_id: str, after_seq: int | None, deliver: Deliver) -> Subscription:
        return self.log(session_id).subscribe(after_seq, deliver)

    async def unsubscribe(self, subscription: Subscription) -> None:
        log = self.logs.get(subscription.session_id)
        if log is not None:
            log.unsubscribe(subscription)
        else:
            subscription.close()

    async def drop(self, session_id: str) -> None:
        log = self.logs.pop(session_id, None)
        if log is not None:
            for subscription in log.subscriptions:
                subscription.close()

    def retained(self) -> int:
        return sum(log.retained for log in self.logs.values())
