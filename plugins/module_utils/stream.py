# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The source's STOMP connection: one receiver at a time, fresh for every (re)connect.

The stream builds receivers with the factory it is given (tests hand in fakes), wakes the
asyncio loop through one ``asyncio.Event`` when notifications arrive, and closes receivers
within a budget. What to subscribe comes from the caller (the watch list's topics).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Callable, List, Optional, Protocol, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.aio import run_blocking, wait_event
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import StompRetryTimeoutConfig

LOG = logging.getLogger("zhmc.eda.source")

# Bound of one connect attempt as awaited from the loop (the receiver has its own timeouts).
CONNECT_CALL_TIMEOUT = 120.0
# A subscribe/unsubscribe on the live connection gives up after this long.
LIVE_OP_TIMEOUT = 10.0


class ReceiverLike(Protocol):
    """What the stream needs of receiver.NotificationReceiver (tests hand in fakes)."""

    @property
    def backpressure_count(self) -> int: ...

    @property
    def backpressure_seconds(self) -> float: ...

    def set_wakeup(self, callback: Optional[Callable[[], None]]) -> None: ...

    def connect(self) -> None: ...

    def poll(self, timeout: float = 0.0, max_items: Optional[int] = None
             ) -> List[Tuple[dict, Any]]: ...

    def subscribe(self, topic_name: str) -> Any: ...

    def unsubscribe(self, topic_name: str) -> None: ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """How to reach the broker, apart from the host and the credentials."""

    port: int
    rt_config: StompRetryTimeoutConfig
    verify_cert: Any  # True, a CA file or directory, or False
    max_pending: int
    max_pending_bytes: int


# receiver_factory(topics, host, userid, password, port=, stomp_rt_config=, verify_cert=,
# max_pending=, max_pending_bytes=) -> ReceiverLike; receiver.NotificationReceiver has
# that signature.
ReceiverFactory = Callable[..., ReceiverLike]


class Stream:
    """The current receiver, its wake-up, and its life cycle."""

    def __init__(self, factory: ReceiverFactory, settings: StreamSettings,
                 mask: Callable[[object], str]) -> None:
        self._factory = factory
        self._settings = settings
        self._mask = mask
        self.receiver: Optional[ReceiverLike] = None
        self.host: Optional[str] = None
        self.wakeup = asyncio.Event()
        self._backlog_reported = 0

    @property
    def port(self) -> int:
        return self._settings.port

    async def connect(self, host: str, userid: str, password: str, topics: List[str]) -> None:
        """Replace the receiver by a freshly connected one for ``topics``."""
        await self.close(timeout=5.0)
        settings = self._settings
        receiver = self._factory(
            topics, host, userid, password, port=settings.port,
            stomp_rt_config=settings.rt_config, verify_cert=settings.verify_cert,
            max_pending=settings.max_pending, max_pending_bytes=settings.max_pending_bytes)
        loop = asyncio.get_running_loop()
        wakeup = self.wakeup

        def wake() -> None:  # runs in stomp.py's thread
            loop.call_soon_threadsafe(wakeup.set)

        receiver.set_wakeup(wake)
        try:
            await run_blocking(receiver.connect, timeout=CONNECT_CALL_TIMEOUT)
        except BaseException:
            await self._close_one(receiver, 2.0)
            raise
        self.receiver = receiver
        self.host = host
        self._backlog_reported = receiver.backpressure_count

    def poll(self, max_items: int) -> List[Tuple[dict, Any]]:
        """What arrived, at most ``max_items``; raises the receiver's errors (loss, ERROR)."""
        receiver = self.receiver
        if receiver is None:
            return []
        items = receiver.poll(0, max_items=max_items)
        if not items:
            self.wakeup.clear()
            # again after clear(): an item may have arrived in between
            items = receiver.poll(0, max_items=max_items)
        return items

    async def wait(self, timeout: float) -> None:
        """Until something arrives (or ``timeout`` passes); never swallows a cancel."""
        await wait_event(self.wakeup, timeout)

    def new_backlog(self) -> Optional[Tuple[int, float]]:
        """(times, seconds) the receiver pushed back on the broker, when that grew."""
        receiver = self.receiver
        if receiver is None or receiver.backpressure_count <= self._backlog_reported:
            return None
        self._backlog_reported = receiver.backpressure_count
        return receiver.backpressure_count, receiver.backpressure_seconds

    async def live(self, op: str, topic: str) -> None:
        """subscribe/unsubscribe on the live connection; a failure is logged, not raised
        (the stream's own error handling reconnects with the updated topics)."""
        receiver = self.receiver
        if receiver is None:
            return  # disconnected: the next connect uses the updated topics
        try:
            await run_blocking(getattr(receiver, op), topic, timeout=LIVE_OP_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            LOG.warning("%s %s on the live connection failed: %s", op, topic, self._mask(exc))

    def wake(self) -> None:
        """Wake the loop that waits in ``wait()`` (from the loop's thread)."""
        self.wakeup.set()

    async def close(self, timeout: float) -> None:
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            await self._close_one(receiver, timeout)

    async def _close_one(self, receiver: ReceiverLike, timeout: float) -> None:
        try:
            await run_blocking(receiver.close, timeout=timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            LOG.debug("closing the receiver: %s", self._mask(exc))
