"""External-broker mode: publish the HMC's notifications into a real STOMP broker.

The same destinations (`/topic/<name>`), headers and bodies as the built-in endpoint;
the broker (e.g. ActiveMQ) assigns message-id and passes the custom headers through as
strings. Topic approval and refresh-on-subscribe are the broker's business here, so an
unknown topic does not get the HMC's ERROR frame (see docs/hmcsim.md).
"""
from __future__ import annotations

import logging
import threading
import time

import stomp

LOG = logging.getLogger("hmcsim.broker")

# Headers the broker sets itself; a publisher must not send them.
_BROKER_HEADERS = {"destination", "subscription", "message-id", "content-length"}
# stomp.py logs every frame it sends at debug level, CONNECT's passcode included (its own
# masking regex misses `passcode:<value>`), all through this one logger.
_STOMPPY_LOGGER = "stomp.py"


class _RedactSecrets(logging.Filter):
    """Blank given secrets out of log records before any handler sees them."""

    def __init__(self, secrets: list[str | None]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "********")
            record.msg, record.args = message, ()
        return True


class ExternalBrokerPublisher:
    def __init__(self, host: str, port: int | str, userid: str, password: str, ca_file: str | None = None,
                 use_tls: bool = True, connect_timeout: float = 10.0) -> None:
        self.host = host
        self.port = int(port)
        self.use_tls = bool(use_tls)
        self._userid = userid
        self._password = password
        self._ca_file = ca_file
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: stomp.Connection12 | None = None
        self.published = 0
        self._redactor = _RedactSecrets([password])

    def _connect(self) -> stomp.Connection12:
        conn = stomp.Connection12([(self.host, self.port)], reconnect_attempts_max=3,
                                  timeout=self._connect_timeout, heartbeats=(0, 0))
        if self.use_tls:
            conn.set_ssl(for_hosts=[(self.host, self.port)], ca_certs=self._ca_file)
        conn.connect(self._userid, self._password, wait=True)
        LOG.info("connected to the external broker %s:%d (TLS %s)", self.host, self.port, self.use_tls)
        return conn

    def start(self) -> None:
        logging.getLogger(_STOMPPY_LOGGER).addFilter(self._redactor)
        with self._lock:
            self._conn = self._connect()

    def stop(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.disconnect()
                except Exception:    # closing anyway
                    LOG.debug("disconnect from the external broker failed", exc_info=True)
                self._conn = None
        logging.getLogger(_STOMPPY_LOGGER).removeFilter(self._redactor)

    def publish(self, topic_name: str, headers: dict[str, str], body: str) -> None:
        headers = {k: v for k, v in headers.items() if k not in _BROKER_HEADERS}
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or not self._conn.is_connected():
                        self._conn = self._connect()
                    self._conn.send("/topic/" + topic_name, body, headers=headers)
                    self.published += 1
                    return
                except Exception as exc:    # one reconnect, then give up on this message
                    LOG.warning("publishing to the external broker failed (attempt %d): %s",
                                attempt, type(exc).__name__)
                    self._conn = None
                    time.sleep(0.2)
            LOG.error("dropped a %s notification for topic %s: the external broker is unreachable",
                      headers.get("notification-type"), topic_name)
