# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""OS message channels that follow their partitions and LPARs through their life cycle.

The follower learns from the source's own object topic (the pump hands it every
inventory-change and status-change of a partition or LPAR) and from a periodic full
resync (a listing, for what a lost notification hid):

- a partition or LPAR that appears (inventory-change add) or changes status and that an
  ``os_message_channels`` item selects gets its channel opened, or re-opened when it comes
  back (the HMC answers "already open" when the session kept it);
- one whose channel was unavailable (HMC reason 332: not active, or no OS message support)
  is tried again at each of its status changes;
- one that is deleted (inventory-change remove) loses its channel.

Each change is made under the source's state lock, subscribed on the live connection, and
reported: a ``channel`` status event (started, stopped, unavailable) and a log line with the
watch list. The objects named since the last round are taken together: their look-ups and
channels go through the opener's calls many at a time (200 partitions IPLed at once are not
opened one after the other), and a failure of one does not hold up the others.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Dict, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.aio import Clock
from ansible_collections.zhmc.eda.plugins.module_utils.channels import (
    Changes, ChannelOpener, LiveOp, StatusFunc, publish_changes)
from ansible_collections.zhmc.eda.plugins.module_utils.directory import ObjectDirectory
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClientError
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import (
    OS_OBJECT_CLASSES, OsObject, WatchList)

LOG = logging.getLogger("zhmc.eda.source")

ADD = "add"
REMOVE = "remove"
STATUS = "status"


class Follower:
    """Reconciles the channels of single objects on notifications, and all of them now and
    then; runs as a task of its own (``run()``)."""

    def __init__(self, watch: WatchList, opener: ChannelOpener, keeper: SessionKeeper,
                 directory: ObjectDirectory, lock: asyncio.Lock, clock: Clock,
                 resync_interval: float, live: LiveOp, status: StatusFunc) -> None:
        self._watch = watch
        self._opener = opener
        self._keeper = keeper
        self._directory = directory
        self._lock = lock
        self._clock = clock
        self._resync_interval = resync_interval
        self._live = live
        self._status = status
        self._pending: Dict[str, Tuple[str, Optional[str]]] = {}  # uri -> (what, new status)
        self._resync_due = False
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ input (the pump)
    def observe(self, event: dict) -> None:
        """An event of the source's own object topic (cheap: it only notes the object)."""
        hmc = event.get("hmc") or {}
        obj = hmc.get("object") or {}
        uri = obj.get("uri")
        if obj.get("class") not in OS_OBJECT_CLASSES or not isinstance(uri, str):
            return
        kind = hmc.get("notification_type")
        if kind == "inventory-change":
            what = REMOVE if hmc.get("inventory_action") == REMOVE else ADD
            self._pending[uri] = (what, None)
        elif kind == "status-change":
            if self._pending.get(uri, ("", None))[0] != REMOVE:
                self._pending[uri] = (STATUS, hmc.get("new_status"))
        else:
            return
        self._wake.set()

    def request_resync(self) -> None:
        self._resync_due = True
        self._wake.set()

    # ------------------------------------------------------------------ the task
    async def run(self) -> None:
        timer = asyncio.ensure_future(self._resync_timer())
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                pending, self._pending = self._pending, {}
                if pending:
                    await self._guarded("follow %d partition(s) and LPAR(s)" % len(pending),
                                        self._reconcile(pending))
                if self._resync_due:
                    self._resync_due = False
                    await self._guarded("resync the OS message channels", self._resync())
        finally:
            timer.cancel()

    async def _resync_timer(self) -> None:
        while True:
            await self._clock.sleep(self._resync_interval)
            self.request_resync()

    async def _guarded(self, what: str, work: Awaitable[None]) -> None:
        """One reconciliation; an HMC that fails it is logged, the next one may work."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except (HMCClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            LOG.warning("could not %s: %s", what, self._keeper.mask(exc))

    async def _resync(self) -> None:
        async with self._lock:
            changes = await self._opener.reconcile_all(initial=False)
            await publish_changes(changes, self._watch, self._live, self._status)

    async def _reconcile(self, pending: Dict[str, Tuple[str, Optional[str]]]) -> None:
        """The objects notifications named: look them up and open their channels, many at
        once; record and report in the order the notifications came."""
        async with self._lock:
            changes = Changes()
            to_open: List[Tuple[OsObject, str]] = []

            async def resolve(item: Tuple[str, Tuple[str, Optional[str]]]) -> Optional[OsObject]:
                uri, (what, status) = item
                if what == REMOVE:
                    return None
                try:
                    return await self._resolve(uri, status)
                except (HMCClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                    LOG.warning("could not follow %s: %s", uri, self._keeper.mask(exc))
                    return None

            async def decide(item: Tuple[str, Tuple[str, Optional[str]]],
                             obj: Optional[OsObject]) -> None:
                uri, (what, _status) = item
                if what == REMOVE:
                    self._directory.forget(uri)
                    known = self._known(uri)
                    if known is not None:
                        self._opener.forget(known, "deleted from the HMC", changes)
                    return
                if obj is None:
                    return
                spec = self._watch.spec_for(obj)
                if spec is None:
                    if self._known(uri) is not None:
                        self._opener.forget(obj, "no os_message_channels item selects it any "
                                                 "more", changes)
                elif self._watch.channel_of(uri) is None or (what == STATUS and obj.runs_an_os):
                    to_open.append((obj, spec.origin))

            await self._opener.calls.map_ordered(resolve, list(pending.items()), decide)
            await self._opener.open_objects(to_open, changes, on_error=self._open_failed)
            await publish_changes(changes, self._watch, self._live, self._status)

    def _open_failed(self, obj: OsObject, exc: Exception) -> None:
        LOG.warning("could not follow %s: %s", obj.describe(), self._keeper.mask(exc))

    def _known(self, uri: str) -> Optional[OsObject]:
        sub = self._watch.channel_of(uri)
        if sub is not None and sub.obj is not None:
            return sub.obj
        return next((obj for obj, _why in self._watch.unavailable() if obj.uri == uri), None)

    async def _resolve(self, uri: str, status: Optional[str]) -> Optional[OsObject]:
        """The object behind a notification: what the watch list knows, else the directory."""
        known = self._known(uri)
        if known is not None:
            return known.with_status(status) if status is not None else known
        return await self._directory.resolve(uri, status)
