"""Abuse limits as pure building blocks: token bucket, failure throttle, per-key counters, byte budget.

None of these sleeps, starts a task or reads the wall clock: each takes a ``clock`` (seconds,
monotonic by default), so tests drive time by hand and the server decides what a refusal
means (``RATE_LIMITED``, ``SESSION_LIMIT``, close ``4429``, close ``4008``). Their defaults are
collected in :class:`LimitDefaults` and documented in ``docs/security.md``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = [
    "ByteBudget",
    "Clock",
    "FailureThrottle",
    "KeyedCounter",
    "LimitDefaults",
    "Slot",
    "TokenBucket",
]

Clock = Callable[[], float]
"""Seconds from an arbitrary origin that never go backwards (``time.monotonic``)."""


@dataclass(frozen=True)
class LimitDefaults:
    """The documented default of every limit (the server's options start from these).

    Attributes:
        frames_per_second: sustained client frames per connection before ``RATE_LIMITED``.
        frame_burst: frames a connection may send at once after being quiet.
        max_connections_per_principal: open connections per principal (per client address without auth).
        max_sessions_per_principal: live sessions (attached or within their grace period) per principal.
        free_failures: failed resume/restore attempts per client address before the back-off starts.
        failure_window: seconds after the last failure when an address's count starts again from zero.
        failure_base_delay: the first back-off; each further failure doubles it.
        failure_max_delay: the longest back-off.
        outbound_buffer_bytes: bytes queued for one connection before it is closed with ``4008``.
    """

    frames_per_second: float = 50.0
    frame_burst: int = 200
    max_connections_per_principal: int = 256
    max_sessions_per_principal: int = 1000
    free_failures: int = 5
    failure_window: float = 60.0
    failure_base_delay: float = 1.0
    failure_max_delay: float = 300.0
    outbound_buffer_bytes: int = 4 << 20


class TokenBucket:
    """Admits ``rate`` events per second on average and ``burst`` at once.

    Args:
        rate: tokens added per second (> 0).
        burst: the bucket's size, and its content at the start (≥ 1).
        clock: time source; tests pass a fake one.
    """

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def try_take(self, count: float = 1.0) -> bool:
        """Take ``count`` tokens if the bucket holds them; ``False`` (and nothing taken) otherwise."""
        self._refill()
        if self._tokens < count:
            return False
        self._tokens -= count
        return True

    def retry_after(self, count: float = 1.0) -> float:
        """Seconds until ``count`` tokens will be there (0 when they are now); ``inf`` if more than ``burst``."""
        self._refill()
        if count > self.burst:
            return float("inf")
        return max(0.0, (count - self._tokens) / self.rate)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)  # a clock that steps back must not drain the bucket
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._updated = now


@dataclass
class _Failures:
    count: int
    last: float
    blocked_until: float


class FailureThrottle:
    """Slows down guessing: failed attempts per key (a client address) with exponential back-off.

    The first ``free_failures`` failures cost nothing. Failure number ``free_failures + n``
    (n ≥ 1) blocks the key for ``base_delay · 2^(n-1)`` seconds, at most ``max_delay``. A key
    with no failure for ``window`` seconds starts again from zero. Successes do not reset the
    count: an attacker holding one valid token must not be able to wash out their guesses with it.

    At most ``max_keys`` keys are remembered; the least recently failed is forgotten first.
    """

    def __init__(
        self,
        *,
        free_failures: int = LimitDefaults.free_failures,
        window: float = LimitDefaults.failure_window,
        base_delay: float = LimitDefaults.failure_base_delay,
        max_delay: float = LimitDefaults.failure_max_delay,
        max_keys: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        if free_failures < 0 or window <= 0 or base_delay <= 0 or max_delay < base_delay or max_keys < 1:
            raise ValueError("invalid failure throttle settings")
        self.free_failures = free_failures
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Failures] = OrderedDict()

    def retry_after(self, key: Hashable) -> float:
        """0 when ``key`` may try now, else the seconds it must wait (refuse with ``RATE_LIMITED``)."""
        entry = self._current(key)
        return 0.0 if entry is None else max(0.0, entry.blocked_until - self._clock())

    def record_failure(self, key: Hashable) -> float:
        """Count a failed attempt; returns the back-off it starts (0 while failures are free)."""
        now = self._clock()
        entry = self._current(key) or _Failures(0, now, now)
        entry.count += 1
        entry.last = now
        excess = entry.count - self.free_failures
        delay = 0.0 if excess <= 0 else min(self.max_delay, self.base_delay * 2.0 ** min(excess - 1, 64))
        entry.blocked_until = now + delay
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        return delay

    def failures(self, key: Hashable) -> int:
        entry = self._current(key)
        return 0 if entry is None else entry.count

    def __len__(self) -> int:
        return len(self._entries)

    def _current(self, key: Hashable) -> _Failures | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._clock()
        if now - entry.last >= self.window and now >= entry.blocked_until:
            del self._entries[key]
            return None
        return entry


class Slot:
    """One unit held in a :class:`KeyedCounter`; ``release()`` gives it back (once, however often called)."""

    __slots__ = ("_counter", "_released", "key")

    def __init__(self, counter: KeyedCounter, key: Hashable) -> None:
        self._counter = counter
        self.key = key
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._counter._release(self.key)

    @property
    def released(self) -> bool:
        return self._released


class KeyedCounter:
    """At most ``limit`` live things per key: connections or sessions per principal (or address).

    ``acquire`` hands out a :class:`Slot` or ``None`` when the key is at its limit; releasing the
    slot frees the place. Keys with nothing held are forgotten, so memory follows live use.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._counts: dict[Hashable, int] = {}

    def acquire(self, key: Hashable) -> Slot | None:
        held = self._counts.get(key, 0)
        if held >= self.limit:
            return None
        self._counts[key] = held + 1
        return Slot(self, key)

    def count(self, key: Hashable) -> int:
        return self._counts.get(key, 0)

    def __len__(self) -> int:
        """Keys holding at least one slot."""
        return len(self._counts)

    def _release(self, key: Hashable) -> None:
        held = self._counts.get(key, 0) - 1
        if held > 0:
            self._counts[key] = held
        else:
            self._counts.pop(key, None)


class ByteBudget:
    """Bytes queued for one connection, bounded: the writer's memory limit.

    ``try_add(n)`` before queueing a frame of ``n`` bytes (``False``: the client is too slow,
    close with ``4008``); ``remove(n)`` once it was written. A single frame larger than the
    whole budget is admitted into an empty queue, so one big legitimate frame cannot wedge a
    connection that reads.
    """

    def __init__(self, limit: int = LimitDefaults.outbound_buffer_bytes) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 byte")
        self.limit = limit
        self.used = 0

    def try_add(self, size: int) -> bool:
        if self.used and self.used + size > self.limit:
            return False
        self.used += size
        return True

    def remove(self, size: int) -> None:
        self.used = max(0, self.used - size)
