# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The control socket's handler on a running source.

``control.ControlServer`` calls the handler from a worker thread with the request's
``deadline`` (control_protocol's time line); the handler runs the request as a
``WatchCommands`` coroutine on the source's loop and returns its answer dict. The commands
keep control_protocol's contract: a request that cannot be done in time raises
``ControlBusy`` having changed nothing, and nothing changes for it afterwards.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.watch_commands import (
    Deadline, WatchCommands)
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import LPAR, PARTITION

Command = Callable[[Deadline], Awaitable[dict]]


class ControlHandler:
    """Serves control requests (from the control server's threads) on the source's loop."""

    def __init__(self, commands: WatchCommands, loop: asyncio.AbstractEventLoop) -> None:
        self._commands = commands
        self._loop = loop

    def _run(self, command: Command, deadline: float) -> dict:
        """Run ``command`` on the loop and wait for its answer (a worker thread's call)."""

        async def with_deadline() -> dict:
            return await command(Deadline(deadline))

        future = asyncio.run_coroutine_threadsafe(with_deadline(), self._loop)
        try:
            # the commands end before the deadline; the wait ends with them
            return future.result(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
        except BaseException:
            future.cancel()
            raise

    def list(self, deadline: float, **_ignored: Any) -> dict:
        return self._run(lambda _d: self._commands.list(), deadline)

    def subscribe(self, topic: str, check_mode: bool = False, *, deadline: float,
                  **_ignored: Any) -> dict:
        return self._run(lambda d: self._commands.subscribe(topic, check_mode, d), deadline)

    def unsubscribe(self, topic: str, check_mode: bool = False, *, deadline: float,
                    **_ignored: Any) -> dict:
        return self._run(lambda d: self._commands.unsubscribe(topic, check_mode, d), deadline)

    def open_os_message_channel(self, cpc: str, partition: Optional[str] = None,
                                lpar: Optional[str] = None, subscribe: bool = True,
                                check_mode: bool = False, *, deadline: float,
                                **_ignored: Any) -> dict:
        kind, name = _object(partition, lpar)
        return self._run(lambda d: self._commands.open_channel(
            cpc, kind, name, subscribe, check_mode, d), deadline)

    def close_os_message_channel(self, cpc: str, partition: Optional[str] = None,
                                 lpar: Optional[str] = None, check_mode: bool = False, *,
                                 deadline: float, **_ignored: Any) -> dict:
        kind, name = _object(partition, lpar)
        return self._run(lambda d: self._commands.close_channel(
            cpc, kind, name, check_mode, d), deadline)


def _object(partition: Optional[str], lpar: Optional[str]) -> Tuple[str, str]:
    """(kind, name) of a request that names exactly one partition or LPAR."""
    if partition is not None and lpar is None:
        return PARTITION, partition
    if lpar is not None and partition is None:
        return LPAR, lpar
    raise ValueError("exactly one of partition or lpar is required")
