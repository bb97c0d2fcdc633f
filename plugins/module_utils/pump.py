# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The data path: received notifications -> events -> filters -> dedupe -> the rulebook.

The pump is handed batches of raw ``(headers, body)`` items by the runtime and decides, per
event, whether it goes out. It keeps the per-stream facts of the data path (which OS
messages were emitted, the last sequence number per topic) and nothing else.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.dedupe import OsMessageDedupe
from ansible_collections.zhmc.eda.plugins.module_utils.directory import ObjectDirectory
from ansible_collections.zhmc.eda.plugins.module_utils.emitter import Emitter
from ansible_collections.zhmc.eda.plugins.module_utils.job_status import JobStatusLookup
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import WatchList

LOG = logging.getLogger("zhmc.eda.source")

# The key under which the topics of the source's own session share one sequence counter.
_OWN_SESSION = "session"


class Pump:
    """Shapes, filters and deduplicates events, and hands them to the emitter."""

    def __init__(self, emitter: Emitter, watch: WatchList, *,
                 event_filter: events_mod.EventFilter, dedupe: bool, split_os_messages: bool,
                 jobs: Optional[JobStatusLookup], host: Callable[[], Optional[str]],
                 directory: Optional[ObjectDirectory] = None, meta_hosts: Optional[str] = None,
                 observe: Optional[Callable[[dict], None]] = None) -> None:
        self._emitter = emitter
        self._watch = watch
        self._filter = event_filter
        self.dedupe: Optional[OsMessageDedupe] = OsMessageDedupe() if dedupe else None
        self._split = split_os_messages
        self._jobs = jobs
        self._host = host
        # sees every event of the source's own object topic, emitted or not (the follower)
        self._observe = observe
        self._directory = directory
        self._meta_hosts = meta_hosts  # None, "cpc" or "object": what sets meta.hosts
        self._gaps = events_mod.SequenceGapTracker()

    def new_connection(self) -> None:
        """Sequence numbers are only comparable within one connection."""
        self._gaps.reset()

    async def deliver(self, items: Iterable[Tuple[dict, Any]],
                      backlog: Optional[Tuple[int, float]] = None) -> None:
        """Turn a batch of received items into events and emit those that pass."""
        host = self._host()
        topic_types = self._watch.topic_type_map()
        emitter = self._emitter
        for headers, body in items:
            sub = self._watch.get(_topic_of(headers))
            if emitter.status_events and sub is not None:
                gap = self._gap(sub.topic, sub.of_own_session, headers)
                if gap is not None:
                    await emitter.status("gap", **gap)
            try:
                built = events_mod.notification_to_events(
                    headers, body, host=host, topic_types=topic_types,
                    split_os_messages=self._split)
            except Exception as exc:  # pylint: disable=broad-except
                # events.py never raises by contract; this is the last line of defence
                LOG.error("could not shape a notification: %s", exc)
                continue
            if self._observe is not None and sub is not None \
                    and self._watch.is_object_topic(sub.topic):
                for event in built:
                    self._observe(event)
            if sub is not None and not sub.emit:
                continue  # a topic the source follows for itself
            for event in built:
                if not self.accepts(event):
                    continue
                await self.complete(event)
                if self._jobs is not None and \
                        event["hmc"].get("notification_type") == "job-completion":
                    await self._jobs.submit(event)
                else:
                    await emitter.emit(event)
        if backlog is not None:
            count, seconds = backlog
            await emitter.status("backlog", count=count, seconds=seconds)

    def accepts(self, event: dict) -> bool:
        """The options' filters, then OS-message dedupe (which records what passes)."""
        if not self._filter.accepts(event):
            return False
        return self.dedupe is None or not _is_duplicate(self.dedupe, event)

    def backfill_from(self, object_uri: str) -> Optional[int]:
        """The sequence number a backfill of the object starts at (None: no backfill)."""
        return self.dedupe.backfill_from(object_uri) if self.dedupe is not None else None

    def _gap(self, topic: str, own_session: bool, headers: dict) -> Optional[dict]:
        """Gap details when session-sequence-nr skipped numbers on a subscribed topic.

        The HMC numbers notifications per API session, across that session's topics, so
        the topics of our own session share one counter; other topics count on their own.
        Only subscribed topics are tracked, so the tracker stays as small as the watch list.
        """
        gap = self._gaps.observe(_OWN_SESSION if own_session else topic,
                                 headers.get("session-sequence-nr"))
        if gap is not None:
            gap["topic"] = topic
        return gap

    async def emit_backfill(self, events: List[dict]) -> int:
        """Emit backfilled events that pass; returns how many went out."""
        sent = 0
        for event in events:
            if self.accepts(event):
                await self.complete(event)
                await self._emitter.emit(event)
                sent += 1
        return sent

    async def complete(self, event: dict) -> None:
        """What a reaction needs that the notification does not carry: the object's CPC
        (name and URI), and ``meta.hosts`` when the options ask for it."""
        directory = self._directory
        if directory is not None:
            cpc = directory.cpc_of(event)
            obj = event["hmc"].get("object")
            if cpc is not None and isinstance(obj, dict):
                obj["cpc_name"], obj["cpc_uri"] = cpc
            elif isinstance(obj, dict):
                await directory.enrich(event)  # an object it does not know yet
        if self._meta_hosts is not None:
            obj = event["hmc"].get("object") or {}
            host = obj.get("cpc_name") if self._meta_hosts == "cpc" else obj.get("name")
            if host:
                event.setdefault("meta", {})["hosts"] = host


def _topic_of(headers: dict) -> str:
    topic = headers.get("destination", "")
    if not isinstance(topic, str):
        return ""
    return topic[len("/topic/"):] if topic.startswith("/topic/") else topic


def _is_duplicate(dedupe: OsMessageDedupe, event: dict) -> bool:
    """True for an OS message emitted before (refresh replay, backfill overlap).

    Without split_os_messages an event carries several messages: it is a duplicate only
    when all of them were emitted before (a partly new one is kept whole).
    """
    hmc = event["hmc"]
    single = hmc.get("os_message")
    messages = [single] if single else hmc.get("os_messages")
    if not messages:
        return False
    uri = (hmc.get("object") or {}).get("uri")
    fresh = [dedupe.is_new(uri, m.get("sequence_number"), m.get("timestamp"), m.get("text"))
             for m in messages]
    return not any(fresh)
