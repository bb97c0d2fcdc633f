# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""asyncio helpers that never lose a cancellation, and the clock the runtime runs on.

``asyncio.wait_for`` on Python <= 3.11 returns the inner result and drops a cancellation
that arrives just when the inner awaitable finishes (bpo-42130): a source that waits that
way in a loop may never stop on SIGTERM. ``within()`` is built on ``asyncio.wait``, which
always lets the cancellation through.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Awaitable, Callable, Optional, TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], timeout: Optional[float]) -> T:
    """Await ``awaitable`` for at most ``timeout`` seconds (None: no limit).

    On timeout the awaitable is cancelled and ``asyncio.TimeoutError`` raised. When the
    caller is cancelled, the awaitable is cancelled too and the cancellation propagates,
    even if the awaitable finished in the same instant.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _pending = await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise asyncio.TimeoutError()
    return task.result()


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set, at most ``timeout`` seconds; True when it is set."""
    if event.is_set():
        return True
    try:
        await within(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def run_blocking(func: Callable[..., T], *args: Any, timeout: Optional[float] = None,
                       **kwargs: Any) -> T:
    """Run a blocking call in a daemon thread and await its result (at most ``timeout`` s).

    Daemon threads (rather than the loop's default executor) so that a call that hangs
    past its timeout never keeps ansible-rulebook from exiting: asyncio.run() joins the
    default executor's threads on shutdown. A call that times out or is cancelled goes
    on in its thread; its result is thrown away.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def target() -> None:
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:  # pylint: disable=broad-except
            outcome: tuple = (future.set_exception, exc)
        else:
            outcome = (future.set_result, result)
        try:
            loop.call_soon_threadsafe(deliver, *outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    threading.Thread(target=target, name="zhmc-eda-call", daemon=True).start()
    return await within(future, timeout)


class Clock:
    """The time source of the runtime: monotonic seconds and sleeping. Tests pass a fake."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = Clock()
