"""Helpers shared by the receiver tests (hmcsim and ActiveMQ); holds no tests itself."""
import socket
import ssl
import threading
import time

from ansible_collections.zhmc.eda.plugins.module_utils.receiver import NotificationReceiver
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    StompRetryTimeoutConfig)

# Short heart-beats so that loss detection is quick: limit = 1 x (1 + 0.5) + 1 = 2.5 s.
FAST_RT_CONFIG = StompRetryTimeoutConfig(
    connect_timeout=10, connect_retries=0, reconnect_sleep_initial=0.1,
    heartbeat_send_cycle=1.0, heartbeat_receive_cycle=1.0, heartbeat_receive_check=0.5)


def sim_receiver(sim, topics, **kwargs):
    """A receiver for hmcsim's STOMP endpoint, TLS verified against its CA."""
    kwargs.setdefault("stomp_rt_config", FAST_RT_CONFIG)
    kwargs.setdefault("verify_cert", sim.ca_file)
    return NotificationReceiver(topics, "127.0.0.1", sim.userid, sim.password,
                                port=sim.stomp_port, **kwargs)


def poll_items(receiver, count, timeout=10.0):
    """poll() until `count` items arrived (or fail after `timeout`)."""
    items = []
    deadline = time.monotonic() + timeout
    while len(items) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "only %d of %d notifications within %.0f s: %r" % (
            len(items), count, timeout, items[-3:])
        items.extend(receiver.poll(timeout=min(remaining, 0.5)))
    return items


def take(generator, count, timeout=10.0):
    """Take `count` items from a notifications() generator, failing after `timeout`."""
    result = []
    done = threading.Event()
    errors = []

    def run():
        try:
            for item in generator:
                result.append(item)
                if len(result) >= count:
                    break
        except Exception as exc:  # handed to the test
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert done.wait(timeout), "only %d of %d notifications within %.0f s" % (
        len(result), count, timeout)
    if errors:
        raise errors[0]
    return result


def take_after_reconnect(receiver, count, publish, timeout=20.0):
    """Start notifications() in a thread (it reconnects), call publish() once the new
    connection is up and subscribed, return the `count` notifications taken."""
    connects = receiver.connect_count
    result = {}
    consumer = threading.Thread(
        target=lambda: result.update(items=take(receiver.notifications(), count, timeout)),
        daemon=True)
    consumer.start()
    wait_until(lambda: receiver.connect_count > connects and receiver.is_connected(),
               timeout=timeout, what="the reconnect")
    publish()
    consumer.join(timeout + 1)
    assert "items" in result, "notifications() after the reconnect failed or timed out"
    return result["items"]


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.05)


class TlsServer:
    """A loopback TLS server with a certificate for `names` (handshake only)."""

    def __init__(self, ca, *names):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*names).configure_cert(self.context)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self):
        self.sock.close()
