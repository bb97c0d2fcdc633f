# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Pacing of recurring failures: capped exponential backoff, and log lines rate-limited per cause."""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Dict, Hashable, List

# One log line per distinct recurring problem per this many seconds (with a count).
LOG_REPEAT_WINDOW = 60.0


class RateLimitedLog:
    """Log a recurring problem once per window, then a summary line with the count."""

    def __init__(self, logger: logging.Logger, window: float = LOG_REPEAT_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._window = window
        self._clock = clock
        self._state: Dict[Hashable, List[float]] = {}  # key -> [window start, suppressed]

    def log(self, level: int, key: Hashable, msg: str, *args: Any) -> bool:
        """Log `msg` unless `key` was logged in the current window; count it then."""
        now = self._clock()
        state = self._state.get(key)
        if state is not None and now - state[0] < self._window:
            state[1] += 1
            return False
        if state is not None and state[1]:
            msg = msg + " (repeated %d more times in the last %.0f s)"
            args = args + (int(state[1]), now - state[0])
        self._state[key] = [now, 0]
        self._logger.log(level, msg, *args)
        return True

    def reset(self, key: Hashable) -> None:
        """Forget `key` (its problem is over)."""
        self._state.pop(key, None)


class Backoff:
    """Capped exponential backoff with jitter, parameters from the STOMP retry config."""

    def __init__(self, initial: float, increase: float, maximum: float, jitter: float,
                 rand: Callable[[], float] = random.random) -> None:
        self.initial = max(float(initial), 0.01)
        self.increase = max(float(increase), 0.0)
        self.maximum = max(float(maximum), self.initial)
        self.jitter = max(float(jitter), 0.0)
        self._rand = rand
        self.attempt = 0

    @classmethod
    def from_config(cls, config: Any) -> "Backoff":
        """From the reconnect_sleep_* values of a StompRetryTimeoutConfig."""
        return cls(
            getattr(config, "reconnect_sleep_initial", 0.1),
            getattr(config, "reconnect_sleep_increase", 0.5),
            getattr(config, "reconnect_sleep_max", 60.0),
            getattr(config, "reconnect_sleep_jitter", 0.1),
        )

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with each call."""
        base = min(self.initial * (1.0 + self.increase) ** self.attempt, self.maximum)
        self.attempt += 1
        return base * (1.0 + self.jitter * self._rand())

    def reset(self) -> None:
        self.attempt = 0
