"""Appends of one node, pipelined: every session's pending events go to Redis in one round trip.

A run need not wait for its text deltas: a delta is queued and the run goes on; deltas of the same
stream queued behind one another merge into one entry until the batch that carries them is sent
(lossless, as the in-memory log coalesces until an entry is sent). Every other event waits for its
seq. Batches go one at a time in queue order, so a session's events keep their order. If Redis
refuses or loses a queued delta, the session's next append raises that error: nothing is dropped
silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from myagent.protocol.names import AgentEvents
from myagent.protocol.rules import format_event_id
from myagent.ws.event_log import LogEntry, StaleFence
from myagent.ws.redis.keys import Keys

__all__ = ["APPEND_SCRIPT", "Appender", "entry_from", "seq_of"]

logger = logging.getLogger(__name__)

# KEYS: seq, events, fence, recent append ids, acked.
# ARGV: fence ('' = unchecked), frame JSON without its closing brace, JSON of '"<session>:' (no
#       closing quote), maxlen, ttl ms, wake-up channel, append id.
# Returns {seq, data}, or {-1, current fence} when the writer's fence is stale.
APPEND_SCRIPT = """
local seq_key, events, fence_key, recent, acked = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local fence, head, eid, maxlen, ttl, channel, append_id =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if fence ~= '' then
  local current = redis.call('GET', fence_key)
  if current ~= fence then return {-1, current or ''} end
end
for _, seen in ipairs(redis.call('LRANGE', recent, 0, -1)) do
  local sep = string.find(seen, ' ', 1, true)
  if string.sub(seen, sep + 1) == append_id then
    local seq = string.sub(seen, 1, sep - 1)
    local entry = redis.call('XRANGE', events, seq, seq)
    if entry[1] then return {tonumber(seq), entry[1][2][2]} end
  end
end
local seq = redis.call('INCR', seq_key)
local data = head .. ',"seq":' .. seq .. ',"event_id":' .. eid .. seq .. '"}'
redis.call('XADD', events, 'MAXLEN', '~', maxlen, seq .. '-0', 'd', data)
redis.call('LPUSH', recent, seq .. ' ' .. append_id)
redis.call('LTRIM', recent, 0, 7)
for _, key in ipairs({seq_key, events, recent, acked}) do redis.call('PEXPIRE', key, ttl) end
redis.call('PUBLISH', channel, seq)
return {seq, data}
"""

_BATCH = 256


class _Pending:
    """One queued append; ``done`` is ``None`` for a delta nobody waits for."""

    __slots__ = ("append_id", "done", "fence", "frame", "session_id")

    def __init__(
        self, session_id: str, frame: dict[str, Any], fence: int | None, done: asyncio.Future[LogEntry] | None
    ) -> None:
        self.session_id = session_id
        self.frame = frame
        self.fence = fence
        self.done = done
        self.append_id = uuid.uuid4().hex  # a retried batch must not write this twice

    def absorb(self, frame: dict[str, Any], fence: int | None) -> bool:
        mine = self.frame
        if fence != self.fence or mine.get("metadata") != frame.get("metadata"):
            return False
        mine["content"] = str(mine.get("content", "")) + str(frame.get("content", ""))
        return True


class Appender:
    """The node's queue of appends and the task sending it.

    Args:
        client, keys: where to write.
        max_events, ttl_ms: stream length (approximate) and key lifetime.
        on_written: called with each session id and its new entry once Redis has it (``None`` if
            the append failed), in order.
    """

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        *,
        max_events: int,
        ttl_ms: int,
        on_written: Callable[[str, LogEntry | None], None],
    ) -> None:
        self.client = client
        self.keys = keys
        self.max_events = max_events
        self.ttl_ms = ttl_ms
        self.on_written = on_written
        self.inflight: dict[str, int] = {}  # sessions with queued or unanswered appends
        self._script = client.register_script(APPEND_SCRIPT)
        self._queue: list[_Pending] = []
        self._tails: dict[str, _Pending] = {}  # each session's queued delta that may still grow
        self._failed: dict[str, Exception] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def append(self, session_id: str, frame: dict[str, Any], fence: int | None) -> LogEntry | None:
        failure = self._failed.pop(session_id, None)
        if failure is not None:
            raise failure
        frame.pop("seq", None)
        frame.pop("event_id", None)
        if frame.get("event") == AgentEvents.PARTIAL_ANSWER:
            tail = self._tails.get(session_id)
            if tail is not None and tail.absorb(frame, fence):
                return None
            self._tails[session_id] = self._enqueue(_Pending(session_id, frame, fence, None))
            return None
        self._tails.pop(session_id, None)  # a later delta must come after this event
        done: asyncio.Future[LogEntry] = asyncio.get_running_loop().create_future()
        self._enqueue(_Pending(session_id, frame, fence, done))
        return await done

    def forget(self, session_id: str) -> None:
        """A dropped session: its queued appends are not sent."""
        self._queue = [item for item in self._queue if item.session_id != session_id or item.done is not None]
        self._tails.pop(session_id, None)
        self._failed.pop(session_id, None)

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)

    def _enqueue(self, item: _Pending) -> _Pending:
        self.inflight[item.session_id] = self.inflight.get(item.session_id, 0) + 1
        self._queue.append(item)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="redis-appends")
        return item

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:_BATCH], self._queue[_BATCH:]
            for item in batch:
                if self._tails.get(item.session_id) is item:
                    del self._tails[item.session_id]  # being sent: it can grow no more
            results: list[Any]
            try:
                results = await self._send(batch)
            except Exception as exc:  # Redis away: every append of the batch failed
                results = [exc] * len(batch)
            except BaseException:
                for item in batch:
                    self._settle(item, RedisError("the append was cancelled"))
                raise
            for item, result in zip(batch, results, strict=True):
                self._settle(item, result)

    def _settle(self, item: _Pending, result: Any) -> None:
        session_id = item.session_id
        left = self.inflight.pop(session_id, 1) - 1
        if left:
            self.inflight[session_id] = left
        entry: LogEntry | None = None
        error: Exception | None = None
        if isinstance(result, Exception):
            error = result
        elif int(result[0]) < 0:
            error = StaleFence(f"session {session_id}: fence {item.fence} is stale (current {result[1]!r})")
        else:
            entry = entry_from(session_id, int(result[0]), result[1])
        if item.done is None:
            if error is not None:
                logger.error("session %s: a streamed delta could not be written: %s", session_id, error)
                self._failed.setdefault(session_id, error)
        elif not item.done.done():
            if error is not None:
                item.done.set_exception(error)
            else:
                assert entry is not None
                item.done.set_result(entry)
        self.on_written(session_id, entry)

    async def _send(self, batch: list[_Pending]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for item in batch:
                keys, args = self._call(item)
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        unknown = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if unknown:  # a restarted Redis forgot the script; NOSCRIPT means nothing ran: send those again
            await self.client.script_load(APPEND_SCRIPT)
            again = await self._send([batch[i] for i in unknown])
            for i, result in zip(unknown, again, strict=True):
                results[i] = result
        return results

    def _call(self, item: _Pending) -> tuple[list[str], list[Any]]:
        keys, session_id = self.keys, item.session_id
        head = json.dumps(item.frame, ensure_ascii=False, separators=(",", ":"), default=str)[:-1]
        eid = json.dumps(format_event_id(session_id, 0)[:-1], ensure_ascii=False)[:-1]
        return (
            [
                keys.seq(session_id),
                keys.events(session_id),
                keys.fence(session_id),
                f"{keys.session(session_id)}:appends",
                keys.acked(session_id),
            ],
            [
                "" if item.fence is None else str(item.fence),
                _utf8(head),
                _utf8(eid),
                self.max_events,
                self.ttl_ms,
                keys.wake(session_id),
                item.append_id,
            ],
        )


def seq_of(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def entry_from(session_id: str, seq: int, data: bytes) -> LogEntry:
    """A sealed entry from the stored text (sent as is, never re-encoded)."""
    return LogEntry.from_data(seq, format_event_id(session_id, seq), bytes(data).decode("utf-8", "surrogatepass"))
