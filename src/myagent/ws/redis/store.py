"""``RedisSessionStore``: session records in Redis, one hash per session, each field a JSON value.

A record is a hash so that :meth:`update` writes only the fields it changes (two processes
changing different fields never undo each other). Indexes (every id, ids by node and by quota key,
the nodes running any session, and the deadlines of detached sessions) are kept by the same Lua
scripts that write the record, so ``count`` and ``claim_expired`` never see a half-written session.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

from redis.asyncio import Redis

from myagent.ws.redis.keys import Keys
from myagent.ws.store import SessionRecord, SessionStore

__all__ = ["RedisSessionStore"]

_FIELDS = tuple(field.name for field in dataclasses.fields(SessionRecord))

# The fields the indexes are built from are also kept raw (``_node_id``, ``_quota_key``, ``_status``,
# ``_expires_at``; absent for None): Lua's cjson cannot decode every string JSON can hold.
_INDEXED = ("node_id", "quota_key", "status", "expires_at")

# Shared by the scripts: take a session out of the indexes / put it back from its hash's fields.
_INDEX_HELPERS = """
local function field(key, name)
  return redis.call('HGET', key, '_' .. name) or nil
end
local function unindex(key, index, id)
  local node, quota = field(key, 'node_id'), field(key, 'quota_key')
  if node then
    redis.call('SREM', index .. 'node:' .. node, id)
    if redis.call('SCARD', index .. 'node:' .. node) == 0 then redis.call('SREM', index .. 'nodes', node) end
  end
  if quota then redis.call('SREM', index .. 'quota:' .. quota, id) end
  redis.call('SREM', index .. 'all', id)
  redis.call('ZREM', index .. 'deadlines', id)
end
local function reindex(key, index, id)
  local node, quota = field(key, 'node_id'), field(key, 'quota_key')
  if node then
    redis.call('SADD', index .. 'node:' .. node, id)
    redis.call('SADD', index .. 'nodes', node)
  end
  if quota then redis.call('SADD', index .. 'quota:' .. quota, id) end
  redis.call('SADD', index .. 'all', id)
  local status, expires = field(key, 'status'), field(key, 'expires_at')
  if status == 'detached' and expires then
    redis.call('ZADD', index .. 'deadlines', expires, id)
  end
end
"""

# KEYS: record. ARGV: index prefix, id, mode ("put" | "update"), number of fields to remove, those
# fields, then field/value pairs.
_WRITE = (
    _INDEX_HELPERS
    + """
local key, index, id, mode, removed = KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local exists = redis.call('EXISTS', key) == 1
if mode == 'update' and not exists then return 0 end
if exists then unindex(key, index, id) end
if mode == 'put' then redis.call('DEL', key) end
for i = 5, 4 + removed do redis.call('HDEL', key, ARGV[i]) end
for i = 5 + removed, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
reindex(key, index, id)
return 1
"""
)

# KEYS: record. ARGV: index prefix, id.
_DELETE = (
    _INDEX_HELPERS
    + """
local key, index, id = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
unindex(key, index, id)
redis.call('DEL', key)
return 1
"""
)

# KEYS: none (record keys are derived). ARGV: index prefix, key prefix, now, batch size.
# Returns the claimed records as flat HGETALL arrays; each is removed here, so one caller gets it.
_CLAIM = (
    _INDEX_HELPERS
    + """
local index, prefix, now, batch = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', index .. 'deadlines', '-inf', now, 'LIMIT', 0, batch)
local claimed = {}
for _, id in ipairs(due) do
  local key = prefix .. ':{' .. id .. '}:record'
  local status, expires = field(key, 'status'), field(key, 'expires_at')
  if status == 'detached' and expires and tonumber(expires) <= tonumber(now) then
    claimed[#claimed + 1] = redis.call('HGETALL', key)
    unindex(key, index, id)
    redis.call('DEL', key)
  else
    redis.call('ZREM', index .. 'deadlines', id)
  end
end
return claimed
"""
)


class RedisSessionStore(SessionStore):
    """Session records shared by every node on one Redis.

    Args:
        client: a ``redis.asyncio.Redis`` (bytes replies, ``decode_responses=False``).
        keys: key names (prefix).
        claim_batch: most records one ``claim_expired`` call takes.
    """

    def __init__(self, client: Redis, *, keys: Keys | None = None, claim_batch: int = 100) -> None:
        self.client = client
        self.keys = keys or Keys()
        self.claim_batch = claim_batch
        self._write = client.register_script(_WRITE)
        self._claim = client.register_script(_CLAIM)
        self._delete = client.register_script(_DELETE)

    async def put(self, record: SessionRecord) -> None:
        args = _encode({name: getattr(record, name) for name in _FIELDS})
        await self._write(keys=[self.keys.record(record.id)], args=[self.keys.index, record.id, "put", *args])

    async def get(self, session_id: str) -> SessionRecord | None:
        raw: dict[bytes, bytes] = await cast(Any, self.client).hgetall(self.keys.record(session_id))
        return _decode(raw) if raw else None

    async def delete(self, session_id: str) -> bool:
        removed = await self._delete(keys=[self.keys.record(session_id)], args=[self.keys.index, session_id])
        return bool(removed)

    async def update(self, session_id: str, **changes: Any) -> SessionRecord | None:
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"SessionRecord has no field {sorted(unknown)[0]!r}")
        args = _encode(changes)
        written = await self._write(
            keys=[self.keys.record(session_id)], args=[self.keys.index, session_id, "update", *args]
        )
        return await self.get(session_id) if written else None

    async def claim_expired(self, now: float) -> list[SessionRecord]:
        claimed = await self._claim(args=[self.keys.index, self.keys.prefix, repr(now), self.claim_batch])
        records = []
        for flat in claimed:
            records.append(_decode(dict(zip(flat[::2], flat[1::2], strict=True))))
        return records

    async def count(self, *, node_id: str | None = None, quota_key: str | None = None) -> int:
        sets = [self.keys.index + "all"]
        if node_id is not None:
            sets.append(f"{self.keys.index}node:{node_id}")
        if quota_key is not None:
            sets.append(f"{self.keys.index}quota:{quota_key}")
        if len(sets) == 1:
            return int(await cast(Any, self.client).scard(sets[0]))
        return int(await cast(Any, self.client).sintercard(len(sets[1:]), sets[1:]))

    async def node_ids(self) -> set[str]:
        members: set[bytes] = await cast(Any, self.client).smembers(self.keys.index + "nodes")
        return {bytes(member).decode("utf-8", "surrogatepass") for member in members}

    async def ids(self, *, node_id: str) -> list[str]:
        members: set[bytes] = await cast(Any, self.client).smembers(f"{self.keys.index}node:{node_id}")
        return sorted(bytes(member).decode("utf-8", "surrogatepass") for member in members)


def _encode(values: dict[str, Any]) -> list[Any]:
    """The write script's arguments: how many raw fields to remove, those, then field/value pairs."""
    pairs: list[Any] = []
    removed: list[str] = []
    for name, value in values.items():
        # ASCII-only JSON: a lone surrogate from a hostile client survives the trip through UTF-8.
        pairs += [name, json.dumps(value, separators=(",", ":"))]
        if name in _INDEXED:
            if value is None:
                removed.append("_" + name)
            else:
                pairs += ["_" + name, repr(value) if isinstance(value, float) else value]
    return [len(removed), *removed, *pairs]


def _decode(raw: dict[bytes, bytes]) -> SessionRecord:
    values = {name: json.loads(raw[name.encode()]) for name in _FIELDS if name.encode() in raw}
    return SessionRecord(**values)
