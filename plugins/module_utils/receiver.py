# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""HMC notification receiver on stomp.py, with zhmcclient's ``NotificationReceiver`` API.

Beyond zhmcclient: a fresh stomp.py connection and listener per (re)connect with every
subscription (also runtime ones) re-applied; a dead-connection watchdog of its own; a
bounded hand-over from stomp.py's thread with counted back-pressure instead of silent
drops; TLS verified by default; ``close()``/``stop_event`` honoured within a second;
secrets blanked in every log line, stomp.py's included. Works with stomp.py 8.2+ and 9.x.

Two ways to consume: ``notifications()`` (a blocking generator, as in zhmcclient), or
``set_wakeup()`` + ``poll()`` + ``parse_body()`` for an asyncio loop (no per-item thread hop).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import inspect
import json
import logging
import os
import re
import selectors
import socket
import ssl
import threading
import time
import uuid
import weakref

from ansible_collections.zhmc.eda.plugins.module_utils.errors import (
    MASK, blank_secrets)
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    DEFAULT_STOMP_RT_CONFIG, StompRetryTimeoutConfig, stomp_connection_kwargs)
from ansible_collections.zhmc.eda.plugins.module_utils import tls
from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (  # noqa: F401 - re-exported
    NotificationConnectionError,
    NotificationError,
    NotificationJMSError,
    NotificationLoginError,
    NotificationParseError,
    NotificationSubscriptionError,
    SubscriptionNotFound,
)
from ansible_collections.zhmc.eda.plugins.module_utils.validation import topic_name_problem

try:
    import stomp
    import stomp.exception

    HAS_STOMP = True
    STOMP_IMPORT_ERROR = None
    _ListenerBase = stomp.ConnectionListener
except ImportError as _exc:  # reported when a receiver is created
    stomp = None
    HAS_STOMP = False
    STOMP_IMPORT_ERROR = _exc
    _ListenerBase = object

__all__ = [
    "NotificationReceiver", "parse_body", "NotificationError", "NotificationJMSError",
    "NotificationParseError", "NotificationConnectionError", "NotificationSubscriptionError",
    "SubscriptionNotFound", "NotificationLoginError", "DEFAULT_STOMP_PORT", "DEFAULT_MAX_PENDING",
]

DEFAULT_STOMP_PORT = 61612
DEFAULT_MAX_PENDING = 100000

LOGGER_NAME = "zhmc.eda.receiver"
logger = logging.getLogger(LOGGER_NAME)
frame_logger = logging.getLogger(LOGGER_NAME + ".frames")

_monotonic = time.monotonic
_json_loads = json.loads
_DEBUG = logging.DEBUG

# How often a waiting consumer re-checks close(), stop_event and the watchdog.
_WAIT_SLICE = 0.2
# How often the watchdog thread looks at the connection.
_WATCHDOG_TICK = 0.2
# How long a blocked producer waits per slice while the hand-over is full.
_BACKPRESSURE_SLICE = 0.1
# How long poll(), once woken by a first notification, lets more of a burst arrive (a
# thread switch costs more CPU than handing over dozens of notifications), and the count
# at which the producer cuts that wait short.
_COALESCE_SECONDS = 0.01
_COALESCE_ITEMS = 256
# How long close() waits for the broker's DISCONNECT receipt before cutting the socket.
_CLOSE_GRACE = 0.5

# A STOMP login / passcode header value as stomp.py logs frames ("login:x" in a list repr,
# "'login': 'x'" in a dict repr); the login may be a session id.
_LOGIN_HEADER = re.compile(r"(\b(?:login|passcode)'?\s*[:=]\s*'?)([^\s',\]\\}]+)")


# --------------------------------------------------------------------------- body parsing

def parse_body(body_text):
    """Return the JSON of a notification body; None for an empty or blank body.

    Raises NotificationParseError (with the raw body in ``jms_message``) for anything else
    that is not JSON.
    """
    if body_text is None:
        return None
    if isinstance(body_text, bytes):
        try:
            body_text = body_text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotificationParseError(
                "Notification body is not UTF-8: %s" % exc, jms_message=body_text)
    if not body_text or body_text.isspace():
        return None
    try:
        return json.loads(body_text)
    except ValueError as exc:
        raise NotificationParseError(
            "Notification body is not valid JSON: %s" % exc, jms_message=body_text)


# --------------------------------------------------------------------------- secret blanking

class _SecretFilter(logging.Filter):
    """Blanks the passwords / session credentials of live receivers (and every STOMP
    ``login`` header value, which may be a session id) in log records of stomp.py and
    of this module."""

    def __init__(self):
        super(_SecretFilter, self).__init__()
        self._secrets = weakref.WeakKeyDictionary()  # receiver -> tuple of secrets

    def register(self, owner, secrets):
        secrets = tuple(s for s in secrets if s)
        if secrets:
            self._secrets[owner] = secrets

    def unregister(self, owner):
        self._secrets.pop(owner, None)

    def _all_secrets(self):
        found = set()
        for secrets in list(self._secrets.values()):
            found.update(secrets)
        # Longest first, so a secret containing another one is masked whole.
        return sorted(found, key=len, reverse=True)

    def filter(self, record):
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave it
            return True
        cleaned = _LOGIN_HEADER.sub(lambda m: m.group(1) + MASK, text)
        cleaned = blank_secrets(cleaned, self._all_secrets())
        if cleaned != text:
            record.msg = cleaned
            record.args = ()
        if record.exc_info and not record.exc_text:
            formatter = logging.Formatter()
            record.exc_text = blank_secrets(
                formatter.formatException(record.exc_info), self._all_secrets())
            record.exc_info = None
        return True


_SECRET_FILTER = _SecretFilter()
for _name in ("stomp.py", "stomp", LOGGER_NAME, LOGGER_NAME + ".frames"):
    logging.getLogger(_name).addFilter(_SECRET_FILTER)


# --------------------------------------------------------------------------- stomp.py glue

def _set_ssl_accepts_verify():
    """stomp.py 9 added ``verify`` to set_ssl (and verifies against the system store when
    no CA file is given); 8.x verifies exactly when ca_certs is given."""
    if not HAS_STOMP:
        return False
    try:
        return "verify" in inspect.signature(stomp.transport.Transport.set_ssl).parameters
    except (TypeError, ValueError):
        return False


_ERROR_MARK = object()  # first element of a hand-over item that carries an ERROR frame


class _ConnState(object):
    """What belongs to one stomp.py connection: replaced as a whole on reconnect."""

    def __init__(self, number):
        self.number = number
        self.conn = None
        self.last_seen = _monotonic()
        self.connect_done = threading.Event()
        self.connected = False
        self.connect_error = None
        self.lost = None               # why the connection is gone (str), set once
        self.ended = threading.Event()  # torn down by us
        self.disconnected = threading.Event()
        self.negotiated_heartbeats = None
        self.loss_threshold = None     # seconds of silence that count as a loss
        self.send_interval = 0.0
        self.next_blocked_heartbeat = 0.0
        self.receipts = {}             # receipt id -> Event, for SUBSCRIBE confirmations
        self.error_seen = False


class _Listener(_ListenerBase):
    """stomp.py listener of one connection; runs in stomp.py's receiver thread.

    Per message it only stamps the time and appends to the hand-over: parsing, logging
    and anything else happens on the consumer's side.
    """

    def __init__(self, receiver, state):
        self._receiver = receiver
        self._state = state
        self._hand_over = receiver._hand_over

    def on_connected(self, frame):
        state = self._state
        state.last_seen = _monotonic()
        state.connected = True
        state.connect_done.set()
        if frame_logger.isEnabledFor(_DEBUG):
            frame_logger.debug("connection %d: CONNECTED %s", state.number, frame.headers)

    def on_message(self, frame):
        self._state.last_seen = _monotonic()
        if frame_logger.isEnabledFor(_DEBUG):
            frame_logger.debug("connection %d: MESSAGE %s, body of %d characters",
                               self._state.number, frame.headers, len(frame.body or ""))
        self._hand_over(self._state, frame.headers, frame.body)

    def on_heartbeat(self):
        self._state.last_seen = _monotonic()
        if frame_logger.isEnabledFor(_DEBUG):
            frame_logger.debug("connection %d: heart-beat received", self._state.number)

    def on_receipt(self, frame):
        state = self._state
        state.last_seen = _monotonic()
        event = state.receipts.pop(frame.headers.get("receipt-id"), None)
        if event is not None:
            event.set()

    def on_error(self, frame):
        state = self._state
        state.last_seen = _monotonic()
        self._receiver._on_error_frame(state, frame.headers, frame.body)

    def on_disconnected(self):
        self._state.disconnected.set()
        self._receiver._on_lost(self._state, "the STOMP connection was closed")

    def on_heartbeat_timeout(self):
        self._receiver._on_lost(
            self._state, "stomp.py saw no heart-beat from the broker in time")


def _diagnose_connect_failure(host, port, use_tls, ca_certs, timeout):
    """Find out why stomp.py could not connect (it raises ConnectFailedException without a
    cause): one plain attempt with the same TLS settings. Returns a short reason."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return "connection refused"
    except socket.timeout:
        return "connection timed out"
    except socket.gaierror as exc:
        return "cannot resolve host: %s" % exc
    except OSError as exc:
        return str(exc)
    if not use_tls:
        sock.close()
        return "the connection was closed before the STOMP handshake"
    context = tls.client_context(ca_certs)
    try:
        tls_sock = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLError as exc:
        sock.close()
        return tls.describe_tls_error(exc)
    except OSError as exc:
        sock.close()
        return "TLS handshake failed: %s" % exc
    try:
        if ca_certs is not None:
            ok, message = tls.match_hostname(tls_sock.getpeercert(), host)
            if not ok:
                return "TLS certificate verification failed: %s" % message
        return ("stomp.py could not connect, but a diagnostic connection succeeded "
                "(a transient failure?)")
    finally:
        tls_sock.close()


# --------------------------------------------------------------------------- the receiver

class NotificationReceiver(object):
    """Receives HMC notifications of one or more topics over STOMP (+TLS).

    ``userid``/``password`` are an HMC userid and password, or (required with MFA, and
    preferred) an HMC session id and its session credential. ``stomp_rt_config`` is a
    ``StompRetryTimeoutConfig`` merged over ``DEFAULT_STOMP_RT_CONFIG``. ``verify_cert``:
    True (the CA bundle requests uses), a CA file or directory, or False (no verification,
    logged as a warning). ``max_pending`` bounds the hand-over from stomp.py's thread; when
    it is full the receiver stops reading from the socket (back-pressure) and counts it.
    ``use_tls=False`` is for plain-STOMP test brokers only; an HMC always uses TLS.
    """

    def __init__(self, topic_names, host, userid, password, port=DEFAULT_STOMP_PORT,
                 stomp_rt_config=None, verify_cert=True, max_pending=DEFAULT_MAX_PENDING,
                 use_tls=True):
        if not HAS_STOMP:
            raise ImportError(
                "The zhmc.eda notification receiver needs the Python package stomp-py "
                "(pip install 'stomp-py>=8.2.0,!=8.3.0,<10'): %s" % STOMP_IMPORT_ERROR)
        if isinstance(topic_names, str):
            topic_names = [topic_names]
        if topic_names is None:
            topic_names = []
        if not isinstance(topic_names, (list, tuple)):
            raise ValueError(
                "topic_names: expected a topic name or a list of them, got %s"
                % type(topic_names).__name__)
        if not isinstance(host, str) or not host.strip():
            raise ValueError("host: expected a host name or IP address, got %r" % (host,))
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("port: expected an integer from 1 to 65535, got %r" % (port,))
        if not isinstance(userid, str) or not userid:
            raise ValueError("userid: expected a non-empty string (HMC userid or session id)")
        if not isinstance(password, str) or not password:
            raise ValueError(
                "password: expected a non-empty string (HMC password or session credential)")
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError("max_pending: expected an integer >= 1, got %r" % (max_pending,))
        if stomp_rt_config is not None and not isinstance(stomp_rt_config, StompRetryTimeoutConfig):
            raise ValueError(
                "stomp_rt_config: expected a StompRetryTimeoutConfig, got %s"
                % type(stomp_rt_config).__name__)

        self._host = host.strip()
        self._port = port
        self._userid = userid
        self._password = password
        self._use_tls = bool(use_tls)
        self._rt_config = DEFAULT_STOMP_RT_CONFIG.override_with(stomp_rt_config)
        self._stomp_kwargs = stomp_connection_kwargs(self._rt_config)
        self._verify_cert = verify_cert
        self._ca_certs = tls.resolve_ca_certs(verify_cert)
        self._max_pending = max_pending
        self._coalesce_seconds = _COALESCE_SECONDS
        _SECRET_FILTER.register(self, (password,))
        if self._use_tls and self._ca_certs is None:
            logger.warning(
                "TLS certificate verification is DISABLED for the STOMP connection to %s:%d "
                "(verify_cert=False): anyone in the network path can read and forge "
                "notifications", self._host, self._port)

        # Subscriptions: topic -> subscription id, in subscription order.
        self._subs = collections.OrderedDict()
        self._sub_counter = 0
        self._sub_prefix = "zhmc-eda.%d.%x" % (os.getpid(), id(self))

        # Hand-over from stomp.py's thread (see _hand_over) and consumer-side leftovers.
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._pending = collections.deque()
        self._error_marks = 0
        self._batch = collections.deque()  # taken by notifications() but not yet yielded
        self._wakeup = None

        # Connection management; _conn_lock serialises connect/subscribe/unsubscribe.
        self._conn_lock = threading.RLock()
        self._state = None
        self._connecting = None
        self._conn_number = 0
        self._closed = False

        # Counters.
        self._received_count = 0
        self._backpressure_count = 0
        self._backpressure_seconds = 0.0
        self._connect_count = 0

        for topic in topic_names:
            self.subscribe(topic)

    # ------------------------------------------------------------------ properties
    @property
    def host(self):
        """The broker's host name or IP address."""
        return self._host

    @property
    def port(self):
        """The broker's STOMP port."""
        return self._port

    @property
    def topic_names(self):
        """The topics currently subscribed (or to be subscribed on connect)."""
        with self._conn_lock:
            return list(self._subs)

    @property
    def stomp_rt_config(self):
        """The effective (merged) StompRetryTimeoutConfig."""
        return self._rt_config

    @property
    def received_count(self):
        """Notifications received from the broker so far (all connections)."""
        return self._received_count

    @property
    def backpressure_count(self):
        """How many times stomp.py's thread had to wait because the hand-over was full."""
        return self._backpressure_count

    @property
    def backpressure_seconds(self):
        """Total seconds stomp.py's thread waited for room in the hand-over."""
        return self._backpressure_seconds

    @property
    def connect_count(self):
        """Successful connects so far (1 after the first, +1 per reconnect)."""
        return self._connect_count

    @property
    def negotiated_heartbeats(self):
        """(send_ms, receive_ms) agreed with the broker on the current connection, or None."""
        state = self._state
        return state.negotiated_heartbeats if state is not None else None

    @property
    def pending_count(self):
        """Notifications received but not yet handed to the consumer."""
        return len(self._pending) + len(self._batch)

    @property
    def max_pending(self):
        """The bound of the hand-over from stomp.py's thread."""
        return self._max_pending

    @property
    def closed(self):
        """True after close()."""
        return self._closed

    # ------------------------------------------------------------------ connection
    def is_connected(self):
        """True while the current STOMP connection is up (as far as the receiver knows)."""
        state = self._state
        if state is None or state.lost is not None or state.ended.is_set():
            return False
        try:
            return bool(state.conn.is_connected())
        except Exception:  # a half torn-down stomp.py transport
            return False

    def connect(self):
        """(Re)connect: a brand-new stomp.py connection and listener, then every current
        subscription re-applied. Raises NotificationConnectionError naming host:port and
        the cause (never a secret)."""
        with self._conn_lock:
            if self._closed:
                raise NotificationConnectionError(
                    "The notification receiver for %s:%d is closed" % (self._host, self._port))
            old = self._state
            self._state = None
            if old is not None:
                self._abandon(old, "replaced by a new connection")
            self._conn_number += 1
            state = _ConnState(self._conn_number)
            self._connecting = state
            try:
                self._open(state)
                self._subscribe_all(state)
            except BaseException:
                self._abandon(state, "connect failed")
                raise
            finally:
                self._connecting = None
            if self._closed:  # close() ran while we were connecting
                self._abandon(state, "receiver closed")
                raise NotificationConnectionError(
                    "The notification receiver for %s:%d was closed while connecting"
                    % (self._host, self._port))
            self._state = state
            self._connect_count += 1
            self._start_watchdog(state)
        send_ms, recv_ms = state.negotiated_heartbeats or (0, 0)
        logger.info(
            "Connected to STOMP broker %s:%d (connection %d, %s); heart-beats: client sends "
            "every %d ms, broker sends every %d ms%s; topics: %s",
            self._host, self._port, state.number,
            "TLS verified" if self._use_tls and self._ca_certs else
            ("TLS NOT verified" if self._use_tls else "no TLS"),
            send_ms, recv_ms,
            "" if recv_ms else " (no receive heart-beats: a silent connection loss is not "
                               "detected)", ", ".join(self._subs) or "(none)")

    def _where(self):
        return "%s:%d" % (self._host, self._port)

    def _open(self, state):
        kwargs = dict(self._stomp_kwargs)
        conn = stomp.Connection(
            host_and_ports=[(self._host, self._port)], prefer_localhost=False,
            try_loopback_connect=False, **kwargs)
        state.conn = conn
        if self._use_tls:
            ssl_kwargs = {"for_hosts": [(self._host, self._port)]}
            if self._ca_certs is not None:
                ssl_kwargs["ca_certs"] = tls.ca_file_for(self._ca_certs)
                # OpenSSL checks the hostname too; this is a second, explicit check.
                ssl_kwargs["cert_validator"] = tls.match_hostname
            if _SET_SSL_HAS_VERIFY:
                ssl_kwargs["verify"] = self._ca_certs is not None
            conn.set_ssl(**ssl_kwargs)
        conn.set_listener("zhmc-eda-receiver", _Listener(self, state))
        self._watch_for_eof(state)

        timeout = self._rt_config.connect_timeout or 30
        # stomp.py 8 reads and writes one TLS socket from two threads; its reader starting
        # while the STOMP frame is written (TLS 1.3 session tickets arrive just then) breaks
        # the connection now and then. Let the reader start once the frame is out.
        frame_sent = threading.Event()

        def create_reader_thread(callback):
            def run():
                frame_sent.wait(timeout)
                callback()

            thread = threading.Thread(target=run, name="zhmc-eda-stomp-%d" % state.number)
            thread.daemon = True
            thread.start()
            return thread

        conn.transport.override_threading(create_reader_thread)
        try:
            conn.connect(username=self._userid, passcode=self._password, wait=False)
        except Exception as exc:
            if self._closed:
                raise NotificationConnectionError(
                    "The notification receiver for %s was closed while connecting"
                    % self._where())
            if isinstance(exc, stomp.exception.ConnectFailedException):
                reason = _diagnose_connect_failure(
                    self._host, self._port, self._use_tls, self._ca_certs, min(timeout, 10))
            else:
                reason = blank_secrets("%s: %s" % (type(exc).__name__, exc),
                                       (self._password, self._userid))
            raise NotificationConnectionError(
                "Cannot connect to the STOMP broker at %s: %s" % (self._where(), reason))
        finally:
            frame_sent.set()

        deadline = _monotonic() + timeout
        while not state.connect_done.wait(_WAIT_SLICE):
            if self._closed:
                raise NotificationConnectionError(
                    "The notification receiver for %s was closed while connecting"
                    % self._where())
            if state.lost is not None and state.connect_error is None:
                break
            if _monotonic() > deadline:
                raise NotificationConnectionError(
                    "Cannot connect to the STOMP broker at %s: no CONNECTED frame within %s s"
                    % (self._where(), timeout))
        if state.connect_error is not None:
            raise NotificationLoginError(
                "Cannot connect to the STOMP broker at %s: login failed: %s"
                % (self._where(), state.connect_error))
        if not state.connected:
            raise NotificationConnectionError(
                "Cannot connect to the STOMP broker at %s: the connection ended during the "
                "STOMP handshake (%s)" % (self._where(), state.lost))

        state.negotiated_heartbeats = tuple(getattr(conn, "heartbeats", (0, 0)) or (0, 0))
        send_ms, recv_ms = state.negotiated_heartbeats
        state.send_interval = send_ms / 1000.0
        if recv_ms:
            check = self._rt_config.heartbeat_receive_check
            # Detection must complete within loss_detection_seconds() (which adds 1 s):
            # half a second of it goes to the threshold, the rest covers the watchdog tick.
            state.loss_threshold = recv_ms / 1000.0 * (1 + check) + 0.5
        else:
            state.loss_threshold = None
        state.last_seen = _monotonic()

    def _watch_for_eof(self, state):
        """stomp.py 9 with TLS reads a non-blocking socket and takes an empty read for
        "no data yet", so a connection closed by the broker makes its loop spin instead of
        ending. Treat an empty read as what it is: the end of the connection."""
        transport = state.conn.transport
        original = transport.receive

        def receive():
            data = original()
            # None means "would block" (before CONNECTED); b"" is the end of the stream.
            if data is not None and not data and transport.blocking is False \
                    and transport.running:
                self._on_lost(state, "the broker closed the connection")
                transport.running = False
            return data

        transport.receive = receive

    def _subscribe_all(self, state):
        topics = list(self._subs.items())
        for index, (topic, sub_id) in enumerate(topics):
            # The broker handles frames in order: one receipt for the last one covers all.
            self._send_subscribe(state, topic, sub_id, wait=index == len(topics) - 1)

    def _send_subscribe(self, state, topic, sub_id, wait=True):
        """SUBSCRIBE; with wait, return once the broker confirmed it (RECEIPT), so that
        notifications published after this call are received. An ERROR frame instead
        (e.g. an unknown topic) is delivered in order by poll()/notifications()."""
        self._send_frame(
            state, "subscribe to topic %s" % topic, wait,
            lambda headers: state.conn.subscribe(
                destination="/topic/" + topic, id=sub_id, ack="auto", headers=headers),
            sub_id)
        if logger.isEnabledFor(_DEBUG):
            logger.debug("connection %d: subscribed to %s (id %s)", state.number, topic, sub_id)

    def _send_frame(self, state, what, wait, send, receipt_prefix):
        """Send a frame with send(headers); with wait, until the broker's RECEIPT (bounded
        by connect_timeout). A lost connection or an ERROR frame ends the wait: poll()
        reports those."""
        headers = {}
        receipt_event = None
        if wait:
            receipt_id = "%s.receipt.%s" % (receipt_prefix, uuid.uuid4().hex[:8])
            receipt_event = threading.Event()
            state.receipts[receipt_id] = receipt_event
            headers["receipt"] = receipt_id
        try:
            send(headers)
        except Exception as exc:
            raise NotificationConnectionError(
                "Cannot %s on %s: the connection failed: %s"
                % (what, self._where(), type(exc).__name__))
        if receipt_event is None:
            return
        timeout = self._rt_config.connect_timeout or 30
        deadline = _monotonic() + timeout
        while not receipt_event.wait(_WAIT_SLICE):
            if state.lost is not None or state.error_seen or self._closed:
                return
            if len(self._pending) >= self._max_pending:
                return  # stomp.py's thread waits for the consumer: the receipt comes later
            if _monotonic() > deadline:
                raise NotificationConnectionError(
                    "Cannot %s on %s: no RECEIPT from the broker within %s s"
                    % (what, self._where(), timeout))

    def _start_watchdog(self, state):
        if state.loss_threshold is None:
            return
        thread = threading.Thread(
            target=self._watchdog, args=(state,), name="zhmc-eda-watchdog-%d" % state.number)
        thread.daemon = True
        thread.start()

    def _watchdog(self, state):
        """Declares the connection lost after loss_threshold seconds without any frame or
        heart-beat, whatever stomp.py thinks (a silent peer with an open socket)."""
        threshold = state.loss_threshold
        while not state.ended.wait(_WATCHDOG_TICK):
            if state.lost is not None:
                return
            silence = _monotonic() - state.last_seen
            if silence > threshold:
                self._on_lost(
                    state, "no frame or heart-beat from the broker for %.1f s "
                           "(limit %.1f s)" % (silence, threshold))
                return

    def _on_lost(self, state, reason):
        """Record that a connection is gone and wake the consumer (any thread)."""
        if state.lost is not None or state.ended.is_set():
            return
        state.lost = reason
        if state is not self._state or self._closed:
            return
        logger.warning("STOMP connection %d to %s lost: %s", state.number, self._where(), reason)
        self._wake_consumer()

    def _wake_consumer(self):
        with self._lock:
            self._not_empty.notify_all()
        wakeup = self._wakeup
        if wakeup is not None:
            try:
                wakeup()
            except Exception:  # a wakeup callback must not break stomp.py's thread
                logger.exception("The receiver's wakeup callback failed")

    def _abandon(self, state, why):
        """Tear a connection down without waiting for anything (never blocks)."""
        if state.ended.is_set():
            return
        if state.lost is None:
            state.lost = why
        state.ended.set()
        conn = state.conn
        if conn is None:
            return
        transport = conn.transport
        transport.running = False
        try:
            conn.running = False
            conn.heartbeat_terminate_event.set()
        except AttributeError:
            pass
        sock = transport.socket
        if sock is not None:
            try:  # a plain shutdown, no TLS close handshake that could wait on a dead peer
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except (OSError, ValueError, TypeError):
                pass
        with self._lock:
            self._not_full.notify_all()  # a producer blocked by back-pressure
        if logger.isEnabledFor(_DEBUG):
            logger.debug("connection %d to %s torn down: %s", state.number, self._where(), why)

    def close(self):
        """Disconnect and end any running ``notifications()`` (from any thread, within 1 s).
        Received but not yet consumed notifications stay readable with ``poll()``."""
        if self._closed:
            return
        self._closed = True
        state = self._state
        connecting = self._connecting
        if connecting is not None:
            self._abandon(connecting, "receiver closed")
        if state is not None:
            if self.is_connected():
                try:  # orderly DISCONNECT; the broker's receipt closes the socket
                    state.conn.disconnect()
                    state.disconnected.wait(_CLOSE_GRACE)
                except Exception as exc:  # the socket is cut below anyway
                    logger.debug("DISCONNECT to %s failed: %s", self._where(), type(exc).__name__)
            self._abandon(state, "receiver closed")
        self._wake_consumer()
        _SECRET_FILTER.unregister(self)
        logger.info("Notification receiver for %s closed", self._where())

    # ------------------------------------------------------------------ subscriptions
    @staticmethod
    def _check_topic(topic_name):
        problem = topic_name_problem(topic_name)
        if problem is not None:
            raise ValueError("topic_name: %s: %r" % (problem, topic_name))

    def subscribe(self, topic_name):
        """Subscribe to a topic; returns the subscription id. Allowed before connect();
        kept across reconnects until ``unsubscribe()``. Subscribing twice is a no-op."""
        self._check_topic(topic_name)
        with self._conn_lock:
            if topic_name in self._subs:
                return self._subs[topic_name]
            self._sub_counter += 1
            sub_id = "%s.%d" % (self._sub_prefix, self._sub_counter)
            self._subs[topic_name] = sub_id
            state = self._state
            if state is not None and self.is_connected():
                try:
                    self._send_subscribe(state, topic_name, sub_id)
                except NotificationConnectionError as exc:
                    # The topic stays recorded: the next connect subscribes it.
                    self._on_lost(state, str(exc))
            return sub_id

    def unsubscribe(self, topic_name):
        """Unsubscribe from a topic and forget it (it is not re-subscribed on reconnect).
        Raises SubscriptionNotFound when the topic is not subscribed."""
        with self._conn_lock:
            sub_id = self._subs.pop(topic_name, None)
            if sub_id is None:
                raise SubscriptionNotFound(
                    "Topic %s is not subscribed (subscribed: %s)"
                    % (topic_name, ", ".join(self._subs) or "none"))
            state = self._state
            if state is not None and self.is_connected():
                try:
                    # Wait for the receipt: nothing of the topic is sent after we return.
                    self._send_frame(
                        state, "unsubscribe from topic %s" % topic_name, True,
                        lambda headers: state.conn.unsubscribe(id=sub_id, headers=headers),
                        sub_id)
                except NotificationConnectionError as exc:
                    # Gone with the connection anyway; the topic is forgotten either way.
                    self._on_lost(state, str(exc))
            if logger.isEnabledFor(_DEBUG):
                logger.debug("unsubscribed from %s (id %s)", topic_name, sub_id)

    def is_subscribed(self, topic_name):
        """True if the topic is subscribed."""
        with self._conn_lock:
            return topic_name in self._subs

    def get_subscription(self, topic_name):
        """The subscription id of a topic; SubscriptionNotFound if it is not subscribed."""
        with self._conn_lock:
            try:
                return self._subs[topic_name]
            except KeyError:
                raise SubscriptionNotFound("Topic %s is not subscribed" % topic_name)

    # ------------------------------------------------------------------ hand-over (producer)
    def _hand_over(self, state, headers, body):
        """Runs in stomp.py's thread for every MESSAGE: append, wake the consumer when the
        hand-over was empty. Never drops: a full hand-over blocks this thread (TCP
        back-pressure to the broker) while keeping the connection's liveness."""
        with self._lock:
            pending = self._pending
            if len(pending) >= self._max_pending:
                self._wait_for_room(state)
            pending.append((headers, body))
            self._received_count += 1
            count = len(pending)
            if count != 1:
                if count == _COALESCE_ITEMS:
                    self._not_empty.notify()  # ends a consumer's coalescing wait early
                return
            self._not_empty.notify()
            wakeup = self._wakeup
        if wakeup is not None:
            try:
                wakeup()
            except Exception:
                logger.exception("The receiver's wakeup callback failed")

    def _wait_for_room(self, state):
        """Called with self._lock held, in stomp.py's thread."""
        start = _monotonic()
        self._backpressure_count += 1
        if self._backpressure_count == 1 or logger.isEnabledFor(_DEBUG):
            logger.warning(
                "The consumer is slower than the broker: %d notifications pending; pausing "
                "reads from %s until there is room (back-pressure, nothing is dropped)",
                len(self._pending), self._where())
        pending = self._pending
        while len(pending) >= self._max_pending and not self._closed \
                and not state.ended.is_set():
            self._not_full.wait(_BACKPRESSURE_SLICE)
            # We, not the broker, are the bottleneck: keep the connection counted as alive.
            now = _monotonic()
            state.last_seen = now
            self._keep_stomp_alive(state, now)
        self._backpressure_seconds += _monotonic() - start

    @staticmethod
    def _keep_stomp_alive(state, now):
        conn = state.conn
        if getattr(conn, "received_heartbeat", None) is not None:
            conn.received_heartbeat = now  # stomp.py's heart-beat loop checks this
        if not state.send_interval or now < state.next_blocked_heartbeat:
            return
        state.next_blocked_heartbeat = now + state.send_interval
        # stomp.py 9 with TLS writes only from its receiver thread, which we are blocking:
        # send the heart-beat EOL ourselves, unless that thread is in the middle of a write.
        transport = conn.transport
        if transport.blocking is not False:
            return  # stomp.py 8, or plain TCP: stomp.py's heart-beat thread writes directly
        sel = getattr(transport, "sel", None)
        sock = transport.socket
        if sel is None or sock is None:
            return
        try:
            if sel.get_key(sock).events & selectors.EVENT_WRITE:
                return
            sock.send(b"\n")
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, KeyError, ValueError, OSError):
            pass

    def _on_error_frame(self, state, headers, body):
        """An ERROR frame (stomp.py's thread): during connect it is a login failure,
        otherwise it is queued in order with the messages."""
        state.error_seen = True
        if not state.connected:
            # A login failure may echo the login, which can be a session id: blank it too.
            secrets = (self._password, self._userid)
            message = blank_secrets(headers.get("message", "") or "", secrets)
            body_text = blank_secrets(body, secrets) if body else body
            state.connect_error = message or (body_text or "").strip() or "ERROR frame"
            state.connect_done.set()
            return
        # Later errors name topics, which contain the HMC userid: only the password goes.
        secrets = (self._password,)
        message = blank_secrets(headers.get("message", "") or "", secrets)
        body_text = blank_secrets(body, secrets) if body else body
        error = NotificationJMSError.from_frame(message, headers, body_text)
        logger.warning("JMS error from %s: %s", self._where(), error.args[0])
        with self._lock:
            self._pending.append((_ERROR_MARK, error))
            self._error_marks += 1
            self._not_empty.notify_all()
            wakeup = self._wakeup
        if wakeup is not None:
            try:
                wakeup()
            except Exception:
                logger.exception("The receiver's wakeup callback failed")

    # ------------------------------------------------------------------ consumer side
    def set_wakeup(self, callback):
        """Set (or clear with None) a callable run in stomp.py's thread when the hand-over
        goes from empty to non-empty and when an error or a loss becomes pending. It must be
        cheap and never block (e.g. ``lambda: loop.call_soon_threadsafe(event.set)``).
        After a wakeup, call ``poll()`` until it returns an empty list."""
        if callback is not None and not callable(callback):
            raise ValueError("set_wakeup: expected a callable or None")
        self._wakeup = callback

    def poll(self, timeout=0.0, max_items=None):
        """Return received ``(headers, body_text)`` items (at most ``max_items``), waiting up
        to ``timeout`` seconds for the first one.

        When nothing is pending it checks the connection: a pending JMS error is raised as
        NotificationJMSError, a lost or dead connection as NotificationConnectionError.
        Items received before an error are always returned before that error is raised.
        After close() it returns what is left, then empty lists.
        """
        if max_items is not None and max_items < 1:
            raise ValueError("max_items: expected None or an integer >= 1, got %r" % (max_items,))
        deadline = None
        lost_state = None
        waited = False
        with self._lock:
            while True:
                if self._batch or self._pending:
                    if waited and self._coalesce_seconds \
                            and len(self._pending) < _COALESCE_ITEMS:
                        # Woken by the first of a burst: let more arrive so that one wakeup
                        # serves many notifications. The producer notifies again only when
                        # _COALESCE_ITEMS are pending, else this is a short sleep.
                        self._not_empty.wait(self._coalesce_seconds)
                    return self._take(max_items)
                if self._closed:
                    return []
                lost_state = self._check_connection()
                if lost_state is not None:
                    break
                now = _monotonic()
                if deadline is None:
                    deadline = now + (timeout or 0.0)
                remaining = deadline - now
                if remaining <= 0:
                    return []
                self._not_empty.wait(min(remaining, _WAIT_SLICE))
                waited = True
        # Outside the hand-over lock: tear the connection down, then report it.
        state, reason = lost_state
        if state is not None:
            self._abandon(state, reason)
        raise NotificationConnectionError(
            "Lost the STOMP connection to %s: %s" % (self._where(), reason))

    def _check_connection(self):
        """With self._lock held and nothing pending: None if all is well, else
        (state or None, reason), after which the caller raises."""
        state = self._state
        if state is None:
            return None, "not connected (call connect() or notifications())"
        reason = state.lost
        if reason is None:
            if state.loss_threshold is not None:
                silence = _monotonic() - state.last_seen
                if silence > state.loss_threshold:
                    reason = "no frame or heart-beat from the broker for %.1f s (limit %.1f s)" % (
                        silence, state.loss_threshold)
            if reason is None:
                try:
                    up = state.conn.is_connected()
                except Exception:
                    up = False
                if not up:
                    reason = "stomp.py reports the connection as closed"
        if reason is None:
            return None
        if self._state is state:
            self._state = None
        return state, reason

    def _take(self, max_items):
        """Pop up to max_items items (self._lock held); raise a JMS error that is first."""
        items = []
        batch = self._batch
        while batch and (max_items is None or len(items) < max_items):
            items.append(batch.popleft())
        pending = self._pending
        was_full = len(pending) >= self._max_pending
        if max_items is not None:
            room = max_items - len(items)
        else:
            room = len(pending)
        if room > 0 and pending:
            if self._error_marks == 0:
                if room >= len(pending):
                    items.extend(pending)
                    pending.clear()
                else:
                    popleft = pending.popleft
                    items.extend([popleft() for _unused in range(room)])
            else:
                while pending and room > 0:
                    if pending[0][0] is _ERROR_MARK:
                        if items:
                            break
                        error = pending.popleft()[1]
                        self._error_marks -= 1
                        if was_full:
                            self._not_full.notify_all()
                        raise error
                    items.append(pending.popleft())
                    room -= 1
        if was_full:
            self._not_full.notify_all()
        return items

    def notifications(self, stop_event=None):
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
        if not self.is_connected() and not self._batch and not self._pending:
            self.connect()
        batch = self._batch
        while True:
            if self._closed or (stop_event is not None and stop_event.is_set()):
                return
            if not batch:
                if not self._pending and not self.is_connected() and self._state is None:
                    self.connect()
                # Including the coalescing wait, stop is checked at least every _WAIT_SLICE.
                items = self.poll(timeout=_WAIT_SLICE - _COALESCE_SECONDS)
                if not items:
                    continue
                batch.extend(items)
                continue  # re-check stop before handing out anything
            headers, body = batch.popleft()
            if body and isinstance(body, str):
                try:
                    message = _json_loads(body)
                except ValueError:
                    message = parse_body(body)  # blank -> None, else NotificationParseError
            else:
                message = parse_body(body)
            yield headers, message

    # ------------------------------------------------------------------ misc
    def __repr__(self):
        return "NotificationReceiver(host=%r, port=%r, topics=%r, connected=%r)" % (
            self._host, self._port, list(self._subs), self.is_connected())


_SET_SSL_HAS_VERIFY = _set_ssl_accepts_verify()
