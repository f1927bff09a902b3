"""The single writer of a connection: a bounded queue drained by one task.

Sequenced events are queued as :class:`LogEntry` objects and serialised only when the writer
takes them, which is what lets the event log coalesce deltas that are still waiting. A client
that stops reading fills the queue; past ``max_frames`` the connection is closed with
:data:`CLOSE_SLOW_CONSUMER` and its sessions stay resumable.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from myagent.ws.event_log import LogEntry, encode_frame

__all__ = ["CLOSE_GOING_AWAY", "CLOSE_POLICY", "CLOSE_SLOW_CONSUMER", "OutboundChannel"]

logger = logging.getLogger(__name__)

#: Close codes the server uses (documented in docs/protocol.md).
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_SLOW_CONSUMER = 4008

Item = LogEntry | str


class OutboundChannel:
    """Frames for one connection, sent in order by one task.

    Args:
        send: coroutine that writes one text frame (may block while the peer is not reading).
        max_frames: queued frames before the peer counts as a slow consumer.
        on_overflow: called once when the queue overflows.
        on_sent: called after every frame written (metrics).
    """

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        *,
        max_frames: int,
        on_overflow: Callable[[], None],
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        self._send = send
        self._max_frames = max_frames
        self._on_overflow = on_overflow
        self._on_sent = on_sent
        self._queue: deque[Item] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._credit = 0  # frames queued beyond the limit on purpose (a replay the log already holds)
        self.overflowed = False

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        """Bytes of the frames waiting (entries not yet serialised are measured without sealing them)."""
        return sum(len(item) if isinstance(item, str) else _entry_size(item) for item in self._queue)

    def push(self, item: Item) -> bool:
        """Queue a frame; false (and the overflow callback) when the peer is too slow.

        Once overflowed, every later frame is refused too, even if the writer has made room in the
        meantime: the peer must get a gapless prefix of the stream, never a frame after a dropped one.
        """
        if self._closed or self.overflowed:
            return False
        if len(self._queue) >= self._max_frames + self._credit:
            self.overflowed = True
            self._on_overflow()
            return False
        self._queue.append(item)
        self._wakeup.set()
        return True

    def push_replay(self, items: list[LogEntry]) -> None:
        """Queue a replay as a whole: it may exceed the limit once, since the event log holds it anyway."""
        if self._closed or self.overflowed or not items:
            return
        self._queue.extend(items)
        self._credit += len(items)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def run(self) -> None:
        """Write queued frames until closed; a write error ends the loop (the reader notices)."""
        while True:
            # Let the producers that woke us run once more: deltas queued meanwhile are merged into
            # the waiting entry, which saves a frame and a system call each (measured in bench/).
            await asyncio.sleep(0)
            while self._queue:
                item = self._queue.popleft()
                data = item if isinstance(item, str) else item.seal()
                if self._credit:
                    self._credit -= 1
                await self._send(data)
                if self._on_sent is not None:
                    self._on_sent(len(data))
            if self._closed:
                return
            self._wakeup.clear()
            await self._wakeup.wait()


def _entry_size(entry: LogEntry) -> int:
    # Sealing here would stop the log from merging later deltas into the entry: measure a copy.
    return len(entry.data) if entry.data is not None else len(encode_frame(entry.frame))
