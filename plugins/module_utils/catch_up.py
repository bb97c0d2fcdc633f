# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""What the source does once the stream is up again after a gap (and at a start with a
checkpoint): list the watched partitions and LPARs, reconcile their channels, emit the
status changes it missed (resync), and fetch the OS messages it missed (backfill).

Listing comes after the new subscription, so a change that happens meanwhile is seen at
least once: by the listing, or live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Dict, Optional

from ansible_collections.zhmc.eda.plugins.module_utils.channels import (
    ChannelOpener, publish_changes)
from ansible_collections.zhmc.eda.plugins.module_utils.emitter import Emitter
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClientError
from ansible_collections.zhmc.eda.plugins.module_utils.pump import Pump
from ansible_collections.zhmc.eda.plugins.module_utils.resume import Resume
from ansible_collections.zhmc.eda.plugins.module_utils.resync import (
    KnownStatus, changed_while_away, resync_event)
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.stream import Stream
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import OsObject, WatchList

LOG = logging.getLogger("zhmc.eda.source")

_STATUS_PROPERTIES = ["status", "additional-status", "has-unacceptable-status"]


class CatchUp:
    """Resync and backfill after a gap."""

    def __init__(self, *, keeper: SessionKeeper, opener: ChannelOpener, watch: WatchList,
                 stream: Stream, pump: Pump, emitter: Emitter, resume: Resume,
                 lock: asyncio.Lock, host: Callable[[], Optional[str]],
                 backfill_enabled: bool, split_os_messages: bool) -> None:
        self._keeper = keeper
        self._opener = opener
        self._watch = watch
        self._stream = stream
        self._pump = pump
        self._emitter = emitter
        self._resume = resume
        self._lock = lock
        self._host = host
        self._backfill = backfill_enabled
        self._split = split_os_messages

    async def after_gap(self, listed: Optional[Dict[str, OsObject]], initial: bool) -> None:
        """``listed``: what a logon's rebuild listed just now (None: list here)."""
        try:
            if listed is None:
                async with self._lock:
                    changes = await self._opener.reconcile_all(initial=False)
                    await publish_changes(changes, self._watch, self._stream.live,
                                          self._emitter.status)
                listed = changes.listed
            await self._resync(listed)
            if self._backfill and (not initial or self._resume.has_positions):
                await self._opener.backfill(self._pump.backfill_from, self._pump.emit_backfill,
                                            self._host(), self._split)
        except (HMCClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            LOG.warning("could not catch up after the gap in the stream (the next resync "
                        "will): %s", self._keeper.mask(exc))

    async def _resync(self, listed: Dict[str, OsObject]) -> None:
        book = self._resume.book
        gap_id = "%d" % (time.time() * 1000)
        for obj in changed_while_away(book, listed.values()):
            old = book.get(obj.uri) or KnownStatus(None)
            try:
                props = await self._keeper.call(self._keeper.client.get_properties, obj.uri,
                                                _STATUS_PROPERTIES)
            except HMCClientError as exc:
                LOG.warning("resync: could not read the status of %s: %s", obj.describe(),
                            self._keeper.mask(exc))
                props = {}
            new = KnownStatus(props.get("status", obj.status), props.get("additional-status"))
            if new.status == old.status:
                continue  # changed back meanwhile
            LOG.info("resync: %s changed from %s to %s while the stream was down",
                     obj.describe(), old.status, new.status)
            event = resync_event(obj, old, new, props, self._host(), gap_id)
            book.set(obj.uri, new)
            if self._pump.accepts(event):
                await self._pump.complete(event)
                await self._emitter.emit(event)
        for obj in listed.values():
            if book.get(obj.uri) is None:
                book.set(obj.uri, KnownStatus(obj.status))  # first sight: nothing to compare
