"""ParallelCalls: at most `limit` calls at once, results in input order, paced together when
the HMC is busy (503, timeouts); driven with a fake clock (no sockets)."""
from __future__ import annotations

import asyncio
import random
from typing import Any, List, Tuple

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import (
    HMCConnectionError, HMCError)
from ansible_collections.zhmc.eda.plugins.module_utils.parallel_calls import (
    ATTEMPTS, PAUSE_INITIAL, ParallelCalls, is_busy)

from tests.unit.runtime_fakes import FakeClock as _SerialClock


class FakeClock(_SerialClock):
    """Virtual time that sleepers share: concurrent sleeps of 1 s move time by 1 s, not by
    1 s each (runtime_fakes' clock adds them up, which suits one sleeper at a time). A sleep
    lasts more loop turns than any call of the fake HMC: a pause is long, calls are short."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake_at = self.now + seconds
        for _ in range(20):
            await asyncio.sleep(0)
        self.now = max(self.now, wake_at)


BUSY = HMCError(503, 999, "503 Service Unavailable", "POST", "/api/partitions/x")


class Hmc:
    """Counts calls in flight; each call takes a random number of loop turns."""

    def __init__(self, seed: int = 1) -> None:
        self.in_flight = 0
        self.most = 0
        self.calls: List[int] = []
        self.rng = random.Random(seed)
        self.fail: dict = {}  # item -> list of exceptions to raise, one per call

    async def call(self, item: int) -> str:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        self.calls.append(item)
        try:
            for _ in range(self.rng.randint(1, 5)):
                await asyncio.sleep(0)
            failures = self.fail.get(item)
            if failures:
                raise failures.pop(0)
            return "topic-%d" % item
        finally:
            self.in_flight -= 1


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


def map_all(calls: ParallelCalls, hmc: Hmc, items: List[int]) -> List[Tuple[int, str]]:
    delivered: List[Tuple[int, str]] = []

    async def deliver(item: int, result: str) -> None:
        delivered.append((item, result))

    async def main() -> None:
        await calls.map_ordered(lambda i: calls.run(lambda: hmc.call(i), "open %d" % i),
                                items, deliver)

    run(main())
    return delivered


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_results_come_in_input_order_with_at_most_limit_calls_at_once(limit):
    hmc = Hmc()
    delivered = map_all(ParallelCalls(limit, FakeClock()), hmc, list(range(40)))
    assert delivered == [(i, "topic-%d" % i) for i in range(40)]
    assert hmc.most == limit
    assert sorted(hmc.calls) == list(range(40))


def test_the_first_failure_in_input_order_is_raised_after_the_ones_before_it():
    hmc = Hmc()
    hmc.fail = {5: [HMCError(404, 1, "no such partition")]}
    calls = ParallelCalls(4, FakeClock())
    delivered: List[int] = []

    async def deliver(item: int, result: str) -> None:
        delivered.append(item)

    async def main() -> None:
        await calls.map_ordered(lambda i: calls.run(lambda: hmc.call(i), "open"), range(40),
                                deliver)

    with pytest.raises(HMCError, match="no such partition"):
        run(main())
    assert delivered == [0, 1, 2, 3, 4]
    assert max(hmc.calls) < 5 + 4 + 1, "nothing started beyond the window"
    assert hmc.in_flight == 0, "the work under way was cancelled"


def test_a_busy_hmc_halves_the_calls_pauses_them_all_and_gets_the_work_done():
    hmc = Hmc()
    # the first four calls find the HMC busy (one round: they were all under way together)
    hmc.fail = {i: [BUSY] for i in range(4)}
    clock = FakeClock()
    calls = ParallelCalls(8, clock, rand=lambda: 0.0)
    delivered = map_all(calls, hmc, list(range(30)))
    assert [item for item, _topic in delivered] == list(range(30))
    assert calls.busy_answers == 4
    assert clock.sleeps and clock.sleeps[0] == PAUSE_INITIAL, "one pause for all, not one each"
    assert max(clock.sleeps) < 2 * PAUSE_INITIAL, "one busy round: the pause did not grow"
    # 8 -> 4 at the busy round (once, not once per busy answer), then growing back
    assert 4 <= calls.allowed <= 8
    assert hmc.calls.count(0) == 2, "the call was made again"


def test_busy_rounds_in_a_row_make_the_pause_grow_and_the_calls_fewer():
    hmc = Hmc()
    hmc.fail = {0: [BUSY, BUSY]}
    clock = FakeClock()
    calls = ParallelCalls(4, clock, rand=lambda: 0.0)

    async def main() -> str:
        return await calls.run(lambda: hmc.call(0), "open 0")

    assert run(main()) == "topic-0"
    assert clock.sleeps == [PAUSE_INITIAL, 2 * PAUSE_INITIAL]
    assert calls.allowed == 2, "4 -> 2 -> 1 call at a time, one more after the success"


def test_a_call_busy_every_time_fails_after_the_attempts_other_errors_at_once():
    hmc = Hmc()
    timeout = HMCConnectionError("no answer within 60 s", timed_out=True)
    hmc.fail = {0: [timeout] * ATTEMPTS, 1: [HMCError(409, 1, "wrong state")]}
    calls = ParallelCalls(2, FakeClock())

    async def one(item: int) -> str:
        return await calls.run(lambda: hmc.call(item), "open")

    with pytest.raises(HMCConnectionError):
        run(one(0))
    assert hmc.calls.count(0) == ATTEMPTS
    with pytest.raises(HMCError, match="wrong state"):
        run(one(1))
    assert hmc.calls.count(1) == 1, "not a busy answer: not made again"


def test_what_counts_as_busy():
    assert is_busy(BUSY)
    assert is_busy(HMCConnectionError("no answer", timed_out=True))
    assert is_busy(asyncio.TimeoutError())
    assert not is_busy(HMCConnectionError("connection refused"))  # down: recovery's case
    assert not is_busy(HMCError(503, 900, "the Web Services API is not enabled"))
    assert not is_busy(HMCError(409, 332, "not available"))
    with pytest.raises(ValueError, match="limit"):
        ParallelCalls(0, FakeClock())
