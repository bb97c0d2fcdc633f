# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""HMC notification receiver on stomp.py, with zhmcclient's ``NotificationReceiver`` API.

This file holds the public API and ties the parts together, each with one job:
``receiver_config`` (arguments checked, defaults), ``subscriptions`` (the topics),
``broker_link`` (one STOMP connection: open, watch, tear down), ``handover`` (bounded
hand-over from stomp.py's thread, back-pressure), ``error_frames`` (what an ERROR frame
means), ``stomp_compat`` (every touch of stomp.py internals), ``secret_filter`` (secrets
blanked in log records), ``connect_diagnosis`` (why a connect failed),
``receiver_body`` and ``notification_errors`` (re-exported here).

Two ways to consume: ``notifications()`` (a blocking generator, as in zhmcclient), or
``set_wakeup()`` + ``poll()`` + ``parse_body()`` for an asyncio loop (no per-item thread hop).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ansible_collections.zhmc.eda.plugins.module_utils import stomp_compat
from ansible_collections.zhmc.eda.plugins.module_utils.broker_link import BrokerLink
from ansible_collections.zhmc.eda.plugins.module_utils.error_frames import ErrorFrames
from ansible_collections.zhmc.eda.plugins.module_utils.handover import (
    COALESCE_SECONDS, WAIT_SLICE, HandOver, Item)
from ansible_collections.zhmc.eda.plugins.module_utils.receiver_body import (  # noqa: F401 - re-exported
    parse_body, parse_json_body)
from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (  # noqa: F401 - re-exported
    NotificationConnectionError, NotificationError, NotificationJMSError, NotificationLoginError,
    NotificationParseError, NotificationSubscriptionError, SubscriptionNotFound)
from ansible_collections.zhmc.eda.plugins.module_utils.receiver_config import (  # noqa: F401 - re-exported
    DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES,
    DEFAULT_STOMP_PORT, receiver_config)
from ansible_collections.zhmc.eda.plugins.module_utils.secret_filter import (
    RECEIVER_LOGGER, protect)
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    StompRetryTimeoutConfig)
from ansible_collections.zhmc.eda.plugins.module_utils.subscriptions import SubscriptionTable

__all__ = [
    "NotificationReceiver", "parse_body", "NotificationError", "NotificationJMSError",
    "NotificationParseError", "NotificationConnectionError", "NotificationSubscriptionError",
    "SubscriptionNotFound", "NotificationLoginError", "DEFAULT_STOMP_PORT", "DEFAULT_MAX_PENDING",
    "DEFAULT_MAX_PENDING_BYTES", "DEFAULT_MAX_FRAME_BYTES",
]

logger = logging.getLogger(RECEIVER_LOGGER)

_DEBUG = logging.DEBUG
# How long close() waits for the broker's DISCONNECT receipt before cutting the socket.
_CLOSE_GRACE = 0.5

# What ended a poll() wait: (the link to tear down or None, the reason); reason None: closed.
_Stop = Tuple[Optional[BrokerLink], Optional[str]]


class NotificationReceiver:
    """Receives HMC notifications of one or more topics over STOMP (+TLS).

    ``userid``/``password`` are an HMC userid and password, or (required with MFA, and
    preferred) an HMC session id and its session credential. ``stomp_rt_config`` is a
    ``StompRetryTimeoutConfig`` merged over ``DEFAULT_STOMP_RT_CONFIG``. ``verify_cert``:
    True (the CA bundle requests uses), a CA file or directory, or False (no verification,
    logged as a warning). ``max_pending`` (items) and ``max_pending_bytes`` (bytes as
    received) bound the hand-over from stomp.py's thread; when either is reached the
    receiver stops reading from the socket (back-pressure) and counts it. A frame larger
    than ``max_frame_bytes`` (or one that never ends) abandons the connection.
    ``use_tls=False`` is for plain-STOMP test brokers only; an HMC always uses TLS.
    """

    def __init__(self, topic_names: Union[str, Sequence[str], None], host: str, userid: str,
                 password: str, port: int = DEFAULT_STOMP_PORT,
                 stomp_rt_config: Optional[StompRetryTimeoutConfig] = None,
                 verify_cert: Union[bool, str] = True, max_pending: int = DEFAULT_MAX_PENDING,
                 use_tls: bool = True, max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        stomp_compat.require_stomp()
        config = receiver_config(topic_names, host, userid, password, port, stomp_rt_config,
                                 verify_cert, max_pending, use_tls, max_pending_bytes,
                                 max_frame_bytes)
        self._rt_config = config.rt_config
        self._settings = settings = config.link
        self._where = settings.where
        self._subs = SubscriptionTable(self)
        # The keep list must not hold the receiver: the filter forgets it when it is gone.
        self._secrets = protect(self, password, userid, keep=self._subs.names)
        if settings.use_tls and settings.ca_certs is None:
            logger.warning(
                "TLS certificate verification is DISABLED for the STOMP connection to %s "
                "(verify_cert=False): anyone in the network path can read and forge "
                "notifications", self._where)

        self._hand_over = HandOver(config.max_pending, config.max_pending_bytes, logger,
                                   self._where)
        self._error_frames = ErrorFrames(password, userid, self._subs.names, logger,
                                         self._where)

        # Connection management; _conn_lock serialises connect/subscribe/unsubscribe.
        self._conn_lock = threading.RLock()
        self._link: Optional[BrokerLink] = None
        self._connecting: Optional[BrokerLink] = None
        self._conn_number = 0
        self._connect_count = 0
        self._closed = False

        for topic in config.topic_names:
            self.subscribe(topic)

    # ------------------------------------------------------------------ properties
    @property
    def host(self) -> str:
        """The broker's host name or IP address."""
        return self._settings.host

    @property
    def port(self) -> int:
        """The broker's STOMP port."""
        return self._settings.port

    @property
    def topic_names(self) -> List[str]:
        """The topics currently subscribed (or to be subscribed on connect)."""
        return list(self._subs.names())

    @property
    def stomp_rt_config(self) -> StompRetryTimeoutConfig:
        """The effective (merged) StompRetryTimeoutConfig."""
        return self._rt_config

    @property
    def received_count(self) -> int:
        """Notifications received from the broker so far (all connections)."""
        return self._hand_over.received_count

    @property
    def backpressure_count(self) -> int:
        """How many times stomp.py's thread had to wait because the hand-over was full."""
        return self._hand_over.backpressure_count

    @property
    def backpressure_seconds(self) -> float:
        """Total seconds stomp.py's thread waited for room in the hand-over."""
        return self._hand_over.backpressure_seconds

    @property
    def connect_count(self) -> int:
        """Successful connects so far (1 after the first, +1 per reconnect)."""
        return self._connect_count

    @property
    def negotiated_heartbeats(self) -> Optional[Tuple[int, int]]:
        """(send_ms, receive_ms) agreed with the broker on the current connection, or None."""
        link = self._link
        return link.negotiated_heartbeats if link is not None else None

    @property
    def pending_count(self) -> int:
        """Notifications received but not yet handed to the consumer."""
        return self._hand_over.pending_count

    @property
    def pending_bytes(self) -> int:
        """Bytes (as received) of the notifications waiting in the hand-over."""
        return self._hand_over.pending_bytes

    @property
    def max_pending(self) -> int:
        """The count bound of the hand-over from stomp.py's thread."""
        return self._hand_over.max_items

    @property
    def max_pending_bytes(self) -> int:
        """The byte bound of the hand-over from stomp.py's thread."""
        return self._hand_over.max_bytes

    @property
    def max_frame_bytes(self) -> int:
        """The largest STOMP frame accepted before the connection is abandoned."""
        return self._settings.max_frame_bytes

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed

    # ------------------------------------------------------------------ connection
    def is_connected(self) -> bool:
        """True while the current STOMP connection is up (as far as the receiver knows)."""
        link = self._link
        return link is not None and link.is_up()

    def connect(self) -> None:
        """(Re)connect: a brand-new stomp.py connection and listener, then every current
        subscription re-applied. Raises NotificationConnectionError naming host:port and
        the cause (never a secret)."""
        with self._conn_lock:
            if self._closed:
                raise NotificationConnectionError(
                    "The notification receiver for %s is closed" % self._where)
            old, self._link = self._link, None
            if old is not None:
                old.abandon("replaced by a new connection")
            self._conn_number += 1
            link = BrokerLink(self._conn_number, self._settings, self, self._hand_over)
            self._connecting = link
            try:
                link.open()
                self._subscribe_all(link)
            except BaseException:
                link.abandon("connect failed")
                raise
            finally:
                self._connecting = None
            if self._closed:  # close() ran while we were connecting
                link.abandon("receiver closed")
                raise NotificationConnectionError(
                    "The notification receiver for %s was closed while connecting" % self._where)
            self._link = link
            self._connect_count += 1
            link.start_watchdog()
        logger.info("Connected to STOMP broker %s (%s); topics: %s", self._where,
                    link.describe(), ", ".join(self._subs.names()) or "(none)")

    def _subscribe_all(self, link: BrokerLink) -> None:
        topics = self._subs.items()
        for index, (topic, sub_id) in enumerate(topics):
            # The broker handles frames in order: one receipt for the last one covers all.
            link.subscribe(topic, sub_id, wait=index == len(topics) - 1)
            if logger.isEnabledFor(_DEBUG):
                logger.debug("connection %d: subscribed to %s (id %s)", link.number, topic, sub_id)

    def close(self) -> None:
        """Unsubscribe, disconnect and end any running ``notifications()`` (from any thread,
        within 1 s). The subscriptions stay recorded (``topic_names``).
        Received but not yet consumed notifications stay readable with ``poll()``."""
        if self._closed:
            return
        self._closed = True
        link, connecting = self._link, self._connecting
        if connecting is not None:
            connecting.abandon("receiver closed")
        if link is not None:
            # orderly UNSUBSCRIBE and DISCONNECT; the broker closes the socket
            link.disconnect(_CLOSE_GRACE, tuple(self._subs.items()))
            link.abandon("receiver closed")
        self._hand_over.wake()
        self._secrets.unregister(self)
        logger.info("Notification receiver for %s closed", self._where)

    # ------------------------------------------------------------------ what links report
    def is_closing(self) -> bool:
        """For the links: True once close() was called."""
        return self._closed

    def link_lost(self, link: BrokerLink, reason: str) -> None:
        """A link is gone (any thread): log it and wake the consumer if it is current."""
        if link is not self._link or self._closed:
            return
        logger.warning("STOMP connection %d to %s lost: %s", link.number, self._where, reason)
        self._hand_over.wake()

    def link_error_frame(self, link: BrokerLink, headers: Dict[str, str],
                         body: Optional[str], size: int) -> None:
        """An ERROR frame (stomp.py's thread): before CONNECTED a refused login, otherwise
        a NotificationJMSError queued in order with the notifications."""
        if not link.connected:
            link.connect_error = self._error_frames.login_refusal(headers, body)
            link.connect_done.set()
            return
        error = self._error_frames.jms_error(headers, body)
        if error.unknown_topic and error.topic_name:
            link.refused.add(error.topic_name)
        self._hand_over.put_error(error, size, link.keep_waiting)

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, topic_name: str) -> str:
        """Subscribe to a topic; returns the subscription id. Allowed before connect();
        kept across reconnects until ``unsubscribe()``. Subscribing twice is a no-op."""
        with self._conn_lock:
            sub_id, added = self._subs.add(topic_name)
            if not added:
                return sub_id
            link = self._link
            if link is not None and link.is_up():
                try:
                    link.subscribe(topic_name, sub_id)
                except NotificationConnectionError as exc:
                    link.mark_lost(str(exc))   # the topic stays: the next connect subscribes it
            return sub_id

    def unsubscribe(self, topic_name: str) -> None:
        """Unsubscribe from a topic and forget it (it is not re-subscribed on reconnect).
        Raises SubscriptionNotFound when the topic is not subscribed."""
        with self._conn_lock:
            sub_id = self._subs.get(topic_name)
            if sub_id is None:
                raise SubscriptionNotFound(
                    "Topic %s is not subscribed (subscribed: %s)"
                    % (topic_name, ", ".join(self._subs.names()) or "none"))
            self._subs.remove(topic_name)
            link = self._link
            if link is not None and link.is_up() and topic_name not in link.refused:
                try:
                    link.unsubscribe(topic_name, sub_id)
                except NotificationConnectionError as exc:
                    link.mark_lost(str(exc))   # gone with the connection; forgotten anyway
            if logger.isEnabledFor(_DEBUG):
                logger.debug("unsubscribed from %s (id %s)", topic_name, sub_id)

    def is_subscribed(self, topic_name: str) -> bool:
        """True if the topic is subscribed."""
        return self._subs.get(topic_name) is not None

    def get_subscription(self, topic_name: str) -> str:
        """The subscription id of a topic; SubscriptionNotFound if it is not subscribed."""
        sub_id = self._subs.get(topic_name)
        if sub_id is None:
            raise SubscriptionNotFound("Topic %s is not subscribed" % topic_name)
        return sub_id

    # ------------------------------------------------------------------ consumer side
    def set_wakeup(self, callback: Optional[Any]) -> None:
        """Set (or clear with None) a callable run in stomp.py's thread when the hand-over
        goes from empty to non-empty and when an error or a loss becomes pending. It must be
        cheap and never block (e.g. ``lambda: loop.call_soon_threadsafe(event.set)``).
        After a wakeup, call ``poll()`` until it returns an empty list."""
        if callback is not None and not callable(callback):
            raise ValueError("set_wakeup: expected a callable or None")
        self._hand_over.set_wakeup(callback)

    def poll(self, timeout: float = 0.0, max_items: Optional[int] = None) -> List[Item]:
        """Return received ``(headers, body_text)`` items (at most ``max_items``), waiting up
        to ``timeout`` seconds for the first one.

        When nothing is pending it checks the connection: a pending JMS error is raised as
        NotificationJMSError, a lost or dead connection as NotificationConnectionError.
        Items received before an error are always returned before that error is raised.
        After close() it returns what is left, then empty lists.
        """
        if max_items is not None and max_items < 1:
            raise ValueError("max_items: expected None or an integer >= 1, got %r" % (max_items,))
        items, stop = self._hand_over.take(timeout, max_items, self._why_stop)
        if stop is None:
            return items
        link, reason = stop
        if reason is None:
            return []   # closed
        if link is not None:   # outside the hand-over's lock: tear down, then report
            link.abandon(reason)
        raise NotificationConnectionError(
            "Lost the STOMP connection to %s: %s" % (self._where, reason))

    def _why_stop(self) -> Optional[_Stop]:
        """With the hand-over's lock held and nothing pending: None if all is well."""
        if self._closed:
            return None, None
        link = self._link
        if link is None:
            return None, "not connected (call connect() or notifications())"
        reason = link.failure()
        if reason is None:
            return None
        if self._link is link:
            self._link = None
        return link, reason

    def notifications(self, stop_event: Optional[threading.Event] = None
                      ) -> Iterator[Tuple[Dict[str, str], Any]]:
        """Generator of ``(headers, message)`` for every received notification; message is
        the parsed JSON body, or None for an empty body.

        Connects first unless connected. Raises NotificationConnectionError on a lost
        connection, NotificationJMSError on an ERROR frame and NotificationParseError for a
        body that is not JSON; calling it again resumes with the next notification (and
        reconnects only when the connection is gone). Returns after close() or when
        ``stop_event`` is set (checked at least every 0.2 s; a notification it already took
        is kept for the next call).
        """
        if self._closed:
            return
        hand_over = self._hand_over
        if not self.is_connected() and not hand_over.pending_count:
            self.connect()
        leftovers = hand_over.leftovers
        while True:
            if self._closed or (stop_event is not None and stop_event.is_set()):
                return
            if not leftovers:
                if not hand_over.pending_count and not self.is_connected() \
                        and self._link is None:
                    self.connect()
                # Including the coalescing wait, stop is checked at least every WAIT_SLICE.
                items = self.poll(timeout=WAIT_SLICE - COALESCE_SECONDS)
                if items:
                    leftovers.extend(items)
                continue  # re-check stop before handing out anything
            headers, body = leftovers.popleft()
            yield headers, parse_json_body(body)

    def __repr__(self) -> str:
        return "NotificationReceiver(host=%r, port=%r, topics=%r, connected=%r)" % (
            self.host, self.port, list(self._subs.names()), self.is_connected())
