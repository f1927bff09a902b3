"""Expiry, lease renewal and failover: one background task per service.

Deadlines live in the session records, so whichever process sweeps first closes an expired
session. Deadlines set by this process wake the sweeper exactly when due; others are found on the
periodic look (``options.sweep_interval``), as are the sessions of processes that stopped
(``adopt_orphans``: taken over once their leases lapse).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from myagent.ws.options import ServerOptions
from myagent.ws.store import SessionRecord, SessionStore

__all__ = ["Sweeper"]

logger = logging.getLogger(__name__)


class Swept(Protocol):
    """What the sweeper needs of the service it works for."""

    options: ServerOptions
    store: SessionStore

    async def expire(self, record: SessionRecord) -> None: ...

    async def renew_leases(self) -> None: ...

    async def adopt_orphans(self) -> None: ...


class Sweeper:
    def __init__(self, service: Swept) -> None:
        self.service = service
        self._deadlines: dict[str, float] = {}
        self._waiter: asyncio.Future[None] | None = None

    def watch(self, session_id: str, deadline: float) -> None:
        """A session detached here: look again at ``deadline``."""
        self._deadlines[session_id] = deadline
        if self._waiter is not None:
            _wake(self._waiter)

    def deadline(self, session_id: str) -> float | None:
        """When a session detached here expires (``None`` if it is attached, or not watched here)."""
        return self._deadlines.get(session_id)

    def forget(self, session_id: str) -> None:
        self._deadlines.pop(session_id, None)

    def _next_wait(self) -> float:
        options = self.service.options
        wait = min(options.sweep_interval, options.lease_ttl / 3)
        if self._deadlines:
            wait = min(wait, min(self._deadlines.values()) - time.time())
        return max(wait, 0.0)

    async def run(self) -> None:
        """Sweep and renew until cancelled; renewal has its own loop, so a long sweep never lets a lease lapse."""
        await asyncio.gather(self._sweep_forever(), self._renew_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await self._sleep(self._next_wait())
            try:
                await self.sweep()
                await self.service.adopt_orphans()
            except Exception:  # a store failure must not end expiry for good: log, try again later
                logger.exception("sweeper: pass failed; retrying")

    async def _renew_forever(self) -> None:
        every = self.service.options.lease_ttl / 3
        while True:
            await asyncio.sleep(every)
            try:
                await self.service.renew_leases()
            except Exception:  # e.g. Redis unreachable for a moment: the next renewal may still be in time
                logger.exception("sweeper: renewing leases failed; retrying")

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if :meth:`watch` brings a deadline closer."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def sweep(self) -> None:
        now = time.time()
        for session_id, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[session_id]
        for record in await self.service.store.claim_expired(now):
            await self.service.expire(record)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
