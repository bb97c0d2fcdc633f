# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The bounded hand-over of received notifications from stomp.py's thread to the consumer.

stomp.py's reader thread (the producer) appends ``(headers, body)`` items and, in order with
them, the errors of ERROR frames; the consumer takes them in batches. The hand-over is
bounded by a count and by bytes: the memory the held items take, estimated as their size as
received plus ``HELD_ITEM_OVERHEAD`` each. When either bound is reached the producer waits,
which stops stomp.py reading the socket: TCP back-pressure to the broker, nothing dropped.
A consumer woken by the first item of a burst waits a moment for more (coalescing), because
a thread switch costs more than handing over dozens of items.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, TypeVar

Item = Tuple[Dict[str, str], Optional[str]]   # (headers, body text)
T = TypeVar("T")

# How long a waiting consumer sleeps per slice before it re-checks the connection.
WAIT_SLICE = 0.2
# How long a blocked producer waits per slice (it keeps the connection alive in between).
BACKPRESSURE_SLICE = 0.1
# How long a consumer woken by the first item of a burst lets more arrive, and the count
# at which the producer cuts that wait short.
COALESCE_SECONDS = 0.01
COALESCE_ITEMS = 256
# What holding one notification takes beyond its frame's bytes: stomp.py's headers dict and
# its strings, the item's tuple and queue slots. Measured with CPython 3.11 and stomp.py 9:
# about 1.65 KB for the 15 headers of an HMC notification, whatever the body's size; a 2 KB
# notification takes 3.7 KB while held. Counted against the byte bound so that it bounds
# memory for small notifications as well as for large ones.
HELD_ITEM_OVERHEAD = 1600

_monotonic = time.monotonic
_ERROR_MARK = object()  # first element of an item that carries an error instead of headers


class HandOver:
    """Producer/consumer queue bounded by ``max_items`` and ``max_bytes``.

    Each item counts as its size plus ``item_overhead`` bytes. One item is always accepted
    into an empty hand-over, however large (the broker's frame size is bounded elsewhere), so
    a bound smaller than one notification cannot deadlock. Items the consumer took but did
    not use yet go back into ``leftovers`` (served first).
    """

    def __init__(self, max_items: int, max_bytes: int, log: logging.Logger, where: str,
                 coalesce_seconds: float = COALESCE_SECONDS,
                 item_overhead: int = HELD_ITEM_OVERHEAD) -> None:
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._item_overhead = item_overhead
        self._log = log
        self._where = where
        self._coalesce_seconds = coalesce_seconds
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._pending: Deque[Any] = collections.deque()
        self._sizes: Deque[int] = collections.deque()   # bytes of each pending item
        self._bytes = 0
        self._error_marks = 0
        self._producer_waiting = False
        self._wakeup: Optional[Callable[[], None]] = None
        self.leftovers: Deque[Item] = collections.deque()
        self.received_count = 0
        self.backpressure_count = 0
        self.backpressure_seconds = 0.0

    # ------------------------------------------------------------------ state
    @property
    def max_items(self) -> int:
        return self._max_items

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def pending_count(self) -> int:
        """Items in the hand-over plus leftovers."""
        return len(self._pending) + len(self.leftovers)

    @property
    def pending_bytes(self) -> int:
        """Bytes of the items in the hand-over, overhead included (what the byte bound
        applies to)."""
        return self._bytes

    @property
    def producer_waiting(self) -> bool:
        """True while stomp.py's thread waits for room (it reads nothing meanwhile)."""
        return self._producer_waiting

    def set_wakeup(self, callback: Optional[Callable[[], None]]) -> None:
        self._wakeup = callback

    # ------------------------------------------------------------------ producer side
    def put(self, headers: Dict[str, str], body: Optional[str], size: int,
            keep_waiting: Callable[[], bool]) -> None:
        """Append a notification (stomp.py's thread). Wakes the consumer when the hand-over
        was empty. When full, waits for room while ``keep_waiting()`` (called every
        slice; it keeps the connection alive) returns True."""
        with self._lock:
            count = self._append((headers, body), size, keep_waiting)
            self.received_count += 1
            if count != 1:
                if count == COALESCE_ITEMS:
                    self._not_empty.notify()  # ends a consumer's coalescing wait early
                return
            self._not_empty.notify()
        self._call_wakeup()

    def put_error(self, error: Exception, size: int, keep_waiting: Callable[[], bool]) -> None:
        """Append an error, handed out in order with the notifications (same bounds)."""
        with self._lock:
            self._append((_ERROR_MARK, error), size, keep_waiting)
            self._error_marks += 1
            self._not_empty.notify_all()
        self._call_wakeup()

    def _append(self, item: Any, size: int, keep_waiting: Callable[[], bool]) -> int:
        """With the lock held: wait for room when full, append; the new pending count."""
        size += self._item_overhead
        pending = self._pending
        if pending and (len(pending) >= self._max_items
                        or self._bytes + size > self._max_bytes):
            self._wait_for_room(size, keep_waiting)
        pending.append(item)
        self._sizes.append(size)
        self._bytes += size
        return len(pending)

    def _wait_for_room(self, size: int, keep_waiting: Callable[[], bool]) -> None:
        """Called with the lock held, in stomp.py's thread."""
        start = _monotonic()
        self.backpressure_count += 1
        if self.backpressure_count == 1 or self._log.isEnabledFor(logging.DEBUG):
            self._log.warning(
                "The consumer is slower than the broker: %d notifications (%d bytes) pending; "
                "pausing reads from %s until there is room (back-pressure, nothing is dropped)",
                len(self._pending), self._bytes, self._where)
        pending = self._pending
        self._producer_waiting = True
        try:
            while pending and (len(pending) >= self._max_items
                               or self._bytes + size > self._max_bytes) and keep_waiting():
                self._not_full.wait(BACKPRESSURE_SLICE)
        finally:
            self._producer_waiting = False
            self.backpressure_seconds += _monotonic() - start

    def release_producer(self) -> None:
        """Let a producer waiting for room re-check (its connection was torn down)."""
        with self._lock:
            self._not_full.notify_all()

    def wake(self) -> None:
        """Wake the consumer (a loss or a close happened; any thread)."""
        with self._lock:
            self._not_empty.notify_all()
        self._call_wakeup()

    def _call_wakeup(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            try:
                wakeup()
            except Exception:  # a wakeup callback must not break stomp.py's thread
                self._log.exception("The receiver's wakeup callback failed")

    # ------------------------------------------------------------------ consumer side
    def take(self, timeout: float, max_items: Optional[int],
             check: Callable[[], Optional[T]]) -> Tuple[List[Item], Optional[T]]:
        """Up to ``max_items`` items (leftovers first), waiting up to ``timeout`` s for one.

        While nothing is pending, ``check()`` runs (under the lock; it must not block) and
        a value other than None ends the wait: ``([], value)``. A pending error at the front
        is raised once the items before it were returned.
        """
        deadline = None
        waited = False
        with self._lock:
            while True:
                if self.leftovers or self._pending:
                    if waited and self._coalesce_seconds \
                            and len(self._pending) < COALESCE_ITEMS:
                        # Woken by the first of a burst: let more arrive, so that one wakeup
                        # serves many items. The producer notifies again at COALESCE_ITEMS.
                        self._not_empty.wait(self._coalesce_seconds)
                    return self._take(max_items), None
                outcome = check()
                if outcome is not None:
                    return [], outcome
                now = _monotonic()
                if deadline is None:
                    deadline = now + (timeout or 0.0)
                remaining = deadline - now
                if remaining <= 0:
                    return [], None
                self._not_empty.wait(min(remaining, WAIT_SLICE))
                waited = True

    def _take(self, max_items: Optional[int]) -> List[Item]:
        """Pop up to max_items items (lock held); raise an error that is first."""
        items: List[Item] = []
        leftovers = self.leftovers
        while leftovers and (max_items is None or len(items) < max_items):
            items.append(leftovers.popleft())
        pending = self._pending
        room = len(pending) if max_items is None else max_items - len(items)
        if room > 0 and pending:
            if self._error_marks == 0 and room >= len(pending):
                items.extend(pending)
                pending.clear()
                self._sizes.clear()
                self._bytes = 0
            else:
                self._take_some(items, room)
        if self._producer_waiting:
            self._not_full.notify_all()
        return items

    def _take_some(self, items: List[Item], room: int) -> None:
        pending = self._pending
        sizes = self._sizes
        while pending and room > 0:
            if pending[0][0] is _ERROR_MARK:
                if items:
                    return
                error = pending.popleft()[1]
                self._bytes -= sizes.popleft()
                self._error_marks -= 1
                if self._producer_waiting:
                    self._not_full.notify_all()
                raise error
            items.append(pending.popleft())
            self._bytes -= sizes.popleft()
            room -= 1
