# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The control socket's handler on a running source.

``control.ControlServer`` calls the handler from its connection threads; the handler runs
each request as a ``WatchCommands`` coroutine on the source's loop, within the request
budget, and returns the answer dict. The commands guarantee that a request which does not
finish in time changed nothing (see watch_commands).
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.watch_commands import (
    ControlBusy, Deadline, WatchCommands)
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import LPAR, PARTITION

# A request is answered within this many seconds (the module's client waits longer).
REQUEST_BUDGET = 25.0
# What the loop may take on top of the budget to hand the answer back to the thread.
_HAND_BACK_SECONDS = 2.0

__all__ = ["ControlHandler", "ControlBusy", "REQUEST_BUDGET"]


class ControlHandler:
    """Serves control requests (from the control server's threads) on the source's loop."""

    def __init__(self, commands: WatchCommands, loop: asyncio.AbstractEventLoop,
                 budget: float = REQUEST_BUDGET) -> None:
        self._commands = commands
        self._loop = loop
        self._budget = budget

    def _run(self, make: Any) -> dict:
        """Run ``make(deadline)`` on the loop and wait for its answer (a thread's call)."""

        async def with_deadline() -> dict:
            return await make(Deadline(self._budget))

        future = asyncio.run_coroutine_threadsafe(with_deadline(), self._loop)
        try:
            return future.result(timeout=self._budget + _HAND_BACK_SECONDS)
        except BaseException:
            future.cancel()
            raise

    def list(self, check_mode: bool = False, **_ignored: Any) -> dict:
        return self._run(lambda _deadline: self._commands.list())

    def subscribe(self, topic: str, check_mode: bool = False, **_ignored: Any) -> dict:
        return self._run(lambda deadline: self._commands.subscribe(topic, check_mode, deadline))

    def unsubscribe(self, topic: str, check_mode: bool = False, **_ignored: Any) -> dict:
        return self._run(lambda deadline: self._commands.unsubscribe(topic, check_mode, deadline))

    def open_os_message_channel(self, cpc: str, partition: Optional[str] = None,
                                lpar: Optional[str] = None, subscribe: bool = True,
                                check_mode: bool = False, **_ignored: Any) -> dict:
        kind, name = _object(partition, lpar)
        return self._run(lambda deadline: self._commands.open_channel(
            cpc, kind, name, subscribe, check_mode, deadline))

    def close_os_message_channel(self, cpc: str, partition: Optional[str] = None,
                                 lpar: Optional[str] = None, check_mode: bool = False,
                                 **_ignored: Any) -> dict:
        kind, name = _object(partition, lpar)
        return self._run(lambda deadline: self._commands.close_channel(
            cpc, kind, name, check_mode, deadline))


def _object(partition: Optional[str], lpar: Optional[str]) -> Tuple[str, str]:
    """(kind, name) of a request that names exactly one partition or LPAR."""
    if partition is not None and lpar is None:
        return PARTITION, partition
    if lpar is not None and partition is None:
        return LPAR, lpar
    raise ValueError("exactly one of partition or lpar is required")
