# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""OS message channels: which partitions and LPARs the specs select, and opening theirs.

The opener talks to the HMC through the session keeper and records what it finds in the
watch list: channels opened, objects whose channel is unavailable (HMC 409 reason 332: the
OS has no message support, or the partition is not active), channels of objects that are
gone. It subscribes nothing itself; it returns what changed, and its caller (recovery, the
follower, a control command) subscribes and reports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClientError
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.source_errors import SourceConfigError
from ansible_collections.zhmc.eda.plugins.module_utils.validation import topic_name_problem
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import (
    CONFIG, PARTITION, ChannelSpec, OsObject, WatchList)

LOG = logging.getLogger("zhmc.eda.source")

OPENED = "opened"
EXISTING = "existing"
UNSUPPORTED = "unsupported"
# Why a channel could not be opened, as events and logs say it.
NOT_AVAILABLE = "the HMC says the OS messages interface is not available (HMC reason 332)"
BAD_TOPIC = "the HMC named a topic the broker would refuse"


@dataclasses.dataclass
class Changes:
    """What a reconciliation changed in the watch list."""

    opened: List[Tuple[OsObject, str]] = dataclasses.field(default_factory=list)
    dropped: List[Tuple[OsObject, str, str]] = dataclasses.field(default_factory=list)
    unavailable: List[Tuple[OsObject, str]] = dataclasses.field(default_factory=list)
    unmatched: List[ChannelSpec] = dataclasses.field(default_factory=list)
    # what the listing found, with statuses (only from reconcile_all)
    listed: Dict[str, OsObject] = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.opened or self.dropped or self.unavailable)


class ChannelOpener:
    """Opens the OS message channels the watch list's specs select, in the keeper's session."""

    def __init__(self, keeper: SessionKeeper, watch: WatchList, include_refresh: bool) -> None:
        self._keeper = keeper
        self._watch = watch
        self._include_refresh = include_refresh

    async def find(self, spec: ChannelSpec) -> List[OsObject]:
        client = self._keeper.client
        finder = client.find_partitions if spec.kind == PARTITION else client.find_lpars
        found = await self._keeper.call(finder, spec.cpc, spec.name)
        return [OsObject.from_hmc(item) for item in found]

    async def list_all(self) -> List[OsObject]:
        """Every partition and LPAR of every CPC (for the directory)."""
        client = self._keeper.client
        found = await self._keeper.call(client.find_os_objects, ".*")
        return [OsObject.from_hmc(item) for item in found]

    async def _count_cpcs(self, spec: ChannelSpec) -> int:
        return len(await self._keeper.call(self._keeper.client.find_cpcs, spec.cpc))

    # ------------------------------------------------------------------ one object
    async def open_topic(self, obj: OsObject) -> Tuple[Optional[str], str]:
        """Open one object's channel in the session; records nothing.

        Returns (topic, status): status is opened, existing (open in this session already)
        or unsupported (HMC 409 reason 332, or a topic the broker would refuse: topic None).
        """
        client = self._keeper.client
        topic, status = await self._keeper.call(
            client.open_os_message_channel, obj.uri, self._include_refresh)
        if status == UNSUPPORTED or not topic:
            LOG.info("%s: no OS message channel: %s", obj.describe(), NOT_AVAILABLE)
            return None, UNSUPPORTED
        problem = topic_name_problem(topic)
        if problem is not None:
            # checked here: the receiver would refuse it at the next (re)connect
            LOG.error("the HMC named the OS message channel topic of %s %r, which %s; skipped",
                      obj.describe(), str(topic)[:100], problem)
            return None, UNSUPPORTED
        LOG.info("OS message channel for %s: topic %s (%s)", obj.describe(), topic, status)
        return topic, status

    async def open_object(self, obj: OsObject, origin: str, changes: Changes) -> None:
        """Open the object's channel and record the outcome (open, or unavailable)."""
        topic, _status = await self.open_topic(obj)
        self.record(obj, topic, origin, changes)

    def record(self, obj: OsObject, topic: Optional[str], origin: str, changes: Changes) -> None:
        """Record what opening the object's channel gave: its topic, or None (unavailable)."""
        old = self._watch.channel_of(obj.uri)
        if topic is None:
            if old is None and self._watch.mark_unavailable(obj, NOT_AVAILABLE):
                changes.unavailable.append((obj, NOT_AVAILABLE))
            return
        if old is not None and old.topic == topic:
            return  # the session had it open already: nothing changes
        if old is not None:
            changes.dropped.append((obj, old.topic, "the HMC gave the channel a new topic"))
        self._watch.add_channel(obj, topic, origin)
        changes.opened.append((obj, topic))

    def forget(self, obj: OsObject, why: str, changes: Changes) -> None:
        """The object is gone, or no spec selects it any more."""
        sub = self._watch.forget_object(obj.uri)
        if sub is not None:
            changes.dropped.append((sub.obj or obj, sub.topic, why))

    # ------------------------------------------------------------------ all of them
    async def reconcile_all(self, initial: bool) -> Changes:
        """List what the specs select and make the watch list match it.

        Opens the channels of selected objects that have none (an unavailable one is tried
        again), and, when following, drops the channels of objects no longer listed. At
        start (``initial``) a spec of the options whose CPC pattern matches no CPC is a
        configuration error; a spec that selects no partition or LPAR (yet) is reported in
        ``unmatched`` (with following off that is an error too: nothing would ever match).
        """
        changes = Changes()
        listed: Dict[str, Tuple[OsObject, ChannelSpec]] = {}
        for index, spec in enumerate(list(self._watch.specs)):
            objects = await self.find(spec)
            if not objects:
                await self._nothing_selected(index, spec, initial, changes)
                continue
            for obj in objects:
                if obj.uri not in listed and spec.matches(obj) \
                        and not self._watch.is_closed(obj.uri):
                    listed[obj.uri] = (obj, spec)
        if self._watch.follow:
            for sub in self._watch.channels():
                if sub.obj is not None and sub.obj.uri not in listed:
                    self.forget(sub.obj, "no os_message_channels item selects it any more "
                                         "(deleted or renamed)", changes)
            for obj, _why in self._watch.unavailable():
                if obj.uri not in listed:
                    self._watch.forget_object(obj.uri)
        for obj, spec in listed.values():
            if self._watch.channel_of(obj.uri) is None:
                await self.open_object(obj, spec.origin, changes)
        changes.listed = {uri: obj for uri, (obj, _spec) in listed.items()}
        return changes

    async def _nothing_selected(self, index: int, spec: ChannelSpec, initial: bool,
                                changes: Changes) -> None:
        message = "os_message_channels[%d]: no %s" % (index, spec.describe())
        if initial and spec.origin == CONFIG:
            if not self._watch.follow:
                raise SourceConfigError(message)
            if not await self._count_cpcs(spec):
                raise SourceConfigError("os_message_channels[%d]: no CPC has a name matching %r"
                                        % (index, spec.cpc))
        changes.unmatched.append(spec)
        LOG.warning("%s yet%s", message, "; the source opens channels as they appear"
                    if self._watch.follow else "")


LiveOp = Callable[[str, str], Awaitable[None]]
StatusFunc = Callable[..., Awaitable[None]]


async def publish_changes(changes: Changes, watch: WatchList, live: Optional[LiveOp],
                          status: StatusFunc) -> None:
    """Subscribe what was opened (``live``: on the running connection), unsubscribe what was
    dropped, and report each change as a ``channel`` status event and the list in the log."""
    for obj, topic, why in changes.dropped:
        if live is not None:
            await live("unsubscribe", topic)
        LOG.info("OS message channel of %s stopped: %s", obj.describe(), why)
        await status("channel", action="stopped", object=obj.event_fields(), topic=topic,
                     reason=why)
    for obj, topic in changes.opened:
        if live is not None:
            await live("subscribe", topic)
        await status("channel", action="started", object=obj.event_fields(), topic=topic)
    for obj, reason in changes.unavailable:
        await status("channel", action="unavailable", object=obj.event_fields(), reason=reason)
    for spec in changes.unmatched:
        await status("watch", reason="no %s yet" % spec.describe(), cpc=spec.cpc,
                     kind=spec.kind, name=spec.name)
    if changes or changes.unmatched:
        LOG.info("watch list: %s", watch.summary())


EmitFunc = Callable[[List[dict]], Awaitable[int]]


async def backfill(keeper: SessionKeeper, watch: WatchList,
                   start_of: Callable[[str], Optional[int]], emit: EmitFunc,
                   host: Optional[str], split_os_messages: bool) -> None:
    """Emit the OS messages each channel missed while the stream was down.

    ``start_of(uri)`` is the sequence number to fetch from (None: nothing emitted yet,
    nothing to catch up); ``emit(events)`` hands the events on (it filters and
    deduplicates, and returns how many went out).
    """
    for sub in watch.channels():
        obj = sub.obj
        begin = start_of(obj.uri) if obj is not None else None
        if obj is None or begin is None:
            continue
        try:
            messages = await keeper.call(keeper.client.list_os_messages, obj.uri, begin=begin)
        except (HMCClientError, ValueError, asyncio.TimeoutError) as exc:
            LOG.warning("could not backfill OS messages of %s: %s", obj.describe(), keeper.mask(exc))
            continue
        built = events_mod.os_message_events(
            obj.event_fields(), messages, host=host, topic=sub.topic,
            split_os_messages=split_os_messages)
        sent = await emit(built)
        if sent:
            LOG.info("backfilled %d OS message event(s) for %s", sent, obj.describe())
