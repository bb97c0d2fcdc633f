# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""One STOMP connection of the receiver: opened once, watched, torn down once, never reused.

A ``BrokerLink`` builds a brand-new stomp.py connection and listener, logs in, learns the
negotiated heart-beats, sends frames (optionally waiting for the broker's RECEIPT), watches
the connection's liveness (a watchdog thread of its own, a maximum frame size) and tears it
down without waiting on the peer. Messages go straight into the receiver's hand-over from
stomp.py's thread; ERROR frames and the loss of the connection are reported to the owner
(the receiver), which decides what they mean.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Callable, Dict, Optional, Protocol, Set, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils import stomp_compat, tls
from ansible_collections.zhmc.eda.plugins.module_utils.connect_diagnosis import (
    diagnose_connect_failure)
from ansible_collections.zhmc.eda.plugins.module_utils.handover import HandOver
from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (
    NotificationConnectionError, NotificationLoginError)
from ansible_collections.zhmc.eda.plugins.module_utils.receiver_config import LinkSettings
from ansible_collections.zhmc.eda.plugins.module_utils.secret_filter import (
    FRAMES_LOGGER, RECEIVER_LOGGER, mask_text)
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import BROKER_HEARTBEAT_DIVISOR

logger = logging.getLogger(RECEIVER_LOGGER)
frame_logger = logging.getLogger(FRAMES_LOGGER)

_monotonic = time.monotonic
_DEBUG = logging.DEBUG
# How often waits re-check for a close or a loss, and how often the watchdog looks.
CHECK_INTERVAL = 0.2


class LinkOwner(Protocol):
    """What a link reports to its receiver (called from stomp.py's or the watchdog's thread)."""

    def link_error_frame(self, link: "BrokerLink", headers: Dict[str, str],
                         body: Optional[str], size: int) -> None: ...

    def link_lost(self, link: "BrokerLink", reason: str) -> None: ...

    def is_closing(self) -> bool: ...


class BrokerLink:
    """One stomp.py connection and everything that belongs to it alone."""

    def __init__(self, number: int, settings: LinkSettings, owner: LinkOwner,
                 hand_over: HandOver) -> None:
        self.number = number
        self.settings = settings
        self._owner = owner
        self._hand_over = hand_over
        self.conn: Any = None
        self.meter = stomp_compat.ReadMeter(settings.max_frame_bytes)
        self.last_seen = _monotonic()
        self.connect_done = threading.Event()
        self.connected = False
        self.connect_error: Optional[str] = None  # the broker's text of a refused login
        # topics whose SUBSCRIBE the broker refused with an ERROR: ActiveMQ keeps the
        # connection open without the subscription, so there is nothing to unsubscribe
        self.refused: Set[str] = set()
        self.lost: Optional[str] = None           # why the connection is gone, set once
        self.ended = threading.Event()            # torn down by us
        self.disconnected = threading.Event()
        self.negotiated_heartbeats: Optional[Tuple[int, int]] = None
        self.loss_threshold: Optional[float] = None  # seconds of silence that count as a loss
        self._send_interval = 0.0
        self._next_held_heartbeat = 0.0
        self._receipts: Dict[str, threading.Event] = {}
        self.error_seen = False

    def receipt_arrived(self, receipt_id: Optional[str]) -> None:
        event = self._receipts.pop(receipt_id or "", None)
        if event is not None:
            event.set()

    def error_frame(self, headers: Dict[str, str], body: Optional[str], size: int) -> None:
        self.error_seen = True
        self._owner.link_error_frame(self, headers, body, size)

    # ------------------------------------------------------------------ opening
    def open(self) -> None:
        """Connect and log in; returns once CONNECTED arrived. Raises
        NotificationConnectionError (NotificationLoginError for a refused login)."""
        settings = self.settings
        conn = stomp_compat.new_connection(settings.host, settings.port, settings.stomp_kwargs)
        self.conn = conn
        if settings.use_tls:
            ca_file = tls.ca_file_for(settings.ca_certs) if settings.ca_certs else None
            stomp_compat.configure_tls(conn, settings.host, settings.port, ca_file,
                                       tls.match_hostname)
        conn.set_listener("zhmc-eda-receiver", _Listener(self, self._hand_over))
        stomp_compat.watch_reads(conn, self.meter, self.mark_lost, self._frame_too_large)
        timeout = settings.connect_timeout or 30
        frame_sent = threading.Event()
        stomp_compat.start_reader_after(conn, frame_sent, timeout,
                                        "zhmc-eda-stomp-%d" % self.number)
        try:
            conn.connect(username=settings.userid, passcode=settings.password, wait=False)
        except Exception as exc:
            self._raise_if_closing()
            if stomp_compat.is_connect_failure(exc):
                reason = diagnose_connect_failure(settings.host, settings.port,
                                                  settings.use_tls, settings.ca_certs,
                                                  min(timeout, 10))
            else:
                reason = mask_text("%s: %s" % (type(exc).__name__, exc),
                                   (settings.password,), settings.userid)
            raise NotificationConnectionError(
                "Cannot connect to the STOMP broker at %s: %s" % (settings.where, reason))
        finally:
            frame_sent.set()
        self._wait_for_connected(timeout)
        self._learn_heartbeats()

    def _wait_for_connected(self, timeout: float) -> None:
        where = self.settings.where
        deadline = _monotonic() + timeout
        while not self.connect_done.wait(CHECK_INTERVAL):
            self._raise_if_closing()
            if self.lost is not None and self.connect_error is None:
                break
            if _monotonic() > deadline:
                raise NotificationConnectionError(
                    "Cannot connect to the STOMP broker at %s: no CONNECTED frame within %s s"
                    % (where, timeout))
        if self.connect_error is not None:
            raise NotificationLoginError(
                "Cannot connect to the STOMP broker at %s: login failed: %s"
                % (where, self.connect_error))
        if not self.connected:
            raise NotificationConnectionError(
                "Cannot connect to the STOMP broker at %s: the connection ended during the "
                "STOMP handshake (%s)" % (where, self.lost))

    def _raise_if_closing(self) -> None:
        if self._owner.is_closing():
            raise NotificationConnectionError(
                "The notification receiver for %s was closed while connecting"
                % self.settings.where)

    def _learn_heartbeats(self) -> None:
        send_ms, recv_ms = stomp_compat.negotiated_heartbeats(self.conn)
        self.negotiated_heartbeats = (send_ms, recv_ms)
        self._send_interval = send_ms / 1000.0
        if recv_ms:
            # Detection must complete within loss_detection_seconds() (which adds 1 s):
            # half a second of it goes to the threshold, the rest covers the watchdog tick.
            # The broker may go silent for two of its intervals (stomp_config
            # BROKER_HEARTBEAT_DIVISOR); the cycle the user configured is the yardstick.
            check = self.settings.heartbeat_receive_check
            cycle = max(self.settings.heartbeat_receive_cycle,
                        recv_ms / 1000.0 * BROKER_HEARTBEAT_DIVISOR)
            self.loss_threshold = cycle * (1 + check) + 0.5
        else:
            self.loss_threshold = None
        self.last_seen = _monotonic()

    def describe(self) -> str:
        """The connection's number, TLS and heart-beats, for the "connected" log line."""
        settings = self.settings
        send_ms, recv_ms = self.negotiated_heartbeats or (0, 0)
        return "connection %d, %s; heart-beats: client sends every %d ms, broker sends every " \
               "%d ms%s" % (
                   self.number,
                   "TLS verified" if settings.use_tls and settings.ca_certs else
                   ("TLS NOT verified" if settings.use_tls else "no TLS"),
                   send_ms, recv_ms,
                   "" if recv_ms else " (no receive heart-beats: a silent connection loss "
                                      "is not detected)")

    # ------------------------------------------------------------------ frames out
    def send_frame(self, what: str, wait: bool,
                   send: Callable[[Dict[str, str]], None], receipt_prefix: str) -> None:
        """Send a frame with send(headers); with wait, until the broker's RECEIPT (bounded
        by connect_timeout). A loss, an ERROR frame, a close or a hand-over that holds
        stomp.py's thread end the wait early: the receiver reports those in order."""
        headers: Dict[str, str] = {}
        receipt_event = None
        if wait:
            receipt_id = "%s.receipt.%s" % (receipt_prefix, uuid.uuid4().hex[:8])
            receipt_event = threading.Event()
            self._receipts[receipt_id] = receipt_event
            headers["receipt"] = receipt_id
        try:
            send(headers)
        except Exception as exc:
            raise NotificationConnectionError(
                "Cannot %s on %s: the connection failed: %s"
                % (what, self.settings.where, type(exc).__name__))
        if receipt_event is None:
            return
        timeout = self.settings.connect_timeout or 30
        deadline = _monotonic() + timeout
        while not receipt_event.wait(CHECK_INTERVAL):
            if self.lost is not None or self.error_seen or self._owner.is_closing():
                return
            if self._hand_over.producer_waiting:
                return  # stomp.py's thread waits for the consumer: the receipt comes later
            if _monotonic() > deadline:
                raise NotificationConnectionError(
                    "Cannot %s on %s: no RECEIPT from the broker within %s s"
                    % (what, self.settings.where, timeout))

    def subscribe(self, topic: str, sub_id: str, wait: bool = True) -> None:
        """SUBSCRIBE to /topic/<topic>; with wait, return once the broker confirmed it."""
        conn = self.conn
        self.send_frame(
            "subscribe to topic %s" % topic, wait,
            lambda headers: conn.subscribe(
                destination="/topic/" + topic, id=sub_id, ack="auto", headers=headers),
            sub_id)

    def unsubscribe(self, topic: str, sub_id: str) -> None:
        """UNSUBSCRIBE and wait for the receipt: nothing of the topic comes after it."""
        conn = self.conn
        self.send_frame("unsubscribe from topic %s" % topic, True,
                        lambda headers: conn.unsubscribe(id=sub_id, headers=headers), sub_id)

    # ------------------------------------------------------------------ liveness
    def is_up(self) -> bool:
        if self.lost is not None or self.ended.is_set() or self.conn is None:
            return False
        try:
            return bool(self.conn.is_connected())
        except Exception:  # a half torn-down stomp.py transport
            return False

    def failure(self) -> Optional[str]:
        """Why this connection must be given up now, or None (the consumer's check)."""
        if self.lost is not None:
            return self.lost
        if self.loss_threshold is not None:
            silence = _monotonic() - self.last_seen
            if silence > self.loss_threshold:
                return "no frame or heart-beat from the broker for %.1f s (limit %.1f s)" % (
                    silence, self.loss_threshold)
        if not self.is_up():
            return "stomp.py reports the connection as closed"
        return None

    def start_watchdog(self) -> None:
        """Declare the connection lost after loss_threshold seconds without any frame or
        heart-beat, whatever stomp.py thinks (a silent peer with an open socket)."""
        if self.loss_threshold is None:
            return
        thread = threading.Thread(target=self._watchdog, daemon=True,
                                  name="zhmc-eda-watchdog-%d" % self.number)
        thread.start()

    def _watchdog(self) -> None:
        threshold = self.loss_threshold or 0.0
        while not self.ended.wait(CHECK_INTERVAL):
            if self.lost is not None:
                return
            silence = _monotonic() - self.last_seen
            if silence > threshold:
                self.mark_lost("no frame or heart-beat from the broker for %.1f s "
                               "(limit %.1f s)" % (silence, threshold))
                return

    def _frame_too_large(self, count: int) -> None:
        self.mark_lost(
            "the broker sent %d bytes without completing a STOMP frame, more than "
            "max_frame_bytes (%d); the connection was abandoned"
            % (count, self.settings.max_frame_bytes))

    def mark_lost(self, reason: str) -> None:
        """Record that the connection is gone (once) and tell the owner (any thread)."""
        if self.lost is not None or self.ended.is_set():
            return
        self.lost = reason
        self._owner.link_lost(self, reason)

    def keep_waiting(self) -> bool:
        """Called by the hand-over every slice while it holds stomp.py's thread: keep the
        connection alive (we, not the broker, are the bottleneck); False ends the wait."""
        if self.ended.is_set() or self._owner.is_closing():
            return False
        now = _monotonic()
        self.last_seen = now
        conn = self.conn
        stomp_compat.note_heartbeat_received(conn, now)
        if self._send_interval and now >= self._next_held_heartbeat:
            self._next_held_heartbeat = now + self._send_interval
            stomp_compat.send_heartbeat_from_held_reader(conn)
        return True

    # ------------------------------------------------------------------ closing
    def disconnect(self, grace: float, subscriptions: Tuple[Tuple[str, str], ...] = ()) -> None:
        """An orderly goodbye: UNSUBSCRIBE each (topic, subscription id), then DISCONNECT,
        waiting up to ``grace`` s for the broker to close. No receipt is waited for per
        topic: under a flood the receipts would queue behind the notifications in flight."""
        if not self.is_up():
            return
        try:
            for topic, sub_id in subscriptions:
                if topic not in self.refused:
                    self.conn.unsubscribe(id=sub_id)
            self.conn.disconnect()
            self.disconnected.wait(grace)
        except Exception as exc:  # the socket is cut by abandon() anyway
            logger.debug("DISCONNECT to %s failed: %s", self.settings.where, type(exc).__name__)

    def abandon(self, why: str) -> None:
        """Tear the connection down without waiting for anything (never blocks)."""
        if self.ended.is_set():
            return
        if self.lost is None:
            self.lost = why
        self.ended.set()
        if self.conn is not None:
            stomp_compat.stop_connection(self.conn)
        self._hand_over.release_producer()
        if logger.isEnabledFor(_DEBUG):
            logger.debug("connection %d to %s torn down: %s", self.number,
                         self.settings.where, why)


class _Listener(stomp_compat.ListenerBase):
    """stomp.py listener of one link; runs in stomp.py's reader thread.

    Per message it only stamps the time, takes the frame's size from the read meter and
    appends to the hand-over: parsing, logging and anything else happens on the consumer's
    side. Every frame (heart-beats too) ends the meter's count of unframed bytes.
    """

    def __init__(self, link: BrokerLink, hand_over: HandOver) -> None:
        self._link = link
        self._meter = link.meter
        self._put = hand_over.put
        self._keep_waiting = link.keep_waiting

    def on_connected(self, frame: Any) -> None:
        link = self._link
        link.last_seen = _monotonic()
        self._meter.unframed = 0
        link.connected = True
        link.connect_done.set()
        if frame_logger.isEnabledFor(_DEBUG):
            frame_logger.debug("connection %d: CONNECTED %s", link.number, frame.headers)

    def on_message(self, frame: Any) -> None:
        self._link.last_seen = _monotonic()
        size = self._meter.take()
        if frame_logger.isEnabledFor(_DEBUG):
            frame_logger.debug("connection %d: MESSAGE %s, body of %d characters",
                               self._link.number, frame.headers, len(frame.body or ""))
        self._put(frame.headers, frame.body, size, self._keep_waiting)

    def on_heartbeat(self) -> None:
        self._link.last_seen = _monotonic()
        self._meter.unframed = 0
        if frame_logger.isEnabledFor(_DEBUG):
            frame_logger.debug("connection %d: heart-beat received", self._link.number)

    def on_receipt(self, frame: Any) -> None:
        link = self._link
        link.last_seen = _monotonic()
        self._meter.unframed = 0
        link.receipt_arrived(frame.headers.get("receipt-id"))

    def on_error(self, frame: Any) -> None:
        link = self._link
        link.last_seen = _monotonic()
        link.error_frame(frame.headers, frame.body, self._meter.take())

    def on_disconnected(self) -> None:
        self._link.disconnected.set()
        self._link.mark_lost("the STOMP connection was closed")

    def on_heartbeat_timeout(self) -> None:
        self._link.mark_lost("stomp.py saw no heart-beat from the broker in time")
