# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Hands events to ansible-rulebook: one dict per ``queue.put``, counted.

ansible-rulebook's queue holds one event (``asyncio.Queue(1)``), so ``await put`` is the
back-pressure. One dict per put is the documented contract; ansible-rulebook 1.1 (AAP 2.5)
fails on a list.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Protocol

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod

LOG = logging.getLogger("zhmc.eda.source")


class QueueLike(Protocol):
    async def put(self, item: Any) -> None: ...


class Emitter:
    """The source's only way to the rulebook."""

    def __init__(self, queue: QueueLike, status_events: bool,
                 host: Callable[[], Optional[str]],
                 after_put: Optional[Callable[[dict], None]] = None) -> None:
        self._queue = queue
        self.status_events = status_events
        self._host = host
        self._after_put = after_put  # the checkpoint records what ansible-rulebook took
        self.count = 0

    async def emit(self, event: dict) -> None:
        self.count += 1
        await self._queue.put(event)
        if self._after_put is not None:
            self._after_put(event)

    async def status(self, state: str, **details: Any) -> None:
        """An ``hmc.status`` event, when status events are on."""
        if not self.status_events:
            return
        try:
            event = events_mod.status_event(state, self._host(), **details)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("could not build a %s status event: %s", state, exc)
            return
        await self.emit(event)
