"""Run ownership: a lease per session says which process may run it and write its events.

A lease is taken if absent, expires unless renewed, and carries a fencing token that grows with
every new holder, so a process that lost its lease can be told apart from the current holder.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["InMemoryLeases", "Lease", "LeaseManager"]


@dataclass(frozen=True)
class Lease:
    session_id: str
    holder: str
    fence: int
    expires_at: float


class LeaseManager(abc.ABC):
    @abc.abstractmethod
    async def acquire(self, session_id: str, holder: str, ttl: float, *, stopped: str | None = None) -> Lease | None:
        """Take the lease if nobody holds it (or it lapsed); ``None`` if another holder has it.

        ``stopped``: a holder known to have stopped (its liveness lapsed); its lease is taken at once,
        with a higher fence, so that even if it was only stalled it can write nothing more.
        """

    @abc.abstractmethod
    async def renew(self, lease: Lease, ttl: float) -> Lease | None:
        """Extend a lease held with the same fence (or lapsed with nobody acquiring it since); ``None`` if lost."""

    @abc.abstractmethod
    async def release(self, lease: Lease) -> None:
        """Give the lease up (only if still held with the same fence)."""

    @abc.abstractmethod
    async def holder(self, session_id: str) -> str | None:
        """Who holds the lease now (``None`` if nobody, or it lapsed)."""


class InMemoryLeases(LeaseManager):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, Lease] = {}
        self._fences: dict[str, int] = {}

    def _current(self, session_id: str) -> Lease | None:
        lease = self._leases.get(session_id)
        if lease is not None and lease.expires_at <= self._clock():
            del self._leases[session_id]
            return None
        return lease

    async def acquire(self, session_id: str, holder: str, ttl: float, *, stopped: str | None = None) -> Lease | None:
        current = self._current(session_id)
        if current is not None and not (stopped is not None and current.holder == stopped):
            return current if current.holder == holder else None
        fence = self._fences.get(session_id, 0) + 1
        self._fences[session_id] = fence
        lease = self._leases[session_id] = Lease(session_id, holder, fence, self._clock() + ttl)
        return lease

    async def renew(self, lease: Lease, ttl: float) -> Lease | None:
        current = self._current(lease.session_id)
        # A lapsed lease nobody acquired since (the fence counter did not move) is taken back.
        lapsed_unclaimed = current is None and self._fences.get(lease.session_id) == lease.fence
        if not lapsed_unclaimed and (current is None or current.fence != lease.fence):
            return None
        renewed = self._leases[lease.session_id] = Lease(
            lease.session_id, lease.holder, lease.fence, self._clock() + ttl
        )
        return renewed

    async def release(self, lease: Lease) -> None:
        current = self._leases.get(lease.session_id)
        if current is not None and current.fence == lease.fence:
            del self._leases[lease.session_id]  # the fence counter stays: the next holder gets a higher one

    async def holder(self, session_id: str) -> str | None:
        current = self._current(session_id)
        return None if current is None else current.holder
