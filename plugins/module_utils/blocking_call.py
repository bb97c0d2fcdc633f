# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Await a blocking call (HMC request, STOMP connect) from asyncio code, with a timeout."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import threading


async def run_blocking(func, *args, timeout=None, **kwargs):
    """Run a blocking call in a daemon thread and await its result.

    Daemon threads (rather than the loop's default executor) so that a call that hangs
    past its timeout never keeps ansible-rulebook from exiting: asyncio.run() joins the
    default executor's threads on shutdown.
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def _deliver(setter, value):
        if not future.done():
            setter(value)

    def _target():
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:  # pylint: disable=broad-except
            try:
                loop.call_soon_threadsafe(_deliver, future.set_exception, exc)
            except RuntimeError:  # loop closed
                pass
        else:
            try:
                loop.call_soon_threadsafe(_deliver, future.set_result, result)
            except RuntimeError:
                pass

    thread = threading.Thread(target=_target, name="zhmc-eda-call", daemon=True)
    thread.start()
    if timeout is None:
        return await future
    return await asyncio.wait_for(future, timeout)
