"""``RedisLeases``: run leases as ``SET NX PX`` keys with a fencing counter beside them.

The lease key holds ``<fence>:<holder>``; the counter only grows, so every new holder gets a higher
fence than any before it, and :class:`~myagent.ws.redis.event_log.RedisEventLog` refuses appends
carrying an older one. Renewal and release compare the whole value in Lua: a process whose lease
lapsed and was taken cannot extend or delete the new holder's.
"""

from __future__ import annotations

import time
from typing import Any, cast

from redis.asyncio import Redis

from myagent.ws.lease import Lease, LeaseManager
from myagent.ws.redis.keys import Keys

__all__ = ["RedisLeases"]

# KEYS: lease, fence counter. ARGV: holder, ttl ms, counter ttl ms, a stopped holder whose lease may
# be taken ('' = none). Returns {fence, pttl} or nil.
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ':', 1, true)
  local who = string.sub(current, sep + 1)
  if who == ARGV[1] then
    return {tonumber(string.sub(current, 1, sep - 1)), redis.call('PTTL', KEYS[1])}
  end
  if ARGV[4] == '' or who ~= ARGV[4] then return nil end
end
local fence = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], fence .. ':' .. ARGV[1], 'PX', ARGV[2])
return {fence, tonumber(ARGV[2])}
"""

# KEYS: lease, fence counter. ARGV: expected value, ttl ms, counter ttl ms, fence. Returns 1 if renewed.
# A lease that lapsed is taken back if nobody acquired it since: every acquire increments the counter,
# so a counter still at our fence proves no other holder could have written in between.
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif current == false and redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""

# KEYS: lease. ARGV: expected value.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLeases(LeaseManager):
    """Leases shared by every node on one Redis.

    ``Lease.expires_at`` is this process's ``time.monotonic()`` estimate; Redis's expiry is what
    counts. The fencing counter outlives the lease by ``fence_ttl`` seconds after its last use (a
    session idle that long has no run whose writes could still arrive).

    Args:
        client: a ``redis.asyncio.Redis`` (bytes replies).
        keys: key names (prefix).
        fence_ttl: seconds the fencing counter is kept after the last acquire or renewal.
    """

    def __init__(self, client: Redis, *, keys: Keys | None = None, fence_ttl: float = 7 * 86400) -> None:
        self.client = client
        self.keys = keys or Keys()
        self.fence_ttl_ms = int(fence_ttl * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _keys(self, session_id: str) -> list[str]:
        return [self.keys.lease(session_id), self.keys.fence(session_id)]

    async def acquire(self, session_id: str, holder: str, ttl: float, *, stopped: str | None = None) -> Lease | None:
        args: list[str | int] = [holder, _ms(ttl), self.fence_ttl_ms, stopped or ""]
        taken = await self._acquire(keys=self._keys(session_id), args=args)
        if taken is None:
            return None
        fence, pttl = int(taken[0]), int(taken[1])
        return Lease(session_id, holder, fence, time.monotonic() + max(pttl, 0) / 1000)

    async def renew(self, lease: Lease, ttl: float) -> Lease | None:
        renewed = await self._renew(
            keys=self._keys(lease.session_id), args=[_value(lease), _ms(ttl), self.fence_ttl_ms, lease.fence]
        )
        if not renewed:
            return None
        return Lease(lease.session_id, lease.holder, lease.fence, time.monotonic() + ttl)

    async def release(self, lease: Lease) -> None:
        await self._release(keys=[self.keys.lease(lease.session_id)], args=[_value(lease)])

    async def holder(self, session_id: str) -> str | None:
        raw: bytes | None = await cast(Any, self.client).get(self.keys.lease(session_id))
        if raw is None:
            return None
        return bytes(raw).decode("utf-8", "surrogatepass").partition(":")[2]


def _value(lease: Lease) -> str:
    return f"{lease.fence}:{lease.holder}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
