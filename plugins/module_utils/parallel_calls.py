# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Web Services API calls made many at a time: bounded, paced together, results in order.

Opening 1,000 OS message channels one call after the other costs 1,000 round trips to the
HMC; made ``limit`` at a time it costs about 1,000 / ``limit``. The HMC is a shared appliance,
though, so the calls slow down together when it says it is busy: as soon as any answer is a
503 (hmc_http tells ``note_busy()`` from its thread, and retries that request itself a few
times), or a call fails with a 503 or a timeout, the number of calls in flight halves (down
to one) and no new call starts before a pause that doubles with each busy round in a row (up
to ``PAUSE_MAX``); a call that failed busy is made again, at most ``ATTEMPTS`` times in all.
Each success lets the number grow back by one per round of calls, up to ``limit`` (additive
increase, multiplicative decrease, as TCP paces itself). Only calls that are safe to repeat go
through here (listings, List OS Messages, Open OS Message Channel, which answers "already
open" the second time).

``map_ordered()`` hands the results on in the order of its input, whatever order the calls end
in, so a watch list built with it ends the same as one built call after call; it keeps at most
``limit`` calls started ahead of the one handed on next, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import threading
from typing import Awaitable, Callable, Deque, Iterable, Tuple, TypeVar

from ansible_collections.zhmc.eda.plugins.module_utils.aio import Clock
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_errors import (
    REASON_API_NOT_ENABLED, HMCConnectionError, HMCError)
from ansible_collections.zhmc.eda.plugins.module_utils.pacing import RateLimitedLog

LOG = logging.getLogger("zhmc.eda.source")

T = TypeVar("T")
R = TypeVar("R")

# A call the HMC answers "busy" (or that times out) is made at most this often in all.
ATTEMPTS = 3
# The pause of every call after a busy answer: this, doubled per busy round in a row.
PAUSE_INITIAL = 1.0
PAUSE_MAX = 30.0


def is_busy(exc: BaseException) -> bool:
    """True for the failures that say "not now": a 503 answer, a call that timed out."""
    if isinstance(exc, HMCError):
        return exc.http_status == 503 and exc.reason != REASON_API_NOT_ENABLED
    if isinstance(exc, HMCConnectionError):
        return exc.timed_out  # a refused connection is an HMC that is down: recovery's case
    return isinstance(exc, asyncio.TimeoutError)


class ParallelCalls:
    """At most ``limit`` calls in flight (fewer while the HMC is busy), paced together."""

    def __init__(self, limit: int, clock: Clock,
                 rand: Callable[[], float] = random.random) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1, got %r" % (limit,))
        self.limit = limit
        self.allowed = limit  # calls in flight allowed now
        # busy signals, in all: the 503 answers hmc_http told of, and the calls that failed busy
        # (a 503 that still ends a call after hmc_http's retries counts in both)
        self.busy_answers = 0
        self._clock = clock
        self._rand = rand
        self._in_flight = 0
        self._freed = asyncio.Event()
        self._resume_at = 0.0  # no call starts before this (clock time)
        self._busy_rounds = 0  # slow-downs since the last success
        self._successes = 0
        self._signals = 0  # busy answers hmc_http saw (note_busy, any thread)
        self._signals_seen = 0
        self._signal_lock = threading.Lock()
        self._ratelog = RateLimitedLog(LOG)

    def note_busy(self) -> None:
        """The HMC answered a request busy (503); called from the request's thread."""
        with self._signal_lock:
            self._signals += 1

    def _take_signals(self) -> None:
        with self._signal_lock:
            new, self._signals_seen = self._signals - self._signals_seen, self._signals
        if new:
            self._slow_down("%d HTTP 503 answer(s)" % new, "its requests are retried", new)

    # ------------------------------------------------------------------ one call
    async def run(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """``await call()`` in a free slot; made again (paced) while the HMC is busy."""
        attempt = 1
        while True:
            await self._acquire()
            try:
                result = await call()
            except Exception as exc:  # pylint: disable=broad-except
                self._release()
                if not is_busy(exc):
                    raise
                self._slow_down(what, str(exc))
                if attempt >= ATTEMPTS:
                    raise
                attempt += 1
                continue
            except BaseException:
                self._release()
                raise
            self._release()
            self._speed_up()
            return result

    async def _acquire(self) -> None:
        """Wait for the pause to end and a slot to be free."""
        while True:
            self._take_signals()
            wait = self._resume_at - self._clock.monotonic()
            if wait > 0:
                await self._clock.sleep(wait)
                continue
            if self._in_flight < self.allowed:
                self._in_flight += 1
                return
            self._freed.clear()
            await self._freed.wait()

    def _release(self) -> None:
        self._in_flight -= 1
        self._freed.set()

    def _slow_down(self, what: str, why: str, count: int = 1) -> None:
        self.busy_answers += count
        self._successes = 0
        now = self._clock.monotonic()
        if now < self._resume_at:
            return  # slowed down for this round already: calls under way report it too
        self._busy_rounds += 1
        self.allowed = max(1, self.allowed // 2)
        pause = min(PAUSE_MAX, PAUSE_INITIAL * 2 ** (self._busy_rounds - 1))
        pause *= 1.0 + 0.5 * self._rand()
        self._resume_at = now + pause
        self._ratelog.log(logging.WARNING, "busy",
                          "the HMC is busy (%s: %s); %d call(s) at a time from now on, the "
                          "next in %.1f s", what, why, self.allowed, pause)

    def _speed_up(self) -> None:
        self._take_signals()
        if self._clock.monotonic() < self._resume_at:
            return  # a busy round is going on
        self._busy_rounds = 0
        if self.allowed >= self.limit:
            return
        self._successes += 1
        if self._successes >= self.allowed:
            self._successes = 0
            self.allowed += 1
            if self.allowed == self.limit:
                LOG.info("the HMC answers again: up to %d calls at a time", self.limit)

    # ------------------------------------------------------------------ many calls
    async def map_ordered(self, work: Callable[[T], Awaitable[R]], items: Iterable[T],
                          deliver: Callable[[T, R], Awaitable[None]]) -> None:
        """``work(item)`` for every item, up to ``limit`` at once (``work`` makes its calls
        with ``run``); ``deliver(item, result)`` in the order of ``items``.

        The first failure (in that order) is raised once the items before it are delivered;
        the work still under way is cancelled then.
        """
        source = iter(items)
        started: Deque[Tuple[T, asyncio.Future]] = collections.deque()

        def top_up() -> None:
            while len(started) < self.limit:
                try:
                    item = next(source)
                except StopIteration:
                    return
                started.append((item, asyncio.ensure_future(work(item))))

        try:
            top_up()
            while started:
                item, task = started[0]
                result = await task
                started.popleft()
                await deliver(item, result)
                top_up()
        finally:
            for _item, task in started:
                task.cancel()
            if started:
                await asyncio.gather(*(task for _item, task in started), return_exceptions=True)
