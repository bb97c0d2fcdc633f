# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The control requests of a running `zhmc.eda.notifications` source.

`ControlHandler(source, ws_call_timeout)` is the handler `control.ControlServer` calls (from
its connection threads): `list`, `subscribe`, `unsubscribe`, `open_os_message_channel`,
`close_os_message_channel`. Each request runs as a coroutine on the source's loop and changes
the source's state under its `state_lock`, so it never races a reconnect.

The source (source_runtime.NotificationSource) hands itself in; this module uses only:
`loop`, `state_lock`, `hmc`, `receiver`, `subscriptions`, `channel_specs`, `closed_objects`,
`subscription_list()`, `mask(text)`, `async find_objects(spec)` and
`async open_channel_for(obj, origin) -> (topic | None, status)`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import logging
import re

from ansible_collections.zhmc.eda.plugins.module_utils.blocking_call import run_blocking
from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError

LOG = logging.getLogger("zhmc.eda.source")

# Control requests that wait for the source's state lock give up after this long.
CONTROL_LOCK_TIMEOUT = 8.0
# A subscribe/unsubscribe on the live STOMP connection gives up after this long.
RECEIVER_OP_TIMEOUT = 10.0
# `status` of open_os_message_channel, most telling first (several objects: the first found).
CHANNEL_STATUSES = ("opened", "existing", "unsupported")


class ControlBusy(ZhmcEdaError):
    """A control request found the source busy recovering."""


class ControlHandler:
    """Serves control requests (from the control server's thread) on the source's loop."""

    def __init__(self, source, ws_call_timeout):
        self.source = source
        # one request waits for the lock, then for about one HMC call
        self.request_timeout = CONTROL_LOCK_TIMEOUT + ws_call_timeout

    def _call(self, coro):
        future = asyncio.run_coroutine_threadsafe(coro, self.source.loop)
        try:
            return future.result(timeout=self.request_timeout)
        except BaseException:
            future.cancel()
            raise

    def list(self, check_mode=False, **_ignored):
        return self._call(self._list())

    def subscribe(self, topic=None, check_mode=False, **_ignored):
        return self._call(self._subscribe(topic, check_mode))

    def unsubscribe(self, topic=None, check_mode=False, **_ignored):
        return self._call(self._unsubscribe(topic, check_mode))

    def open_os_message_channel(self, cpc=None, partition=None, lpar=None, subscribe=True,
                                check_mode=False, **_ignored):
        return self._call(self._open_channel(cpc, partition, lpar, subscribe, check_mode))

    def close_os_message_channel(self, cpc=None, partition=None, lpar=None, check_mode=False,
                                 **_ignored):
        return self._call(self._close_channel(cpc, partition, lpar, check_mode))

    # ------------------------------------------------------------ on the loop

    def _result(self, changed, **extra):
        result = {"changed": changed, "subscriptions": self.source.subscription_list()}
        result.update(extra)
        return result

    def _channel_result(self, changed, objects, outcomes):
        """The open_os_message_channel answer; `outcomes`: object uri -> (topic, status)."""
        ordered = [outcomes[obj["uri"]] for obj in objects]
        statuses = [status for _topic, status in ordered]
        extra = {
            "topics": [topic for topic, _status in ordered if topic],
            "status": next(s for s in CHANNEL_STATUSES if s in statuses),
            "topic_name": ordered[0][0] if len(ordered) == 1 else None,
        }
        if len(objects) == 1:
            extra["object_uri"] = objects[0]["uri"]
        return self._result(changed, **extra)

    async def _locked(self):
        try:
            await asyncio.wait_for(self.source.state_lock.acquire(), CONTROL_LOCK_TIMEOUT)
        except asyncio.TimeoutError:
            raise ControlBusy(
                "the source is reconnecting to the HMC; try again in a few seconds") from None

    async def _list(self):
        return self._result(False)

    async def _subscribe(self, topic, check_mode):
        if not topic or not isinstance(topic, str):
            raise ValueError("subscribe needs a non-empty topic name")
        src = self.source
        if topic in src.subscriptions:
            return self._result(False)
        if check_mode:
            return self._result(True)
        await self._locked()
        try:
            src.subscriptions[topic] = {
                "topic": topic, "topic_type": None, "object_uri": None, "origin": "runtime",
            }
            await self._receiver_op("subscribe", topic)
        finally:
            src.state_lock.release()
        LOG.info("control: subscribed to topic %s", topic)
        return self._result(True)

    async def _unsubscribe(self, topic, check_mode):
        src = self.source
        if not topic or topic not in src.subscriptions:
            return self._result(False)
        if check_mode:
            return self._result(True)
        await self._locked()
        try:
            sub = src.subscriptions.pop(topic, None)
            if sub is not None and sub.get("object_uri"):
                # an OS channel topic: do not re-open the channel after a re-logon
                self._forget_channels({sub["object_uri"]})
            await self._receiver_op("unsubscribe", topic)
        finally:
            src.state_lock.release()
        LOG.info("control: unsubscribed from topic %s", topic)
        return self._result(True)

    def _forget_channels(self, uris):
        """Channels closed on request: neither their spec nor a config regex re-opens them."""
        src = self.source
        src.channel_specs = [s for s in src.channel_specs if s.get("object_uri") not in uris]
        src.closed_objects.update(uris)

    async def _receiver_op(self, op, topic):
        receiver = self.source.receiver
        if receiver is None:
            return  # disconnected: the next connect uses the updated table
        try:
            await run_blocking(getattr(receiver, op), topic, timeout=RECEIVER_OP_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # the stream's own error handling reconnects with the updated table
            LOG.warning("control: %s %s on the live connection failed: %s", op, topic,
                        self.source.mask(exc))

    @staticmethod
    def _exact_spec(cpc, partition, lpar):
        """A channel spec for one named partition or LPAR (runtime requests name objects
        exactly; the finders take full-match regexes)."""
        if not cpc or not isinstance(cpc, str):
            raise ValueError("a cpc name is required")
        if (partition is None) == (lpar is None):
            raise ValueError("exactly one of partition or lpar is required")
        kind = "partition" if partition is not None else "lpar"
        name = partition if partition is not None else lpar
        return {"cpc": re.escape(cpc), "kind": kind, "name": re.escape(name), "origin": "runtime"}

    async def _objects(self, cpc, partition, lpar):
        """(spec, matching objects) for a request; ValueError when there is nothing to match."""
        src = self.source
        spec = self._exact_spec(cpc, partition, lpar)
        if src.hmc is None:
            raise ValueError(
                "this source has no HMC Web Services API session (it was configured with "
                "topics only); configure topic_types or os_message_channels to open channels")
        objects = await src.find_objects(spec)
        if not objects:
            raise ValueError("no %s named %r on a CPC named %r" % (spec["kind"], partition or lpar, cpc))
        return spec, objects

    async def _open_channel(self, cpc, partition, lpar, subscribe, check_mode):
        src = self.source
        spec, objects = await self._objects(cpc, partition, lpar)
        known = {s["object_uri"]: t for t, s in src.subscriptions.items() if s.get("object_uri")}
        outcomes = {uri: (topic, "existing") for uri, topic in known.items()}
        todo = [o for o in objects if o["uri"] not in known]
        if not todo:
            return self._channel_result(False, objects, outcomes)
        if check_mode:
            # only opening tells whether the OS supports messages: assume it does
            outcomes.update((o["uri"], (None, "opened")) for o in todo)
            return self._channel_result(True, objects, outcomes)
        changed = False
        await self._locked()
        try:
            for obj in todo:
                if subscribe:
                    src.closed_objects.discard(obj["uri"])
                topic, status = await src.open_channel_for(obj, "runtime")
                outcomes[obj["uri"]] = (topic, status)
                if topic is None:
                    continue  # unsupported: nothing opened, nothing to subscribe
                if not subscribe:
                    src.subscriptions.pop(topic, None)
                    changed = changed or status == "opened"
                    continue
                src.channel_specs.append(dict(spec, object_uri=obj["uri"]))
                await self._receiver_op("subscribe", topic)
                changed = True
        finally:
            src.state_lock.release()
        return self._channel_result(changed, objects, outcomes)

    async def _close_channel(self, cpc, partition, lpar, check_mode):
        src = self.source
        _spec, objects = await self._objects(cpc, partition, lpar)
        uris = set(o["uri"] for o in objects)
        topics = [t for t, s in src.subscriptions.items() if s.get("object_uri") in uris]
        if not topics:
            return self._result(False)
        if check_mode:
            return self._result(True)
        await self._locked()
        try:
            for topic in topics:
                src.subscriptions.pop(topic, None)
                await self._receiver_op("unsubscribe", topic)
            self._forget_channels(uris)
        finally:
            src.state_lock.release()
        return self._result(True, topics=topics)
