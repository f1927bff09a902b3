"""Redis backends of the four storage seams: several server processes share sessions through one Redis.

>>> backends = connect_redis_backends("redis://localhost:6379/0")
>>> store, event_log, control, leases = backends

Needs the ``redis`` extra (``pip install 'myagent[redis]'``) and Redis 7 or later.
"""

from __future__ import annotations

from typing import NamedTuple

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from myagent.ws.redis.control import RedisControlBus
from myagent.ws.redis.event_log import RedisEventLog
from myagent.ws.redis.keys import Keys
from myagent.ws.redis.lease import RedisLeases
from myagent.ws.redis.store import RedisSessionStore

__all__ = [
    "Keys",
    "RedisBackends",
    "RedisControlBus",
    "RedisEventLog",
    "RedisLeases",
    "RedisSessionStore",
    "connect_redis_backends",
]

_CONTROL_TIMEOUT = 10.0  # seconds a node waits for another node's answer to a control command


class RedisBackends(NamedTuple):
    """The four seams on one client; unpacks as ``store, event_log, control, leases``."""

    store: RedisSessionStore
    event_log: RedisEventLog
    control: RedisControlBus
    leases: RedisLeases

    async def aclose(self) -> None:
        """Stop the readers and listeners, then close the clients' connections."""
        await self.event_log.aclose()
        await self.control.aclose()
        await self.store.client.aclose()
        await self.control.client.aclose()


def connect_redis_backends(
    url: str,
    *,
    prefix: str = "myagent",
    max_events: int = 1000,
    poll_interval: float = 1.0,
    max_connections: int = 64,
    pool_timeout: float = 20.0,
) -> RedisBackends:
    """The four seams on the Redis at ``url`` (connections open on first use).

    Args:
        url: a redis-py URL (``redis://``, ``rediss://`` or ``unix://``).
        prefix: first part of every key (several deployments may share a Redis).
        max_events: events retained per session for replay (approximately, see ``RedisEventLog``).
        poll_interval: seconds between a reader's own looks at its stream when no wake-up arrives.
        max_connections: connections of this process for commands; more concurrent commands wait
            for one (up to ``pool_timeout`` seconds, then ``redis.ConnectionError``).
        pool_timeout: see ``max_connections``.
    """
    # surrogatepass: session ids and owners are client text, lone surrogates included.
    # A restarted Redis leaves every pooled connection dead, and redis-py's pool retries nothing by
    # default: each stale connection failed one command (a run ended with RUN_FAILED). Retry on a
    # fresh connection for ~2 s; safe, since an append carries an id its script de-duplicates and
    # the other writes set values rather than add to them.
    retry = Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.05), 6)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, encoding_errors="surrogatepass", retry=retry
    )
    client = Redis.from_pool(pool)
    # The control bus's blocking reads (XREAD BLOCK, BLPOP) hold a connection each: their own pool,
    # so they never starve the appends. Their socket waits longer than the longest block (a reply
    # awaited for the bus's timeout); at redis-py's default (5 s) a command to a node that died a
    # moment ago failed with a read timeout instead of NodeUnreachable.
    blocking = Redis.from_url(url, encoding_errors="surrogatepass", socket_timeout=_CONTROL_TIMEOUT + 5)
    keys = Keys(prefix)
    return RedisBackends(
        RedisSessionStore(client, keys=keys),
        RedisEventLog(client, keys=keys, max_events=max_events, poll_interval=poll_interval),
        RedisControlBus(blocking, keys=keys, timeout=_CONTROL_TIMEOUT),
        RedisLeases(client, keys=keys),
    )
