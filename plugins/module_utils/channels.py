# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""OS message channels: which partitions and LPARs the specs select, and opening theirs.

The opener talks to the HMC through the session keeper and records what it finds in the
watch list: channels opened, objects whose channel is unavailable (HMC 409 reason 332: the
OS has no message support, or the partition is not active), channels of objects that are
gone. It subscribes nothing itself; it returns what changed, and its caller (recovery, the
follower, a control command) subscribes and reports.

Its calls go through one ``ParallelCalls``: many at once where there are many (the channels
of a whole estate at start, after a re-logon and at each resync; the backfill of every
channel after a gap), paced together when the HMC is busy, and recorded in the order of the
listing, so the watch list ends the same as if the calls were made one after the other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClientError
from ansible_collections.zhmc.eda.plugins.module_utils.parallel_calls import ParallelCalls
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.source_errors import SourceConfigError
from ansible_collections.zhmc.eda.plugins.module_utils.validation import topic_name_problem
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import (
    CONFIG, PARTITION, ChannelSpec, OsObject, Subscription, WatchList)

LOG = logging.getLogger("zhmc.eda.source")

OPENED = "opened"
EXISTING = "existing"
UNSUPPORTED = "unsupported"
# emit(events) hands backfilled events on (filtered, deduplicated); returns how many went out
EmitFunc = Callable[[List[dict]], Awaitable[int]]
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

    def __init__(self, keeper: SessionKeeper, watch: WatchList, include_refresh: bool,
                 calls: ParallelCalls) -> None:
        self._keeper = keeper
        self._watch = watch
        self._include_refresh = include_refresh
        self.calls = calls

    async def _call(self, what: str, func: Callable[..., Any], *args: Any) -> Any:
        """One WS API call of the keeper's client, in a slot of the shared pacing."""
        return await self.calls.run(lambda: self._keeper.call(func, *args), what)

    async def find(self, spec: ChannelSpec) -> List[OsObject]:
        client = self._keeper.client
        finder = client.find_partitions if spec.kind == PARTITION else client.find_lpars
        found = await self._call("list the %s" % spec.describe(), finder, spec.cpc, spec.name)
        return [OsObject.from_hmc(item) for item in found]

    async def list_all(self) -> List[OsObject]:
        """Every partition and LPAR of every CPC (for the directory)."""
        found = await self._call("list all partitions and LPARs",
                                 self._keeper.client.find_os_objects, ".*")
        return [OsObject.from_hmc(item) for item in found]

    async def _count_cpcs(self, spec: ChannelSpec) -> int:
        return len(await self._call("list the CPCs", self._keeper.client.find_cpcs, spec.cpc))

    # ------------------------------------------------------------------ one object
    async def open_topic(self, obj: OsObject, log_level: int = logging.INFO
                         ) -> Tuple[Optional[str], str]:
        """Open one object's channel in the session; records nothing.

        Returns (topic, status): status is opened, existing (open in this session already)
        or unsupported (HMC 409 reason 332, or a topic the broker would refuse: topic None).
        """
        topic, status = await self._call(
            "Open OS Message Channel of %s" % obj.describe(),
            self._keeper.client.open_os_message_channel, obj.uri, self._include_refresh)
        if status == UNSUPPORTED or not topic:
            LOG.log(log_level, "%s: no OS message channel: %s", obj.describe(), NOT_AVAILABLE)
            return None, UNSUPPORTED
        problem = topic_name_problem(topic)
        if problem is not None:
            # checked here: the receiver would refuse it at the next (re)connect
            LOG.error("the HMC named the OS message channel topic of %s %r, which %s; skipped",
                      obj.describe(), str(topic)[:100], problem)
            return None, UNSUPPORTED
        LOG.log(log_level, "OS message channel for %s: topic %s (%s)", obj.describe(), topic,
                status)
        return topic, status

    async def open_object(self, obj: OsObject, origin: str, changes: Changes) -> None:
        """Open the object's channel and record the outcome (open, or unavailable)."""
        topic, _status = await self.open_topic(obj)
        self.record(obj, topic, origin, changes)

    async def open_objects(self, objects: Sequence[Tuple[OsObject, str]], changes: Changes,
                           on_error: Optional[Callable[[OsObject, Exception], None]] = None
                           ) -> None:
        """Open the channels of (object, origin) pairs, many at once; record the outcomes in
        the order given. The first failure is raised after the ones before it are recorded;
        with ``on_error``, each failure is handed to it instead and the others go on.
        One log line says what came of them; each channel's own line is at debug level."""
        started = time.monotonic()
        counts = {OPENED: 0, EXISTING: 0, UNSUPPORTED: 0}

        async def work(item: Tuple[OsObject, str]) -> Tuple[Optional[str], str]:
            try:
                return await self.open_topic(item[0], logging.DEBUG)
            except (HMCClientError, ValueError, asyncio.TimeoutError, OSError) as exc:
                if on_error is None:
                    raise
                on_error(item[0], exc)
                return None, ""

        async def deliver(item: Tuple[OsObject, str], outcome: Tuple[Optional[str], str]
                          ) -> None:
            if outcome[1]:  # "" when on_error took a failure: nothing to record
                counts[outcome[1]] += 1
                self.record(item[0], outcome[0], item[1], changes)

        await self.calls.map_ordered(work, objects, deliver)
        if objects:
            LOG.info("OS message channels of %d object(s) opened in %.1f s (%d call(s) at a "
                     "time): %d new, %d open already, %d unavailable", len(objects),
                     time.monotonic() - started, self.calls.limit, counts[OPENED],
                     counts[EXISTING], counts[UNSUPPORTED])

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

        async def select(item: Tuple[int, ChannelSpec], objects: List[OsObject]) -> None:
            index, spec = item
            if not objects:
                await self._nothing_selected(index, spec, initial, changes)
            for obj in objects:
                if obj.uri not in listed and spec.matches(obj) \
                        and not self._watch.is_closed(obj.uri):
                    listed[obj.uri] = (obj, spec)

        # the specs are listed at the same time, and taken in their order
        await self.calls.map_ordered(lambda item: self.find(item[1]),
                                     list(enumerate(self._watch.specs)), select)
        if self._watch.follow:
            for sub in self._watch.channels():
                if sub.obj is not None and sub.obj.uri not in listed:
                    self.forget(sub.obj, "no os_message_channels item selects it any more "
                                         "(deleted or renamed)", changes)
            for obj, _why in self._watch.unavailable():
                if obj.uri not in listed:
                    self._watch.forget_object(obj.uri)
        open_now = {sub.object_uri for sub in self._watch.channels()}
        await self.open_objects([(obj, spec.origin) for obj, spec in listed.values()
                                 if obj.uri not in open_now], changes)
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

    # ------------------------------------------------------------------ backfill
    async def backfill(self, start_of: Callable[[str], Optional[int]], emit: EmitFunc,
                       host: Optional[str], split_os_messages: bool) -> None:
        """Emit the OS messages each channel missed while the stream was down.

        ``start_of(uri)`` is the sequence number to fetch from (None: nothing emitted yet,
        nothing to catch up). The channels are asked many at once and their messages
        emitted channel after channel, in the watch list's order; a channel whose messages
        cannot be listed is logged and skipped (the others are not held up).
        """
        started = time.monotonic()
        todo = []
        for sub in self._watch.channels():
            begin = start_of(sub.obj.uri) if sub.obj is not None else None
            if begin is not None:
                todo.append((sub, begin))
        totals = [0, 0]  # events emitted, channels that failed

        async def fetch(item: Tuple[Subscription, int]) -> Optional[List[dict]]:
            obj = item[0].obj
            if obj is None:
                return None
            try:
                return await self._call("List OS Messages of %s" % obj.describe(),
                                        self._keeper.client.list_os_messages, obj.uri, item[1])
            except (HMCClientError, ValueError, asyncio.TimeoutError) as exc:
                LOG.warning("could not backfill OS messages of %s: %s", obj.describe(),
                            self._keeper.mask(exc))
                totals[1] += 1
                return None

        async def deliver(item: Tuple[Subscription, int], messages: Optional[List[dict]]
                          ) -> None:
            sub, obj = item[0], item[0].obj
            if messages is None or obj is None:
                return
            built = events_mod.os_message_events(
                obj.event_fields(), messages, host=host, topic=sub.topic,
                split_os_messages=split_os_messages)
            sent = await emit(built)
            totals[0] += sent
            if sent:
                LOG.debug("backfilled %d OS message event(s) for %s", sent, obj.describe())

        await self.calls.map_ordered(fetch, todo, deliver)
        if todo:
            LOG.info("backfill of %d OS message channel(s) done in %.1f s: %d event(s) "
                     "emitted%s", len(todo), time.monotonic() - started, totals[0],
                     ", %d channel(s) failed" % totals[1] if totals[1] else "")


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
