"""The single writer of a connection: a queue bounded in frames and in bytes, drained by one task.

Sequenced events are queued as :class:`LogEntry` objects and serialised only when the writer
takes them, which is what lets the event log coalesce deltas that are still waiting. A client
that stops reading fills the queue; past ``max_frames`` frames or ``max_bytes`` bytes the
connection is closed with close code 4008 and its sessions stay resumable. The writer never dies
silently: a failure is logged once and reported through ``on_failure`` (the connection closes 1011).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocketDisconnect

from myagent.ws.event_log import LogEntry

__all__ = ["OutboundChannel"]

logger = logging.getLogger(__name__)

#: What a queued sequenced event is counted as before it is serialised (its envelope); its text is
#: added when it is a string. The event log holds the same entry, within its own retention limit.
_ENTRY_OVERHEAD = 256

Item = LogEntry | str


class OutboundChannel:
    """Frames for one connection, sent in order by one task.

    Args:
        send: coroutine that writes one text frame (may block while the peer is not reading).
        max_frames: queued frames before the peer counts as a slow consumer.
        max_bytes: queued bytes before the peer counts as a slow consumer.
        on_overflow: called once when the queue overflows.
        on_sent: called after every frame written (metrics).
        on_failure: called once if writing fails for another reason than the peer going away.
    """

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        *,
        max_frames: int,
        max_bytes: int = 4 << 20,
        on_overflow: Callable[[], None],
        on_sent: Callable[[int], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._send = send
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._on_overflow = on_overflow
        self._on_sent = on_sent
        self._on_failure = on_failure
        self._bytes = 0  # the queued items' costs (see _cost), each as it was counted when queued
        self._queue: deque[tuple[Item, int]] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._credit = 0  # frames queued beyond the limit on purpose (a replay the log already holds)
        self.overflowed = False

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        """What the waiting frames count against ``max_bytes`` (entries still growing by their size when queued)."""
        return self._bytes

    def push(self, item: Item) -> bool:
        """Queue a frame; false (and the overflow callback) when the peer is too slow.

        Once overflowed, every later frame is refused too, even if the writer has made room in the
        meantime: the peer must get a gapless prefix of the stream, never a frame after a dropped one.
        """
        if self._closed or self.overflowed:
            return False
        cost = _cost(item)
        if len(self._queue) >= self._max_frames + self._credit or (
            self._bytes + cost > self._max_bytes and self._queue
        ):
            self.overflowed = True
            self._on_overflow()
            return False
        self._queue.append((item, cost))
        self._bytes += cost
        self._wakeup.set()
        return True

    def push_replay(self, items: list[LogEntry]) -> None:
        """Queue a replay as a whole: it may exceed the limit once, since the event log holds it anyway."""
        if self._closed or self.overflowed or not items:
            return
        costed = [(item, _cost(item)) for item in items]
        self._queue.extend(costed)
        self._credit += len(items)
        self._bytes += sum(cost for _, cost in costed)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def run(self) -> None:
        """Write queued frames until closed.

        The peer going away ends the loop quietly (the reader notices); any other failure is logged
        once and reported to ``on_failure``, so that the connection is closed rather than left mute.
        """
        try:
            await self._write()
        except (asyncio.CancelledError, OSError, WebSocketDisconnect, RuntimeError):
            raise
        except Exception as exc:
            logger.exception("writer failed; closing the connection")
            self.close()
            if self._on_failure is not None:
                self._on_failure(exc)

    async def _write(self) -> None:
        while True:
            # Let the producers that woke us run once more: deltas queued meanwhile are merged into
            # the waiting entry, which saves a frame and a system call each (measured in bench/).
            await asyncio.sleep(0)
            while self._queue:
                # The entry may have grown since it was queued (coalesced deltas): take back what was
                # counted then, or the count drifts and the budget loosens.
                item, cost = self._queue.popleft()
                self._bytes -= cost
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


def _cost(item: Item) -> int:
    if isinstance(item, str):
        return len(item)
    content = item.frame.get("content") if item.data is None else item.data
    return _ENTRY_OVERHEAD + (len(content) if isinstance(content, str) else 0)
