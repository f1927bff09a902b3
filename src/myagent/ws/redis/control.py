"""``RedisControlBus``: commands to a node through its command stream, results through a reply list.

A node reads its stream with a blocking ``XREAD`` (the read is its own wake-up: no pub/sub, so a
command sent while the reader was between two reads is still read). Each command carries a
request id; the result is pushed to a list under that id, which the sender waits on with
``BLPOP``. A node is reachable while its ``alive`` key, refreshed by its reader, exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import uuid
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from myagent.protocol.errors import ErrorCodes
from myagent.ws.control import ControlBus, ControlCommand, ControlResult, Handler, NodeUnreachable
from myagent.ws.redis.keys import Keys

__all__ = ["RedisControlBus"]

logger = logging.getLogger(__name__)


class RedisControlBus(ControlBus):
    """Control commands between the nodes of one Redis.

    Args:
        client: a ``redis.asyncio.Redis`` (bytes replies).
        keys: key names (prefix).
        timeout: seconds a sender waits for the result before the node counts as unreachable.
        alive_ttl: seconds a node stays reachable after its reader's last sign of life.
    """

    def __init__(
        self, client: Redis, *, keys: Keys | None = None, timeout: float = 10.0, alive_ttl: float = 5.0
    ) -> None:
        self.client = client
        self.keys = keys or Keys()
        self.timeout = timeout
        self.alive_ttl = alive_ttl
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._handling: set[asyncio.Task[None]] = set()

    async def register(self, node_id: str, handler: Handler) -> None:
        await self.unregister(node_id)
        await self._beat(node_id)
        last_id = await self._tail(node_id)
        self._readers[node_id] = asyncio.create_task(
            self._read(node_id, handler, last_id), name=f"redis-control-{node_id}"
        )

    async def unregister(self, node_id: str) -> None:
        task = self._readers.pop(node_id, None)
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(RedisError):
            await self.client.delete(self.keys.alive(node_id))

    async def send(self, node_id: str, command: ControlCommand) -> ControlResult:
        if not await self.alive(node_id):
            raise NodeUnreachable(f"node {node_id} is not running")
        request_id = uuid.uuid4().hex
        payload = json.dumps(
            {"id": request_id, "session_id": command.session_id, "kind": command.kind, "args": command.args},
            default=str,
        )
        await self.client.xadd(self.keys.commands(node_id), {"c": payload}, maxlen=10_000, approximate=True)
        reply = await self._await_reply(node_id, request_id)
        fields = json.loads(reply[1])
        return ControlResult(**fields)

    async def _await_reply(self, node_id: str, request_id: str) -> Any:
        """The node's reply; a node that dies meanwhile is given up on within ``alive_ttl``, not ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            wait = min(self.alive_ttl / 3, deadline - loop.time())
            reply = await self.client.blpop([self.keys.reply(request_id)], timeout=max(wait, 0.01))
            if reply is not None:
                return reply
            if loop.time() >= deadline:
                raise NodeUnreachable(f"node {node_id} did not answer within {self.timeout:g} s")
            if not await self.alive(node_id):
                raise NodeUnreachable(f"node {node_id} stopped before it answered")

    async def alive(self, node_id: str) -> bool:
        return bool(await self.client.exists(self.keys.alive(node_id)))

    async def aclose(self) -> None:
        for node_id in list(self._readers):
            await self.unregister(node_id)
        for task in list(self._handling):
            task.cancel()
        await asyncio.gather(*self._handling, return_exceptions=True)

    async def _beat(self, node_id: str) -> None:
        await self.client.set(self.keys.alive(node_id), b"1", px=int(self.alive_ttl * 1000))

    async def _tail(self, node_id: str) -> bytes:
        """The id to read after: commands sent before this node (re)started were for a previous run of it."""
        last: Any = await self.client.xrevrange(self.keys.commands(node_id), count=1)
        return bytes(last[0][0]) if last else b"0-0"

    async def _read(self, node_id: str, handler: Handler, last_id: bytes) -> None:
        block_ms = max(1, int(self.alive_ttl * 1000 / 3))
        stream = self.keys.commands(node_id)
        while True:
            try:
                await self._beat(node_id)
                batch = cast(Any, await self.client.xread({stream: last_id}, count=100, block=block_ms))
            except (RedisError, OSError) as exc:
                logger.warning("node %s: reading control commands failed (%s); retrying", node_id, exc)
                await asyncio.sleep(0.2)
                continue
            for _stream, entries in batch or ():
                for entry_id, fields in entries:
                    last_id = bytes(entry_id)
                    task = asyncio.create_task(self._handle(handler, fields[b"c"]))
                    self._handling.add(task)
                    task.add_done_callback(self._handling.discard)

    async def _handle(self, handler: Handler, raw: bytes) -> None:
        message: dict[str, Any] = json.loads(raw)
        command = ControlCommand(str(message["session_id"]), str(message["kind"]), dict(message["args"]))
        try:
            result = await handler(command)
        except Exception as exc:  # the handler's failure is the sender's answer, not this reader's end
            logger.exception("session %s: control command %s failed", command.session_id, command.kind)
            result = ControlResult(False, ErrorCodes.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        key = self.keys.reply(str(message["id"]))
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(dataclasses.asdict(result), default=str))
            pipe.expire(key, max(1, int(self.timeout * 2)))
            await pipe.execute()
