# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The asyncio orchestration behind the `zhmc.eda.notifications` event source.

`run_source(queue, options)` owns the HMC Web Services API session (when one is needed),
the STOMP receiver and the control server. It turns notifications into rulebook events,
recovers from every transient failure forever, and cleans up within about 2 s when it is
cancelled. The parts it orchestrates live in the layer below (receiver, hmc_client,
events, control, stomp_config, blocking_call, pacing); the control requests are served by
source_control.ControlHandler, which this file hands the running source to. This file only
decides when to call what.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import logging
import re
import time

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError, blank_secrets
from ansible_collections.zhmc.eda.plugins.module_utils.receiver import (
    NotificationReceiver,
    NotificationConnectionError,
    NotificationJMSError,
    NotificationError,
    NotificationLoginError,
)
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import (
    HMCClient,
    HMCClientError,
    HMCError,
    HMCAuthError,
    HMCConnectionError,
)
from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlServer
from ansible_collections.zhmc.eda.plugins.module_utils.blocking_call import run_blocking
from ansible_collections.zhmc.eda.plugins.module_utils.pacing import Backoff, RateLimitedLog
from ansible_collections.zhmc.eda.plugins.module_utils.source_control import ControlHandler

LOG = logging.getLogger("zhmc.eda.source")

# How many received notifications one loop iteration takes from the receiver.
BATCH_SIZE = 500
# False: one `queue.put(event)` per event, the documented contract, which ansible-rulebook
# 1.1 (AAP 2.5 decision environments) requires; True: one `queue.put(list)` per batch,
# which only 1.2+ accepts (kept for the throughput benchmark's comparison).
PUT_LISTS = False
# Total time budget for clean-up on cancellation (design target: shutdown <= 2 s).
SHUTDOWN_BUDGET = 1.8
# Bounds for single blocking calls made from the loop (they run in daemon threads).
CONNECT_CALL_TIMEOUT = 120.0
WS_CALL_TIMEOUT = 90.0
# A connection that lasted this long resets the reconnect backoff.
HEALTHY_CONNECTION_SECONDS = 10.0

# topic_types option value -> HMC topic-type
TOPIC_TYPE_NAMES = {
    "object": "object-notification",
    "job": "job-notification",
    "audit": "audit-notification",
    "security": "security-notification",
}
OS_TOPIC_TYPE = "os-message-notification"


class SourceConfigError(ValueError):
    """A problem with the source's configuration found while starting (rulebook exits 1)."""


class SourceAuthError(ZhmcEdaError):
    """Authentication failed and cannot be recovered without a password."""


async def run_source(queue, options, on_started=None):
    """Run the source until cancelled; raises on configuration and authentication errors.

    `on_started`, if given, is called (on the loop) once the first connection is up.
    """
    source = NotificationSource(queue, options)
    source.on_started = on_started
    await source.run()


# ---------------------------------------------------------------------------------------


class NotificationSource:
    """State and tasks of one running source (one per rulebook source entry)."""

    def __init__(self, queue, options):
        self.queue = queue
        self.options = options
        # options is a validated SourceOptions (source_options.parse_source_args): defaults,
        # coercion and the merged stomp_retry_timeout_config are already applied there.
        auth = options.hmc_auth
        self.hosts = list(options.hmc_host)
        self.userid = auth.userid
        self.password = auth.password
        self.given_session_id = auth.session_id
        self.given_session_credential = auth.session_credential
        self.verify_cert = (auth.ca_certs or True) if auth.verify else False
        self.ws_port = options.ws_port
        self.stomp_port = options.stomp_port
        self.rt_config = options.stomp_retry_timeout_config
        self.topic_types_opt = list(options.topic_types)
        self.explicit_topics = list(options.topics)
        self.channel_specs_opt = list(options.os_message_channels)
        self.include_refresh = options.include_refresh_messages
        self.split_os_messages = options.split_os_messages
        self.dedupe = options.dedupe_os_messages
        self.backfill = options.backfill_os_messages
        self.job_status = options.job_status
        self.status_events = options.status_events
        self.control_socket = options.control_socket
        self.event_filter = events_mod.EventFilter(
            notification_types=options.notification_types,
            classes=options.classes,
        )
        self.keepalive_interval = options.keepalive_interval
        self.max_pending = options.max_pending
        # The WS API is needed for session topics, OS channels, or a given session id;
        # with only explicit topics the source talks STOMP alone (works on plain ActiveMQ).
        self.ws_mode = options.needs_ws_api

        self.secrets = [self.password, self.given_session_id, self.given_session_credential]
        self.hmc = None
        self.receiver = None
        self.control = None
        self.loop = None
        self.wakeup = asyncio.Event()
        self.state_lock = asyncio.Lock()
        self.ratelog = RateLimitedLog(LOG)
        self.backoff = Backoff.from_config(self.rt_config)

        # topic name -> {topic, topic_type, object_uri, origin}
        self.subscriptions = {}
        # OS channel specs to (re-)open after each logon: dicts {cpc, kind, name, origin}
        self.channel_specs = []
        # partitions/LPARs whose channel was closed through the control socket: a config
        # spec (a regex) that matches them does not re-open them after a re-logon
        self.closed_objects = set()
        self.deduper = events_mod.OsMessageDeduper()
        self.gaps = events_mod.SequenceGapTracker()
        self.host_index = 0
        self.session_generation = 0  # bumped on each (re-)logon
        self.relogon_requested = False
        self.fatal_error = None
        self.backpressure_seen = 0
        self.connected_once = False
        self.connected_at = 0.0
        self.events_emitted = 0
        self.tasks = []
        self.on_started = None

    # ----------------------------------------------------------------- properties

    @property
    def stomp_host(self):
        if self.hmc is not None and getattr(self.hmc, "host", None):
            return self.hmc.host
        return self.hosts[self.host_index % len(self.hosts)]

    def _topic_type_map(self):
        return {t: s["topic_type"] for t, s in self.subscriptions.items() if s.get("topic_type")}

    def subscription_list(self):
        """The subscriptions as the control channel reports them (internal keys removed)."""
        return [
            {key: value for key, value in sub.items() if not key.startswith("_")}
            for sub in sorted(self.subscriptions.values(), key=lambda s: s["topic"])
        ]

    def mask(self, text):
        return blank_secrets(text, self.secrets + self._session_secrets())

    def _session_secrets(self):
        if self.hmc is None:
            return []
        return [getattr(self.hmc, "session_id", None), getattr(self.hmc, "session_credential", None)]

    # ----------------------------------------------------------------- main

    async def run(self):
        self.loop = asyncio.get_running_loop()
        try:
            await self._start()
            self.tasks.append(asyncio.ensure_future(self._keepalive_loop()))
            await self._consume_forever()
        finally:
            await self._cleanup()

    async def _start(self):
        """Log on, resolve topics and channels, connect; fail fast on any error."""
        for topic in self.explicit_topics:
            self.subscriptions[topic] = {
                "topic": topic, "topic_type": None, "object_uri": None, "origin": "config",
            }
        for spec in self.channel_specs_opt:
            self.channel_specs.append(self._spec_from_option(spec, "config"))

        if self.ws_mode:
            await self._start_with_retries(self._logon_and_resolve, "log on to the HMC Web Services API")
        if not self.subscriptions:
            raise SourceConfigError(
                "nothing to subscribe to: the HMC returned no topics for topic_types %s, "
                "no os_message_channels matched, and no topics were given"
                % (self.topic_types_opt,)
            )
        await self._start_with_retries(self._connect_receiver, "connect to the STOMP broker")
        self.connected_once = True
        if self.control_socket:
            self.control = ControlServer(self.control_socket, ControlHandler(self, WS_CALL_TIMEOUT))
            await run_blocking(self.control.start, timeout=30)
        # This line tells users (and tests) that events flow from now on.
        LOG.info(
            "zhmc.eda.notifications connected to %s:%s, subscribed to %d topic(s): %s%s",
            self.stomp_host, self.stomp_port, len(self.subscriptions),
            ", ".join(sorted(self.subscriptions)),
            "; control socket %s" % self.control_socket if self.control_socket else "",
        )
        if self.on_started is not None:
            self.on_started()
        await self._emit_status("connected", topics=sorted(self.subscriptions))

    async def _start_with_retries(self, step, what):
        """Run a start-up step; transient failures retried a few times, then raised."""
        # connect_retries counts retries after the first attempt; -1 means forever.
        retries = self.rt_config.connect_retries
        attempts = None if retries is not None and retries < 0 else 1 + (retries or 0)
        backoff = Backoff.from_config(self.rt_config)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await step()
            except (HMCAuthError, SourceConfigError, SourceAuthError, ValueError):
                raise
            except (HMCConnectionError, NotificationConnectionError, NotificationJMSError,
                    asyncio.TimeoutError) as exc:
                if isinstance(exc, NotificationLoginError):
                    # the broker refused the credentials: retrying cannot help
                    raise SourceAuthError(self.mask(exc)) from None
                if attempts is not None and attempt >= attempts:
                    raise SourceStartError(
                        "could not %s after %d attempts: %s" % (what, attempt, self.mask(exc))
                    ) from None
                delay = backoff.next_delay()
                LOG.warning(
                    "could not %s (attempt %d of %s): %s; retrying in %.1f s",
                    what, attempt, attempts or "unlimited", self.mask(exc), delay,
                )
                await asyncio.sleep(delay)

    # ----------------------------------------------------------------- WS API session

    def _new_hmc_client(self):
        return HMCClient(
            self.hosts,
            userid=self.userid,
            password=self.password,
            session_id=self.given_session_id,
            session_credential=self.given_session_credential,
            port=self.ws_port,
            verify_cert=self.verify_cert,
        )

    async def _logon_and_resolve(self):
        """(Re-)log on, read this session's topics, (re-)open the OS channels."""
        if self.hmc is None:
            self.hmc = self._new_hmc_client()
            relogon_hooks = getattr(self.hmc, "on_relogon", None)
            if isinstance(relogon_hooks, list):
                relogon_hooks.append(self._on_hmc_relogon)
        if self.hmc.session_id and self.session_generation == 0:
            # A session handed in by the caller: validate it and use it as is (it is never
            # logged off by us; renewing it needs the password).
            topics = await run_blocking(self.hmc.get_notification_topics, timeout=WS_CALL_TIMEOUT)
        else:
            await run_blocking(self.hmc.logon, timeout=WS_CALL_TIMEOUT)
            topics = await run_blocking(self.hmc.get_notification_topics, timeout=WS_CALL_TIMEOUT)
        self.session_generation += 1
        self.relogon_requested = False
        await self._resolve_session_topics(topics)
        await self._open_channels(initial=not self.connected_once)

    def _on_hmc_relogon(self, *args, **kwargs):
        """hmc_client renewed the session (from any thread): topics must be rebuilt."""
        self.relogon_requested = True
        if self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self.wakeup.set)
            except RuntimeError:
                pass

    async def _resolve_session_topics(self, topics):
        """Replace the session-derived subscriptions with those of the current session."""
        for topic in [t for t, s in self.subscriptions.items() if s.get("_session_topic")]:
            del self.subscriptions[topic]
        by_type = {}
        for item in topics or []:
            by_type.setdefault(item.get("topic-type"), []).append(item)
        for short in self.topic_types_opt:
            hmc_type = TOPIC_TYPE_NAMES[short]
            names = [i.get("topic-name") for i in by_type.get(hmc_type, []) if i.get("topic-name")]
            if not names:
                # Logon returns the object and job topics even if the list omits them.
                attr = {"object": "object_topic", "job": "job_topic"}.get(short)
                fallback = getattr(self.hmc, attr, None) if attr else None
                names = [fallback] if fallback else []
            if not names:
                LOG.warning("the HMC reported no %s topic for this session", hmc_type)
            for name in names:
                self.subscriptions[name] = {
                    "topic": name, "topic_type": hmc_type, "object_uri": None, "origin": "config",
                    "_session_topic": True,
                }
        # explicit topics that happen to be this session's topics get their type
        for item in topics or []:
            sub = self.subscriptions.get(item.get("topic-name"))
            if sub is not None and sub["topic_type"] is None:
                sub["topic_type"] = item.get("topic-type")

    # ----------------------------------------------------------------- OS message channels

    @staticmethod
    def _spec_from_option(spec, origin):
        spec = dict(spec)
        kind = "partition" if spec.get("partition") is not None else "lpar"
        return {"cpc": spec.get("cpc"), "kind": kind, "name": spec.get(kind), "origin": origin}

    async def find_objects(self, spec):
        finder = self.hmc.find_partitions if spec["kind"] == "partition" else self.hmc.find_lpars
        return await run_blocking(finder, spec["cpc"], spec["name"], timeout=WS_CALL_TIMEOUT)

    async def _open_channels(self, initial):
        """Open a channel for every partition/LPAR the specs match, in this session."""
        # the channels this source opened belong to the old session: forget their topics
        for topic in [t for t, s in self.subscriptions.items() if s.get("_object")]:
            del self.subscriptions[topic]
        opened = set()
        for index, spec in enumerate(self.channel_specs):
            objects = await self.find_objects(spec)
            if not objects:
                message = "os_message_channels[%d]: no %s on a CPC matching %r has a name matching %r" % (
                    index, spec["kind"], spec["cpc"], spec["name"])
                if initial and spec["origin"] == "config":
                    raise SourceConfigError(message)
                LOG.warning("%s; no channel opened", message)
                continue
            for obj in objects:
                if obj["uri"] in self.closed_objects or obj["uri"] in opened:
                    continue
                opened.add(obj["uri"])
                if spec.get("object_uri") and spec["object_uri"] != obj["uri"]:
                    continue  # a runtime spec names one object
                await self.open_channel_for(obj, spec["origin"])

    async def open_channel_for(self, obj, origin):
        """Open the object's channel in this session and subscribe its topic in the table.

        Returns (topic, status) as hmc_client does: status opened | existing | unsupported
        (then topic is None and nothing is added).
        """
        topic, status = await run_blocking(
            self.hmc.open_os_message_channel, obj["uri"], self.include_refresh,
            timeout=WS_CALL_TIMEOUT,
        )
        if status == "unsupported" or not topic:
            LOG.warning(
                "%s %s on CPC %s does not support OS messages; skipped",
                obj.get("class", "object"), obj.get("name"), obj.get("cpc_name"),
            )
            return None, "unsupported"
        self.subscriptions[topic] = {
            "topic": topic, "topic_type": OS_TOPIC_TYPE, "object_uri": obj["uri"], "origin": origin,
            "_object": obj,
        }
        LOG.info(
            "OS message channel for %s %s (CPC %s): topic %s (%s)",
            obj.get("class", "object"), obj.get("name"), obj.get("cpc_name"), topic, status,
        )
        return topic, status

    # ----------------------------------------------------------------- STOMP receiver

    def _stomp_credentials(self):
        if self.hmc is not None:
            session_id = getattr(self.hmc, "session_id", None)
            credential = getattr(self.hmc, "session_credential", None)
            if session_id and credential:
                return session_id, credential
        return self.userid, self.password

    async def _connect_receiver(self):
        """Build a fresh receiver (fresh stomp.Connection) for all current topics."""
        await self._close_receiver(timeout=5.0)
        userid, password = self._stomp_credentials()
        receiver = NotificationReceiver(
            sorted(self.subscriptions),
            self.stomp_host,
            userid,
            password,
            port=self.stomp_port,
            stomp_rt_config=self.rt_config,
            verify_cert=self.verify_cert,
            max_pending=self.max_pending,
        )
        loop = self.loop
        wakeup = self.wakeup

        def _wake():
            loop.call_soon_threadsafe(wakeup.set)

        receiver.set_wakeup(_wake)
        try:
            await run_blocking(receiver.connect, timeout=CONNECT_CALL_TIMEOUT)
        except BaseException as exc:
            await self._close_one(receiver, 2.0)
            if self.hmc is None and isinstance(exc, (NotificationConnectionError, asyncio.TimeoutError)):
                # topics-only mode: try the next of the redundant hosts next time
                self.host_index += 1
            raise
        self.receiver = receiver
        self.connected_at = time.monotonic()
        self.backpressure_seen = getattr(receiver, "backpressure_count", 0) or 0
        self.gaps.reset()  # numbering is only comparable within one connection

    async def _close_one(self, receiver, timeout):
        try:
            await run_blocking(receiver.close, timeout=timeout)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # pylint: disable=broad-except
            LOG.debug("closing the receiver: %s", self.mask(exc))

    async def _close_receiver(self, timeout):
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            await self._close_one(receiver, timeout)

    # ----------------------------------------------------------------- data path

    async def _consume_forever(self):
        idle_wait = 1.0
        loss = None
        try:
            loss = self.rt_config.loss_detection_seconds()
        except (AttributeError, TypeError):
            loss = None
        if loss:
            idle_wait = max(0.05, min(1.0, loss / 2.0))
        while True:
            if self.fatal_error is not None:
                raise self.fatal_error
            if self.relogon_requested:
                # hmc_client already logged on again: rebuild topics, channels, connection
                await self._recover(reason="the HMC session was renewed", relogon=False)
                continue
            receiver = self.receiver
            try:
                items = receiver.poll(0, max_items=BATCH_SIZE)
                if not items:
                    self.wakeup.clear()
                    # re-check after clear(): an item may have arrived in between
                    items = receiver.poll(0, max_items=BATCH_SIZE)
            except NotificationJMSError as exc:
                await self._on_jms_error(exc)
                continue
            except (NotificationConnectionError, NotificationError) as exc:
                await self._recover(reason=self.mask(exc) or type(exc).__name__, relogon=False)
                continue
            if items:
                await self._deliver(items, receiver)
                continue
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout=idle_wait)
            except asyncio.TimeoutError:
                pass

    async def _deliver(self, items, receiver):
        """Shape a batch into events, filter, dedupe, and hand them to the rulebook."""
        host = self.stomp_host
        topic_types = self._topic_type_map()
        out = []
        for headers, body in items:
            try:
                built = events_mod.notification_to_events(
                    headers, body, host=host, topic_types=topic_types,
                    split_os_messages=self.split_os_messages,
                )
            except Exception as exc:  # pylint: disable=broad-except
                # events.py never raises by contract; this is the last line of defence
                LOG.error("could not shape a notification: %s", exc)
                continue
            if self.status_events:
                gap = self._check_gap(headers)
                if gap:
                    out.append(events_mod.status_event("gap", host, **gap))
            for event in built:
                if not self.event_filter.accepts(event):
                    continue
                if self.dedupe and self._is_duplicate(event):
                    continue
                if (self.job_status and self.hmc is not None
                        and event["hmc"].get("notification_type") == "job-completion"):
                    await self._add_job_status(event)
                out.append(event)
        if self.status_events:
            backlog = getattr(receiver, "backpressure_count", 0) or 0
            if backlog > self.backpressure_seen:
                out.append(events_mod.status_event(
                    "backlog", host, count=backlog,
                    seconds=getattr(receiver, "backpressure_seconds", None),
                ))
                self.backpressure_seen = backlog
        if out:
            await self._put(out)

    def _check_gap(self, headers):
        """Gap details when session-sequence-nr skipped numbers, else None.

        The HMC numbers notifications per API session, across that session's topics, so
        the topics of our own session share one counter; other topics count on their own.
        """
        topic = headers.get("destination", "")
        if topic.startswith("/topic/"):
            topic = topic[len("/topic/"):]
        sub = self.subscriptions.get(topic)
        key = topic
        if sub is not None and (sub.get("_session_topic") or sub.get("_object")):
            key = "session"
        gap = self.gaps.observe(key, headers.get("session-sequence-nr"))
        if gap is not None:
            gap["topic"] = topic
        return gap

    def _is_duplicate(self, event):
        """True for an OS message already emitted (refresh replay, backfill overlap).

        Without split_os_messages an event carries several messages: it is a duplicate
        only when all of them were emitted before (a partly new one is kept whole).
        """
        hmc = event["hmc"]
        if hmc.get("os_message"):
            return not self.deduper.is_new_event(event)
        messages = hmc.get("os_messages")
        if not messages:
            return False
        uri = (hmc.get("object") or {}).get("uri")
        fresh = [self.deduper.is_new(uri, m.get("sequence_number"), m.get("timestamp"))
                 for m in messages]
        return not any(fresh)

    async def _add_job_status(self, event):
        hmc = event.get("hmc") or {}
        if hmc.get("notification_type") != "job-completion":
            return
        job = hmc.get("job") or {}
        uri = job.get("uri")
        if not uri:
            return
        try:
            status = await run_blocking(self.hmc.query_job_status, uri, timeout=WS_CALL_TIMEOUT)
        except (HMCClientError, ValueError, asyncio.TimeoutError) as exc:
            LOG.warning("could not look up the status of job %s: %s", uri, self.mask(exc))
            job["status_error"] = self.mask(str(exc))
            hmc["job"] = job
            return
        status = status or {}
        job["status"] = status.get("status")
        job["job_status_code"] = status.get("job-status-code")
        job["job_reason_code"] = status.get("job-reason-code")
        job["job_results"] = status.get("job-results")
        hmc["job"] = job

    async def _put(self, events):
        self.events_emitted += len(events)
        if PUT_LISTS:
            await self.queue.put(events)
        else:
            for event in events:
                await self.queue.put(event)

    async def _emit_status(self, state, **details):
        if not self.status_events:
            return
        try:
            event = events_mod.status_event(state, self.stomp_host, **details)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("could not build a %s status event: %s", state, exc)
            return
        await self._put([event])

    # ----------------------------------------------------------------- recovery

    async def _on_jms_error(self, exc):
        topic = getattr(exc, "topic_name", None)
        if getattr(exc, "unknown_topic", False):
            sub = self.subscriptions.get(topic) if topic else None
            if sub is not None and not sub.get("_session_topic") and not sub.get("_object"):
                # A topic name given by the user that the broker does not know: a re-logon
                # would not bring it back, so drop it instead of looping forever.
                del self.subscriptions[topic]
                LOG.error("the broker does not know topic %s; unsubscribed it", topic)
                await self._emit_status("error", reason="unknown topic", topic=topic)
                await self._recover(reason="ERROR frame for topic %s" % topic, relogon=False)
                return
            if self.hmc is None:
                LOG.error("the broker does not know topic %s", topic)
                await self._recover(reason="unknown topic %s" % topic, relogon=False)
                return
            await self._recover(reason="the broker no longer knows topic %s" % topic, relogon=True)
            return
        await self._recover(reason="ERROR frame: %s" % self.mask(exc), relogon=False)

    async def _recover(self, reason, relogon):
        """Reconnect (and re-logon when needed) until it works; never returns otherwise."""
        # one line per kind of loss per window: numbers (durations, ports) vary, the kind not
        kind = re.sub(r"[0-9.]+", "#", reason)
        self.ratelog.log(logging.WARNING, ("lost", kind), "lost the notification stream: %s; recovering", reason)
        await self._close_receiver(timeout=2.0)
        await self._emit_status("disconnected", reason=reason)
        # A connection that failed soon after it was made keeps the backoff growing, so
        # a broker that accepts and then drops us (or an ERROR loop) is not hammered.
        healthy = time.monotonic() - self.connected_at >= HEALTHY_CONNECTION_SECONDS
        if healthy:
            self.backoff.reset()
        first = healthy
        relogged = False  # across attempts: a re-logon may succeed before the broker is back
        while True:
            if self.fatal_error is not None:
                raise self.fatal_error
            if not first:
                delay = self.backoff.next_delay()
                self.ratelog.log(
                    logging.INFO, ("retry", kind),
                    "reconnecting in %.1f s (attempt %d)", delay, self.backoff.attempt,
                )
                await asyncio.sleep(delay)
            first = False
            async with self.state_lock:
                try:
                    if self.hmc is not None:
                        try:
                            renewed = await self._ensure_session(force=relogon)
                        except (HMCConnectionError, asyncio.TimeoutError) as exc:
                            if relogon:
                                raise  # a new session needs the Web Services API
                            # the broker may be back before the WS API: try the session we have
                            self.ratelog.log(
                                logging.WARNING, ("session check", type(exc).__name__),
                                "could not check the HMC session (%s); reconnecting with the "
                                "current one", self.mask(exc))
                            renewed = False
                        if renewed:
                            relogged = True
                            relogon = False
                    await self._connect_receiver()
                except (HMCAuthError, SourceAuthError) as exc:
                    if self.password:
                        self.ratelog.log(logging.WARNING, ("auth", type(exc).__name__),
                                         "HMC authentication failed during recovery: %s", self.mask(exc))
                        relogon = True
                        continue
                    raise SourceAuthError(
                        "the HMC session given in hmc_auth.session_id is no longer valid and "
                        "cannot be renewed without hmc_auth.password"
                    ) from None
                except (HMCConnectionError, NotificationConnectionError, NotificationJMSError,
                        HMCError, NotificationError, asyncio.TimeoutError, OSError) as exc:
                    self.ratelog.log(logging.WARNING, ("reconnect", re.sub(r"[0-9.]+", "#", str(exc))),
                                     "recovery attempt failed: %s", self.mask(exc) or type(exc).__name__)
                    if isinstance(exc, NotificationJMSError) and getattr(exc, "unknown_topic", False):
                        relogon = self.hmc is not None
                    continue
            break
        self.ratelog.reset(("retry", kind))
        self.ratelog.log(
            logging.INFO, ("recovered", kind),
            "recovered (%s): connected to %s:%s, %d topic(s)%s",
            reason, self.stomp_host, self.stomp_port, len(self.subscriptions),
            ", new HMC session" if relogged else "",
        )
        if relogged:
            await self._emit_status("relogon", topics=sorted(self.subscriptions))
        await self._emit_status("reconnected", topics=sorted(self.subscriptions))
        if self.hmc is not None and self.backfill:
            await self._backfill()

    async def _ensure_session(self, force):
        """Make sure the WS API session is valid; re-logon when needed. True if renewed."""
        generation = self.session_generation
        if not force:
            try:
                before = getattr(self.hmc, "relogon_count", 0)
                topics = await run_blocking(self.hmc.get_notification_topics, timeout=WS_CALL_TIMEOUT)
                if getattr(self.hmc, "relogon_count", 0) == before and not self.relogon_requested:
                    # session alive; OS topics still known to it?
                    known = set(i.get("topic-name") for i in topics or [])
                    missing = [t for t, s in self.subscriptions.items()
                               if s.get("_object") and t not in known]
                    if not missing:
                        return False
                    LOG.warning("OS message channel topic(s) gone from the session: %s", ", ".join(missing))
                    force = True
                else:
                    # hmc_client renewed the session: rebuild topics and channels
                    self.session_generation += 1
                    self.relogon_requested = False
                    await self._resolve_session_topics(topics)
                    await self._open_channels(initial=False)
                    return True
            except HMCAuthError:
                force = True
        if force:
            if self.given_session_id and not self.password:
                raise SourceAuthError("session cannot be renewed")
            await self._logoff_quietly()
            await self._logon_and_resolve()
        return self.session_generation != generation

    async def _logoff_quietly(self):
        try:
            await run_blocking(self.hmc.logoff, timeout=10.0)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # pylint: disable=broad-except
            LOG.debug("log off of the old session: %s", self.mask(exc))

    async def _backfill(self):
        """Emit OS messages that arrived while the stream was down (List OS Messages)."""
        for topic, sub in list(self.subscriptions.items()):
            uri = sub.get("object_uri")
            if sub["topic_type"] != OS_TOPIC_TYPE or not uri:
                continue
            last = self.deduper.last(uri)
            if last is None:
                continue
            try:
                result = await run_blocking(
                    self.hmc.list_os_messages, uri, begin=last + 1, timeout=WS_CALL_TIMEOUT)
            except (HMCClientError, ValueError, asyncio.TimeoutError) as exc:
                LOG.warning("could not backfill OS messages of %s: %s", uri, self.mask(exc))
                continue
            built = events_mod.os_message_events(
                sub.get("_object") or uri, result, host=self.stomp_host, topic=topic,
                split_os_messages=self.split_os_messages,
            )
            out = []
            for event in built:
                if not self.event_filter.accepts(event):
                    continue
                if self.dedupe and self._is_duplicate(event):
                    continue
                out.append(event)
            if out:
                LOG.info("backfilled %d OS message event(s) for %s", len(out), uri)
                await self._put(out)

    # ----------------------------------------------------------------- keepalive

    async def _keepalive_loop(self):
        """Keep the WS API session alive and notice when it had to be renewed."""
        while True:
            await asyncio.sleep(self.keepalive_interval)
            if self.hmc is None:
                continue
            try:
                before = self.hmc.relogon_count
                await run_blocking(self.hmc.keepalive, timeout=WS_CALL_TIMEOUT)
                if self.hmc.relogon_count != before:
                    self.relogon_requested = True
                    self.wakeup.set()
                self.ratelog.reset(("keepalive",))
            except HMCAuthError as exc:
                if self.given_session_id and not self.password:
                    self.fatal_error = SourceAuthError(
                        "the HMC session given in hmc_auth.session_id is no longer valid and "
                        "cannot be renewed without hmc_auth.password"
                    )
                else:
                    self.relogon_requested = True
                LOG.warning("HMC session check failed: %s", self.mask(exc))
                self.wakeup.set()
            except (HMCClientError, asyncio.TimeoutError, OSError) as exc:
                self.ratelog.log(logging.WARNING, ("keepalive",),
                                 "HMC session keep-alive failed: %s", self.mask(exc))
            except Exception as exc:  # pylint: disable=broad-except
                # a surprise here must not end the keep-alive for good, nor the source
                self.ratelog.log(logging.ERROR, ("keepalive", type(exc).__name__),
                                 "HMC session keep-alive failed unexpectedly: %s: %s",
                                 type(exc).__name__, self.mask(exc))

    # ----------------------------------------------------------------- cleanup

    async def _cleanup(self):
        """Bounded clean-up: stop control, unsubscribe and disconnect, log off our session."""
        deadline = time.monotonic() + SHUTDOWN_BUDGET

        def remaining(share=1.0):
            return max(0.05, (deadline - time.monotonic()) * share)

        for task in self.tasks:
            task.cancel()
        control, self.control = self.control, None
        receiver, self.receiver = self.receiver, None
        steps = []
        if control is not None:
            steps.append(run_blocking(control.close, timeout=remaining(0.3)))
        if receiver is not None:
            steps.append(run_blocking(receiver.close, timeout=remaining(0.6)))
        if steps:
            await self._shielded_gather(steps, remaining())
        # hmc_client logs off only a session it created; one handed in belongs to the caller.
        if self.hmc is not None:
            await self._shielded_gather(
                [run_blocking(self.hmc.logoff, timeout=remaining())], remaining())
        LOG.info("zhmc.eda.notifications stopped (%d events emitted)", self.events_emitted)

    async def _shielded_gather(self, coros, timeout):
        """Run clean-up steps to completion (or timeout) even while being cancelled."""
        gathered = asyncio.ensure_future(asyncio.gather(*coros, return_exceptions=True))
        try:
            results = await asyncio.wait_for(asyncio.shield(gathered), timeout)
        except asyncio.CancelledError:
            # cancelled again while cleaning up: give the steps their time, then go
            try:
                await asyncio.wait_for(gathered, timeout)
            except BaseException as exc:  # pylint: disable=broad-except
                LOG.debug("clean-up interrupted: %s", type(exc).__name__)
            raise
        except asyncio.TimeoutError:
            LOG.warning("clean-up did not finish within %.1f s; leaving it", timeout)
            return
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                LOG.debug("clean-up step: %s", self.mask(result))


class SourceStartError(ZhmcEdaError):
    """The source could not start (HMC or broker unreachable after the start-up retries)."""
