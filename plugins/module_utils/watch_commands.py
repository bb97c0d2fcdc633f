# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The changes a control request may make to a running source's watch list.

Each command runs on the source's loop under its state lock (so it never races a
reconnect) and within a deadline. A command either makes its whole change before the
deadline or none of it: the slow part (HMC calls) comes first and changes nothing; the
change itself (watch list, then the live subscription) is made only when enough time is
left, and is never interrupted. So an answer that says "failed" or "busy" means nothing was
changed, and the module that asked reports the truth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Dict, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.aio import within
from ansible_collections.zhmc.eda.plugins.module_utils.channels import (
    EXISTING, OPENED, UNSUPPORTED, Changes, ChannelOpener, StatusFunc, publish_changes)
from ansible_collections.zhmc.eda.plugins.module_utils.control_protocol import ControlBusy
from ansible_collections.zhmc.eda.plugins.module_utils.stream import LIVE_OP_TIMEOUT, Stream
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import (
    RUNTIME, ChannelSpec, OsObject, WatchList)

LOG = logging.getLogger("zhmc.eda.source")

# Requests wait at most this long for the state lock (held while the source reconnects).
LOCK_TIMEOUT = 8.0
# Time kept back for making a change: the live SUBSCRIBE waits for the broker's receipt.
COMMIT_SECONDS = LIVE_OP_TIMEOUT
# open_os_message_channel's `status`, most telling first (several objects: the first found).
CHANNEL_STATUSES = (OPENED, EXISTING, UNSUPPORTED)


class Deadline:
    """Seconds left until a fixed point in real (``time.monotonic()``) time: the module that
    asked waits in real time, whatever clock the rest of the runtime runs on."""

    def __init__(self, end: float) -> None:
        self._end = end

    @classmethod
    def within(cls, seconds: float) -> "Deadline":
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        return self._end - time.monotonic()


class WatchCommands:
    """list / subscribe / unsubscribe / open and close OS message channels."""

    def __init__(self, watch: WatchList, stream: Stream, opener: Optional[ChannelOpener],
                 lock: asyncio.Lock, status: StatusFunc) -> None:
        self._watch = watch
        self._stream = stream
        self._opener = opener
        self._lock = lock
        self._status = status

    # ------------------------------------------------------------------ answers
    def _answer(self, changed: bool, **extra: object) -> dict:
        answer = {"changed": changed, "subscriptions": self._watch.public_list()}
        answer.update(extra)
        return answer

    def _channel_answer(self, changed: bool, objects: List[OsObject],
                        outcomes: Dict[str, Tuple[Optional[str], str]]) -> dict:
        ordered = [outcomes[obj.uri] for obj in objects]
        statuses = [status for _topic, status in ordered]
        extra: Dict[str, object] = {
            "topics": [topic for topic, _status in ordered if topic],
            "status": next(s for s in CHANNEL_STATUSES if s in statuses),
            "topic_name": ordered[0][0] if len(ordered) == 1 else None,
        }
        if len(objects) == 1:
            extra["object_uri"] = objects[0].uri
        return self._answer(changed, **extra)

    # ------------------------------------------------------------------ locking and time
    async def _acquire(self, deadline: Deadline) -> None:
        wait = min(LOCK_TIMEOUT, deadline.left() - COMMIT_SECONDS)
        try:
            await within(self._lock.acquire(), max(wait, 0.0))
        except asyncio.TimeoutError:
            raise ControlBusy("the source is reconnecting to the HMC; nothing was changed; "
                              "try again in a few seconds") from None

    @staticmethod
    def _before_commit(deadline: Deadline) -> None:
        if deadline.left() < COMMIT_SECONDS:
            raise ControlBusy("the HMC took too long to answer; nothing was changed; try "
                              "again")

    async def _commit_live(self, op: str, topic: str) -> None:
        """The live (un)subscribe, not interrupted by the request's own cancellation."""
        await asyncio.shield(self._stream.live(op, topic))

    # ------------------------------------------------------------------ commands
    async def list(self) -> dict:
        return self._answer(False)

    async def subscribe(self, topic: str, check_mode: bool, deadline: Deadline) -> dict:
        await self._acquire(deadline)
        try:
            if topic in self._watch:
                return self._answer(False)
            if check_mode:
                return self._answer(True)
            self._before_commit(deadline)
            self._watch.add_explicit(topic, RUNTIME)
            await self._commit_live("subscribe", topic)
        finally:
            self._lock.release()
        LOG.info("control: subscribed to topic %s", topic)
        return self._answer(True)

    async def unsubscribe(self, topic: str, check_mode: bool, deadline: Deadline) -> dict:
        await self._acquire(deadline)
        try:
            if topic not in self._watch:
                return self._answer(False)
            if check_mode:
                return self._answer(True)
            self._before_commit(deadline)
            self._watch.remove(topic)
            await self._commit_live("unsubscribe", topic)
        finally:
            self._lock.release()
        LOG.info("control: unsubscribed from topic %s", topic)
        return self._answer(True)

    def _require_opener(self) -> ChannelOpener:
        if self._opener is None:
            raise ValueError(
                "this source has no HMC Web Services API session (it was configured with "
                "topics only); configure topic_types or os_message_channels to open channels")
        return self._opener

    async def _objects(self, cpc: str, kind: str, name: str, deadline: Deadline
                       ) -> Tuple[ChannelSpec, List[OsObject]]:
        """The spec for one named object, and the objects it finds (ValueError: none)."""
        spec = ChannelSpec.exact(cpc, kind, name)
        objects = await within(self._require_opener().find(spec), max(deadline.left() - COMMIT_SECONDS, 0))
        if not objects:
            raise ValueError("no %s named %r on a CPC named %r" % (kind, name, cpc))
        return spec, objects

    async def open_channel(self, cpc: str, kind: str, name: str, subscribe: bool,
                           check_mode: bool, deadline: Deadline) -> dict:
        spec, objects = await self._objects(cpc, kind, name, deadline)
        opener = self._require_opener()
        await self._acquire(deadline)
        try:
            outcomes: Dict[str, Tuple[Optional[str], str]] = {}
            for sub in self._watch.channels():
                outcomes[sub.object_uri or ""] = (sub.topic, EXISTING)
            todo = [obj for obj in objects if obj.uri not in outcomes]
            if not todo:
                return self._channel_answer(False, objects, outcomes)
            if check_mode:
                # only opening tells whether the OS supports messages: assume it does
                outcomes.update((obj.uri, (None, OPENED)) for obj in todo)
                return self._channel_answer(True, objects, outcomes)
            for obj in todo:  # the slow part: it changes nothing here
                outcomes[obj.uri] = await within(
                    opener.open_topic(obj), max(deadline.left() - COMMIT_SECONDS, 0))
            self._before_commit(deadline)
            changed = False
            changes = Changes()
            for obj in todo:
                topic, status = outcomes[obj.uri]
                if not subscribe:
                    changed = changed or status == OPENED
                    continue
                if topic is None and not self._watch.follow:
                    continue  # unsupported: nothing opened, nothing to subscribe
                # the same selector as the options' items: one object, followed like them
                # (an unavailable channel is opened when the object becomes active)
                self._watch.add_spec(ChannelSpec(cpc=spec.cpc, kind=spec.kind, name=spec.name,
                                                 origin=RUNTIME, object_uri=obj.uri))
                opener.record(obj, topic, RUNTIME, changes)
                changed = changed or topic is not None
            await asyncio.shield(publish_changes(changes, self._watch, self._stream.live,
                                                 self._status))
        finally:
            self._lock.release()
        return self._channel_answer(changed, objects, outcomes)

    async def close_channel(self, cpc: str, kind: str, name: str, check_mode: bool,
                            deadline: Deadline) -> dict:
        _spec, objects = await self._objects(cpc, kind, name, deadline)
        uris = {obj.uri for obj in objects}
        await self._acquire(deadline)
        try:
            topics = [s.topic for s in self._watch.channels() if s.object_uri in uris]
            waiting = [o for o, _why in self._watch.unavailable() if o.uri in uris]
            if not topics and not waiting:
                return self._answer(False)
            if check_mode:
                return self._answer(True)
            self._before_commit(deadline)
            self._watch.close_objects(uris)
            for topic in topics:
                self._watch.remove(topic)
                await self._commit_live("unsubscribe", topic)
        finally:
            self._lock.release()
        return self._answer(True, topics=topics)
