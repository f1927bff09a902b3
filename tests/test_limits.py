"""Abuse limits with a hand-driven clock: no sleeps, no wall-clock assertions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myagent.ws.limits import ByteBudget, FailureThrottle, KeyedCounter, LimitDefaults, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_admits_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.try_take() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.retry_after() == pytest.approx(0.1)
    clock.advance(0.1)
    assert bucket.try_take() and not bucket.try_take()
    clock.advance(60)
    assert bucket.tokens == 5  # never more than the burst


def test_token_bucket_survives_a_clock_that_steps_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    bucket.try_take(2)
    clock.advance(-100)
    assert bucket.tokens == 0
    clock.advance(1)
    assert bucket.try_take()


def test_token_bucket_refuses_more_than_it_can_ever_hold() -> None:
    bucket = TokenBucket(rate=1, burst=3, clock=FakeClock())
    assert not bucket.try_take(4)
    assert bucket.retry_after(4) == float("inf")
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.integers(1, 3)), max_size=50))
def test_token_bucket_never_admits_more_than_burst_plus_rate_times_time(steps: list[tuple[float, int]]) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=8, clock=clock)
    start, taken = clock.now, 0
    for pause, count in steps:
        clock.advance(pause)
        if bucket.try_take(count):
            taken += count
        assert taken <= 8 + 4 * (clock.now - start) + 1e-9


def test_failure_throttle_lets_the_free_failures_through_then_doubles_the_wait() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(free_failures=3, window=60, base_delay=1, max_delay=8, clock=clock)
    assert [throttle.record_failure("10.0.0.1") for _ in range(3)] == [0, 0, 0]
    assert throttle.retry_after("10.0.0.1") == 0
    delays = [throttle.record_failure("10.0.0.1") for _ in range(5)]
    assert delays == [1, 2, 4, 8, 8]
    assert throttle.retry_after("10.0.0.1") == 8
    assert throttle.retry_after("10.0.0.2") == 0  # other addresses are not affected
    clock.advance(8)
    assert throttle.retry_after("10.0.0.1") == 0
    assert throttle.failures("10.0.0.1") == 8


def test_failure_throttle_forgets_an_address_after_a_quiet_window() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(free_failures=1, window=60, base_delay=1, max_delay=300, clock=clock)
    throttle.record_failure("a")
    throttle.record_failure("a")
    clock.advance(59)
    assert throttle.failures("a") == 2
    clock.advance(1)
    assert throttle.failures("a") == 0 and len(throttle) == 0
    assert throttle.record_failure("a") == 0  # free again


def test_failure_throttle_keeps_a_long_block_past_the_window() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(free_failures=0, window=10, base_delay=100, max_delay=100, clock=clock)
    throttle.record_failure("a")
    clock.advance(50)
    assert throttle.retry_after("a") == 50


def test_5000_wrong_tokens_from_one_address_are_slowed_to_a_trickle() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(clock=clock)
    allowed = 0
    for _ in range(5000):  # an attacker trying 10,000 guesses per second
        clock.advance(0.0001)
        if throttle.retry_after("attacker") == 0:
            allowed += 1
            throttle.record_failure("attacker")
    assert allowed == LimitDefaults.free_failures + 1


def test_failure_throttle_memory_is_bounded() -> None:
    throttle = FailureThrottle(max_keys=100, clock=FakeClock())
    for address in range(1000):
        throttle.record_failure(address)
    assert len(throttle) == 100
    assert throttle.failures(999) == 1 and throttle.failures(0) == 0


def test_keyed_counter_caps_each_key_and_frees_on_release() -> None:
    counter = KeyedCounter(limit=2)
    first, second = counter.acquire("alice"), counter.acquire("alice")
    assert first is not None and second is not None
    assert counter.acquire("alice") is None
    assert counter.acquire("bob") is not None
    first.release()
    first.release()  # idempotent: a double release must not free a place twice
    assert counter.count("alice") == 1
    third = counter.acquire("alice")
    assert third is not None and counter.acquire("alice") is None
    second.release()
    third.release()
    assert counter.count("alice") == 0 and len(counter) == 1  # alice forgotten, bob holds one


def test_byte_budget_bounds_queued_bytes() -> None:
    budget = ByteBudget(limit=1000)
    assert budget.try_add(600) and budget.try_add(400)
    assert not budget.try_add(1)
    budget.remove(600)
    assert budget.try_add(500) and budget.used == 900


def test_byte_budget_admits_one_oversized_frame_into_an_empty_queue() -> None:
    budget = ByteBudget(limit=100)
    assert budget.try_add(5000)
    assert not budget.try_add(1)
    budget.remove(5000)
    assert budget.used == 0


def test_a_non_reading_client_fed_1mb_frames_stays_within_the_budget() -> None:
    budget = ByteBudget()
    queued = 0
    for _ in range(200):
        if not budget.try_add(1 << 20):
            break
        queued += 1
    assert queued * (1 << 20) <= LimitDefaults.outbound_buffer_bytes
