"""``RedisEventLog``: one Redis Stream per session, the entry id being the event's ``seq``.

Appends go through one Lua script (:mod:`myagent.ws.redis.appender`) that checks the writer's
fencing token, increments the seq, ``XADD``s the frame (with ``seq`` and ``event_id`` spliced into
its JSON) under an approximate ``MAXLEN``, refreshes the TTLs and publishes a wake-up. The script
also remembers the last few append ids, so an append that redis-py retries after a lost reply is
not written twice. A node pipelines its appends and merges text deltas queued behind one another.

Live delivery: each node has one pub/sub connection (:class:`_Listener`) subscribed to the wake-up
channels of the sessions it has readers for. A wake-up only tells a reader to look; the reader
always reads the stream itself from its position, and also looks every ``poll_interval`` seconds
and after every reconnect of the listener, so a lost wake-up delays an event but never loses it.
A reader so far behind that ``MAXLEN`` trimmed its next events delivers a
:class:`~myagent.ws.event_log.Missed` with the lost range (its connection sends ``REPLAY_GAP``, as a
replay does), then the events after it. A delta is never merged into an entry once it was sent to
Redis (other nodes may have read it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from myagent.ws.event_log import Deliver, EventLog, LogEntry, Missed, ReplayWindow, Subscription
from myagent.ws.redis.appender import Appender, entry_from, seq_of
from myagent.ws.redis.keys import Keys

__all__ = ["RedisEventLog"]


logger = logging.getLogger(__name__)

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
        drop_after: seconds a dropped (closed) session's events stay readable by other nodes.
    """

    def __init__(
        self,
        client: Redis,
        *,
        keys: Keys | None = None,
        max_events: int = 1000,
        ttl: float = 7 * 86400,
        poll_interval: float = 1.0,
        drop_after: float = 30.0,
    ) -> None:
        self.client = client
        self.drop_after_ms = int(drop_after * 1000)
        self.keys = keys or Keys()
        self.max_events = max_events
        self.ttl_ms = int(ttl * 1000)
        self.poll_interval = poll_interval
        self._ack = client.register_script(_ACK)
        self._listener = _Listener(client)
        self._readers: dict[Subscription, _Reader] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._appender = Appender(
            client, self.keys, max_events=max_events, ttl_ms=self.ttl_ms, on_written=self._written
        )

    async def append(self, session_id: str, frame: dict[str, Any], *, fence: int | None = None) -> LogEntry | None:
        """Sequence ``frame`` in Redis; ``None`` for a text delta, which is queued (and may merge) instead.

        Raises:
            StaleFence: ``fence`` is no longer the session's latest.
            redis.RedisError: Redis refused or could not be reached (for this event, or for a delta
                of this session queued before it).
        """
        return await self._appender.append(session_id, frame, fence)

    @property
    def inflight(self) -> dict[str, int]:
        """Sessions with appends of this node not yet answered by Redis."""
        return self._appender.inflight

    def _written(self, session_id: str, entry: LogEntry | None) -> None:
        # This node's own readers need no round trip for what it wrote.
        for reader in list(self._listener.readers.get(self.keys.wake(session_id), ())):
            reader.offer(entry)

    async def read(self, session_id: str, after_seq: int) -> ReplayWindow:
        after_seq = max(after_seq, 0)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xrange(self.keys.events(session_id), f"{after_seq + 1}-0", "+")
            pipe.get(self.keys.seq(session_id))
            raw, last = await pipe.execute()
        entries = [entry_from(session_id, seq_of(entry_id), fields[b"d"]) for entry_id, fields in raw]
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
            self._listener.unwatch(self.keys.wake(session_id), reader)
            raise
        subscription = Subscription(session_id, window, deliver)
        reader.start(subscription, max(after_seq, window.last_seq))
        self._readers[subscription] = reader
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        reader = self._readers.pop(subscription, None)
        if reader is not None:
            task = reader.stop()
            if task is not None and not task.done():
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
            self._listener.unwatch(self.keys.wake(subscription.session_id), reader)

    async def drop(self, session_id: str) -> None:
        self._appender.forget(session_id)
        for subscription in [s for s in self._readers if s.session_id == session_id]:
            await self.unsubscribe(subscription)
        # Not deleted at once: a reader on another node may not have read the closing event yet.
        keys = self.keys
        async with self.client.pipeline(transaction=True) as pipe:
            for key in (keys.events, keys.seq, keys.acked):
                pipe.pexpire(key(session_id), self.drop_after_ms)
            pipe.delete(f"{keys.session(session_id)}:appends")
            await pipe.execute()

    async def aclose(self) -> None:
        """Stop every reader and the pub/sub listener (the client stays open: it is the caller's)."""
        for subscription in list(self._readers):
            await self.unsubscribe(subscription)
        await asyncio.gather(*self._stopping, return_exceptions=True)
        await self._listener.aclose()
        await self._appender.aclose()


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

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the reader's task without waiting for it (unsubscribing must not be a place to get stuck)."""
        if self.task is not None:
            self.task.cancel()
        return self.task

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
        """Deliver every entry after :attr:`position`; a range trimmed before it was read comes as :class:`Missed`."""
        while True:
            raw: Any = await self.log.client.xrange(
                self.log.keys.events(self.session_id), f"{self.position + 1}-0", "+", count=500
            )
            if not raw:
                return
            for entry_id, fields in raw:
                seq = seq_of(entry_id)
                if seq <= self.position:
                    continue  # offered meanwhile by an append of this node
                if seq != self.position + 1:  # trimmed (MAXLEN) before this reader got to them
                    logger.warning(
                        "session %s: events %d..%d were trimmed before this node read them",
                        self.session_id,
                        self.position + 1,
                        seq - 1,
                    )
                    subscription.push(Missed(self.session_id, self.position + 1, seq - 1))
                self.position = seq
                subscription.push(entry_from(self.session_id, seq, fields[b"d"]))
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
        self._unsubscribing: set[asyncio.Task[None]] = set()
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

    def unwatch(self, channel: str, reader: _Reader) -> None:
        """Forget ``reader``; the channel's UNSUBSCRIBE is sent in the background when it was the last one."""
        readers = self.readers.get(channel)
        if readers is None:
            return
        readers.discard(reader)
        if readers:
            return
        del self.readers[channel]
        self._subscribed.pop(channel, None)
        if self.pubsub is not None:
            task = asyncio.create_task(self._unsubscribe(self.pubsub, channel), name="redis-unsubscribe")
            self._unsubscribing.add(task)
            task.add_done_callback(self._unsubscribing.discard)

    async def _unsubscribe(self, pubsub: PubSub, channel: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            async with self._lock:
                if channel not in self.readers:  # nobody subscribed again meanwhile
                    await pubsub.unsubscribe(channel)

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
        for task in list(self._unsubscribing):
            task.cancel()
        await asyncio.gather(*self._unsubscribing, return_exceptions=True)
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self._reset()
