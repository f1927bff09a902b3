"""``RedisEventLog``: one Redis Stream per session, the entry id being the event's ``seq``.

Appends go through one Lua script that checks the writer's fencing token, increments the seq,
``XADD``s the frame (with ``seq`` and ``event_id`` spliced into its JSON) under an approximate
``MAXLEN``, refreshes the TTLs and publishes a wake-up. The script also remembers the last few
append ids, so an append that redis-py retries after a lost reply is not written twice.

Live delivery: each node has one pub/sub connection (:class:`_Listener`) subscribed to the wake-up
channels of the sessions it has readers for. A wake-up only tells a reader to look; the reader
always reads the stream itself from its position, and also looks every ``poll_interval`` seconds
and after every reconnect of the listener, so a lost wake-up delays an event but never loses it.
Every delta is its own entry here (no coalescing: the entry is shared the moment it is appended).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import NoScriptError, RedisError

from myagent.protocol.rules import format_event_id
from myagent.ws.event_log import Deliver, EventLog, LogEntry, ReplayWindow, StaleFence, Subscription
from myagent.ws.redis.keys import Keys

__all__ = ["RedisEventLog"]

_Pending = tuple[list[str], list[Any], "asyncio.Future[Any]"]

logger = logging.getLogger(__name__)

# KEYS: seq, events, fence, recent append ids, acked.
# ARGV: fence ('' = unchecked), frame JSON without its closing brace, JSON of '"<session>:' (no
#       closing quote), maxlen, ttl ms, wake-up channel, append id.
# Returns {seq, data}, or {-1, current fence} when the writer's fence is stale.
_APPEND = """
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

# KEYS: seq, acked, events. ARGV: seq. Returns 1, or 0 if that seq was never issued.
_ACK = """
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq < 0 or seq > last then return 0 end
local acked = tonumber(redis.call('GET', KEYS[2]) or '0')
if seq > acked then
  redis.call('SET', KEYS[2], seq, 'KEEPTTL')
  redis.call('XTRIM', KEYS[3], 'MINID', seq + 1)
end
return 1
"""


class RedisEventLog(EventLog):
    """Every session's events in Redis Streams, readable and appendable from any node.

    Args:
        client: a ``redis.asyncio.Redis`` (bytes replies).
        keys: key names (prefix).
        max_events: entries kept per session (approximately: Redis trims whole stream nodes).
        ttl: seconds a session's log outlives its last append.
        poll_interval: seconds between a reader's own looks at the stream when no wake-up came.
    """

    def __init__(
        self,
        client: Redis,
        *,
        keys: Keys | None = None,
        max_events: int = 1000,
        ttl: float = 7 * 86400,
        poll_interval: float = 1.0,
    ) -> None:
        self.client = client
        self.keys = keys or Keys()
        self.max_events = max_events
        self.ttl_ms = int(ttl * 1000)
        self.poll_interval = poll_interval
        self._append = client.register_script(_APPEND)
        self._ack = client.register_script(_ACK)
        self._listener = _Listener(client)
        self._readers: dict[Subscription, _Reader] = {}
        self._queue: list[_Pending] = []
        self.inflight: dict[str, int] = {}  # sessions with appends of this node awaiting their reply
        self._flusher: asyncio.Task[None] | None = None

    async def append(self, session_id: str, frame: dict[str, Any], *, fence: int | None = None) -> LogEntry:
        frame.pop("seq", None)
        frame.pop("event_id", None)
        head = json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)[:-1]
        eid = json.dumps(format_event_id(session_id, 0)[:-1], ensure_ascii=False)[:-1]
        keys = self.keys
        self.inflight[session_id] = self.inflight.get(session_id, 0) + 1
        try:
            seq, data = await self._batched_append(
                [
                    keys.seq(session_id),
                    keys.events(session_id),
                    keys.fence(session_id),
                    f"{keys.session(session_id)}:appends",
                    keys.acked(session_id),
                ],
                [
                    "" if fence is None else str(fence),
                    _utf8(head),
                    _utf8(eid),
                    self.max_events,
                    self.ttl_ms,
                    keys.wake(session_id),
                    uuid.uuid4().hex,
                ],
            )
        except BaseException:
            self._settle(session_id)
            for reader in list(self._listener.readers.get(keys.wake(session_id), ())):
                reader.offer(None)  # wake-ups it put aside are read from the stream
            raise
        self._settle(session_id)
        readers = list(self._listener.readers.get(keys.wake(session_id), ()))
        if int(seq) < 0:
            for reader in readers:
                reader.offer(None)
            raise StaleFence(f"session {session_id}: fence {fence} is stale (current {data!r})")
        entry = _entry(session_id, int(seq), data)
        for reader in readers:
            reader.offer(entry)  # this node's own readers need no round trip for what it wrote
        return entry

    def _settle(self, session_id: str) -> None:
        left = self.inflight.pop(session_id) - 1
        if left:
            self.inflight[session_id] = left

    async def _batched_append(self, keys: list[str], args: list[Any]) -> Any:
        """Run the append script in the next pipelined batch (one round trip for every session's pending appends).

        Appends of one session keep their order: a batch is one pipeline, sent in queue order, and
        the next batch is sent only when the previous one has answered.
        """
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="redis-appends")
        return await done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:256], self._queue[256:]
            try:
                results = await self._send(batch)
            except BaseException as exc:
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc if isinstance(exc, Exception) else RedisError("append cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (*_, done), result in zip(batch, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    async def _send(self, batch: list[_Pending]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self._append.sha, len(keys), *keys, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        unknown = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if unknown:  # a restarted Redis forgot the script; NOSCRIPT means nothing ran: send those again
            await self.client.script_load(_APPEND)
            again = await self._send([batch[i] for i in unknown])
            for i, result in zip(unknown, again, strict=True):
                results[i] = result
        return results

    async def read(self, session_id: str, after_seq: int) -> ReplayWindow:
        after_seq = max(after_seq, 0)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xrange(self.keys.events(session_id), f"{after_seq + 1}-0", "+")
            pipe.get(self.keys.seq(session_id))
            raw, last = await pipe.execute()
        entries = [_entry(session_id, _seq_of(entry_id), fields[b"d"]) for entry_id, fields in raw]
        last_seq = int(last or 0)
        first = entries[0].seq if entries else last_seq + 1
        missing = (after_seq + 1, first - 1) if after_seq + 1 < first and after_seq < last_seq else None
        return ReplayWindow(entries, missing, last_seq)

    async def ack(self, session_id: str, seq: int) -> bool:
        keys = [self.keys.seq(session_id), self.keys.acked(session_id), self.keys.events(session_id)]
        return bool(await self._ack(keys=keys, args=[seq]))

    async def last_seq(self, session_id: str) -> int:
        return int(await self.client.get(self.keys.seq(session_id)) or 0)

    async def subscribe(self, session_id: str, after_seq: int | None, deliver: Deliver) -> Subscription:
        reader = _Reader(self, session_id)
        # Listen first, read second: an event appended in between is then seen by the reader.
        await self._listener.watch(self.keys.wake(session_id), reader)
        try:
            if after_seq is None:
                after_seq = int(await self.client.get(self.keys.acked(session_id)) or 0)
            window = await self.read(session_id, after_seq)
        except BaseException:
            await self._listener.unwatch(self.keys.wake(session_id), reader)
            raise
        subscription = Subscription(session_id, window, deliver)
        reader.start(subscription, max(after_seq, window.last_seq))
        self._readers[subscription] = reader
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        reader = self._readers.pop(subscription, None)
        if reader is not None:
            await reader.stop()
            await self._listener.unwatch(self.keys.wake(subscription.session_id), reader)

    async def drop(self, session_id: str) -> None:
        for subscription in [s for s in self._readers if s.session_id == session_id]:
            await self.unsubscribe(subscription)
        keys = self.keys
        await self.client.delete(
            keys.events(session_id), keys.seq(session_id), keys.acked(session_id), f"{keys.session(session_id)}:appends"
        )

    async def aclose(self) -> None:
        """Stop every reader and the pub/sub listener (the client stays open: it is the caller's)."""
        for subscription in list(self._readers):
            await self.unsubscribe(subscription)
        await self._listener.aclose()
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)


class _Reader:
    """Delivers one subscription's new entries, in order, from the stream itself."""

    def __init__(self, log: RedisEventLog, session_id: str) -> None:
        self.log = log
        self.session_id = session_id
        self.position = 0
        self.woken = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.subscription: Subscription | None = None
        self.skipped = 0  # the highest wake-up seq left to offer() while an append was in flight

    def start(self, subscription: Subscription, position: int) -> None:
        self.position = position
        self.subscription = subscription
        self.task = asyncio.create_task(self._run(subscription), name=f"redis-reader-{self.session_id}")

    def wake(self, seq: int | None = None) -> None:
        """Look at the stream (``seq``: the wake-up's event; nothing to do if it was delivered already).

        While this node has an append of the session in flight, the wake-up is often for that very
        append, whose reply delivers it without a read: note the seq and let :meth:`offer` decide.
        """
        if seq is not None and self.log.inflight.get(self.session_id):
            self.skipped = max(self.skipped, seq)
        elif seq is None or seq > self.position:
            self.woken.set()

    def offer(self, entry: LogEntry | None) -> None:
        """An append of this node answered: deliver its entry now if it is the next one, else read the stream."""
        if entry is not None and self.subscription is not None and entry.seq == self.position + 1:
            self.position = entry.seq
            self.subscription.push(entry)
        elif entry is not None and entry.seq > self.position:
            self.woken.set()
        if self.skipped > self.position:
            self.woken.set()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _run(self, subscription: Subscription) -> None:
        while not subscription.closed:
            try:
                await self._catch_up(subscription)
            except RedisError as exc:  # Redis away: try again on the next wake-up or poll
                logger.warning("session %s: reading new events failed (%s); retrying", self.session_id, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.log.poll_interval)
            self.woken.clear()

    async def _catch_up(self, subscription: Subscription) -> None:
        """Deliver every entry after :attr:`position`; report (and skip) any range trimmed before it was read."""
        while True:
            raw: Any = await self.log.client.xrange(
                self.log.keys.events(self.session_id), f"{self.position + 1}-0", "+", count=500
            )
            if not raw:
                return
            for entry_id, fields in raw:
                seq = _seq_of(entry_id)
                if seq <= self.position:
                    continue  # offered meanwhile by an append of this node
                if seq != self.position + 1:
                    logger.error(
                        "session %s: events %d..%d were trimmed before this node read them",
                        self.session_id,
                        self.position + 1,
                        seq - 1,
                    )
                self.position = seq
                subscription.push(_entry(self.session_id, seq, fields[b"d"]))
            if subscription.closed:
                return


class _Listener:
    """One pub/sub connection per node: subscribes to the wake-up channels its readers need.

    redis-py's pub/sub re-subscribes after a reconnect but cannot replay what was published in
    between, so every (re)connect wakes every reader, which then reads the stream itself.
    """

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.readers: dict[str, set[_Reader]] = {}
        self.pubsub: PubSub | None = None
        self.task: asyncio.Task[None] | None = None
        self._subscribed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()

    async def watch(self, channel: str, reader: _Reader) -> None:
        readers = self.readers.setdefault(channel, set())
        readers.add(reader)
        if len(readers) > 1:
            return
        confirmed = self._subscribed[channel] = asyncio.Event()
        async with self._lock:
            pubsub = await self._ensure()
            await pubsub.subscribe(channel)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="redis-wakeups")
        with contextlib.suppress(TimeoutError):  # an unconfirmed subscription is covered by polling
            await asyncio.wait_for(confirmed.wait(), 5.0)

    async def unwatch(self, channel: str, reader: _Reader) -> None:
        readers = self.readers.get(channel)
        if readers is None:
            return
        readers.discard(reader)
        if readers:
            return
        del self.readers[channel]
        self._subscribed.pop(channel, None)
        if self.pubsub is not None:
            with contextlib.suppress(RedisError):
                async with self._lock:
                    await self.pubsub.unsubscribe(channel)

    async def _ensure(self) -> PubSub:
        if self.pubsub is None:
            self.pubsub = self.client.pubsub(ignore_subscribe_messages=False)
        return self.pubsub

    async def _on_connect(self, connection: object) -> None:
        # Runs on every (re)connect of the pub/sub connection: what was published meanwhile is lost.
        for readers in list(self.readers.values()):
            for reader in readers:
                reader.wake()

    async def _run(self) -> None:
        delay = 0.05
        while self.readers:
            pubsub = await self._ensure()
            try:
                if pubsub.connection is not None:
                    pubsub.connection.register_connect_callback(self._on_connect)
                message = await pubsub.get_message(timeout=1.0)
                delay = 0.05
            except (RedisError, OSError) as exc:
                logger.warning("redis wake-ups: connection lost (%s); reconnecting in %.2f s", exc, delay)
                await self._reset()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                await self._resubscribe()
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = bytes(message["channel"]).decode("utf-8", "surrogatepass")
        if message["type"] == "subscribe":
            confirmed = self._subscribed.get(channel)
            if confirmed is not None:
                confirmed.set()
        elif message["type"] == "message":
            seq = int(message["data"])
            for reader in self.readers.get(channel, ()):
                reader.wake(seq)

    async def _reset(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _resubscribe(self) -> None:
        """A fresh connection: subscribe again to every channel, then let every reader look."""
        try:
            async with self._lock:
                pubsub = await self._ensure()
                if self.readers:
                    await pubsub.subscribe(*self.readers)
        except (RedisError, OSError) as exc:
            logger.warning("redis wake-ups: resubscribing failed (%s)", exc)
            await self._reset()
        await self._on_connect(None)

    async def aclose(self) -> None:
        self.readers.clear()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self._reset()


def _seq_of(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _entry(session_id: str, seq: int, data: bytes) -> LogEntry:
    return LogEntry.from_data(seq, format_event_id(session_id, seq), bytes(data).decode("utf-8", "surrogatepass"))
