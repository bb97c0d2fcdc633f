# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""OS message channels: find the partitions and LPARs a spec selects, open their channels.

The opener talks to the HMC through the session keeper and records what it opened in the
watch list; it subscribes nothing itself (the stream does that with the watch list's
topics).
"""

from __future__ import annotations

import asyncio
import logging
from typing import List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClientError
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.source_errors import SourceConfigError
from ansible_collections.zhmc.eda.plugins.module_utils.validation import topic_name_problem
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import (
    PARTITION, ChannelSpec, OsObject, WatchList)

LOG = logging.getLogger("zhmc.eda.source")

OPENED = "opened"
EXISTING = "existing"
UNSUPPORTED = "unsupported"


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

    async def open_all(self, initial: bool) -> None:
        """Open a channel for every object the specs match (after each logon).

        At start (``initial``) a spec from the options that matches nothing is a
        configuration error; later it is a warning (objects come and go).
        """
        opened = set()
        for index, spec in enumerate(list(self._watch.specs)):
            objects = await self.find(spec)
            if not objects:
                message = "os_message_channels[%d]: no %s" % (index, spec.describe())
                if initial and spec.origin == "config":
                    raise SourceConfigError(message)
                LOG.warning("%s; no channel opened", message)
                continue
            for obj in objects:
                if obj.uri in opened or self._watch.is_closed(obj.uri) or not spec.matches(obj):
                    continue
                opened.add(obj.uri)
                topic, _status = await self.open_topic(obj)
                if topic is not None:
                    self._watch.add_channel(obj, topic, spec.origin)

    async def open_topic(self, obj: OsObject) -> Tuple[Optional[str], str]:
        """Open one object's channel in the session; records nothing.

        Returns (topic, status): status is opened, existing (open in this session already)
        or unsupported (HMC 409 reason 332: then topic is None).
        """
        client = self._keeper.client
        topic, status = await self._keeper.call(
            client.open_os_message_channel, obj.uri, self._include_refresh)
        if status == UNSUPPORTED or not topic:
            LOG.warning("%s does not support OS messages; skipped", obj.describe())
            return None, UNSUPPORTED
        problem = topic_name_problem(topic)
        if problem is not None:
            # checked here: the receiver would refuse it at the next (re)connect
            LOG.error("the HMC named the OS message channel topic of %s %r, which %s; skipped",
                      obj.describe(), str(topic)[:100], problem)
            return None, UNSUPPORTED
        LOG.info("OS message channel for %s: topic %s (%s)", obj.describe(), topic, status)
        return topic, status


async def backfill(keeper: SessionKeeper, watch: WatchList, last_sequence, emit,
                   host: Optional[str], split_os_messages: bool) -> None:
    """Emit the OS messages each channel missed while the stream was down.

    ``last_sequence(uri)`` is the last sequence number emitted for an object (None: nothing
    emitted yet, nothing to catch up); ``emit(events)`` hands the events on (it filters and
    deduplicates, and returns how many went out).
    """
    for sub in watch.channels():
        obj = sub.obj
        last = last_sequence(obj.uri) if obj is not None else None
        if obj is None or last is None:
            continue
        try:
            messages = await keeper.call(keeper.client.list_os_messages, obj.uri, begin=last + 1)
        except (HMCClientError, ValueError, asyncio.TimeoutError) as exc:
            LOG.warning("could not backfill OS messages of %s: %s", obj.describe(), keeper.mask(exc))
            continue
        built = events_mod.os_message_events(
            obj.event_fields(), messages, host=host, topic=sub.topic,
            split_os_messages=split_os_messages)
        sent = await emit(built)
        if sent:
            LOG.info("backfilled %d OS message event(s) for %s", sent, obj.describe())
