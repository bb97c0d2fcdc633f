"""The ActiveMQ test broker itself: TLS round trip, header types, kill/restart, authentication."""
import json
import queue
import ssl
import threading
import time

import pytest
import stomp

from tests.support import activemq as activemq_module

pytestmark = pytest.mark.activemq


class _Collector(stomp.ConnectionListener):
    def __init__(self):
        self.frames = queue.Queue()
        self.errors = []
        self.disconnected = threading.Event()
        self.receipts = set()

    def on_receipt(self, frame):
        self.receipts.add(frame.headers.get("receipt-id"))

    def on_message(self, frame):
        self.frames.put(frame)

    def on_error(self, frame):
        self.errors.append(frame)

    def on_disconnected(self):
        self.disconnected.set()


def _tls_subscriber(broker, topic, collector):
    conn = stomp.Connection12([(broker.host, broker.stomp_ssl_port)], heartbeats=(0, 0))
    conn.set_ssl(for_hosts=[(broker.host, broker.stomp_ssl_port)], ca_certs=broker.ca_file)
    conn.set_listener("collector", collector)
    conn.connect(broker.userid, broker.password, wait=True)
    conn.subscribe("/topic/" + topic, id="sub-1", ack="auto", headers={"receipt": "subscribed"})
    # the receipt for SUBSCRIBE means the broker registered it: publishing now cannot be missed
    assert _wait_for(lambda: "subscribed" in collector.receipts, 10), "no receipt for SUBSCRIBE"
    return conn


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_tls_round_trip_with_custom_headers(activemq_running):
    broker = activemq_running
    collector = _Collector()
    conn = _tls_subscriber(broker, "fixture-roundtrip", collector)
    try:
        body = json.dumps({"notification-type": "os-message", "os-messages": [{"message-text": "hi"}]})
        broker.publish("fixture-roundtrip", {"notification-type": "os-message", "session-sequence-nr": 7,
                                             "object-uri": "/api/partitions/1"}, body, count=3)
        frames = [collector.frames.get(timeout=10) for _ in range(3)]
    finally:
        conn.disconnect()
    for frame in frames:
        assert frame.body == body
        assert frame.headers["notification-type"] == "os-message"
        # an int sent by the publisher arrives as the string the HMC would send
        assert frame.headers["session-sequence-nr"] == "7"
        assert isinstance(frame.headers["session-sequence-nr"], str)
        assert frame.headers["destination"] == "/topic/fixture-roundtrip"
    assert collector.errors == []


def test_tls_refuses_an_untrusted_ca(activemq_running, tmp_path):
    broker = activemq_running
    import trustme

    other_ca = trustme.CA()
    other_ca_file = tmp_path / "other-ca.pem"
    other_ca.cert_pem.write_to_path(str(other_ca_file))
    conn = stomp.Connection12([(broker.host, broker.stomp_ssl_port)], heartbeats=(0, 0),
                              reconnect_attempts_max=1)
    conn.set_ssl(for_hosts=[(broker.host, broker.stomp_ssl_port)], ca_certs=str(other_ca_file))
    with pytest.raises((stomp.exception.ConnectFailedException, ssl.SSLError)):
        conn.connect(broker.userid, broker.password, wait=True)


def test_wrong_password_is_refused(activemq_running):
    broker = activemq_running
    collector = _Collector()
    conn = stomp.Connection12([(broker.host, broker.stomp_port)], heartbeats=(0, 0),
                              reconnect_attempts_max=1)
    conn.set_listener("collector", collector)
    with pytest.raises(stomp.exception.StompException):
        conn.connect(broker.userid, broker.password + "-wrong", wait=True)
        # stomp.py may return before the ERROR frame arrives; make the refusal visible
        _wait_for(lambda: collector.errors or collector.disconnected.is_set(), 10)
        if collector.errors:
            raise stomp.exception.ConnectFailedException(collector.errors[0].body)
    assert not conn.is_connected()
    assert broker.password not in "".join(frame.body for frame in collector.errors)


def test_kill_and_restart_keep_ports_and_credentials(activemq_running):
    broker = activemq_running
    ports = (broker.stomp_port, broker.stomp_ssl_port)
    old_pid = broker.pid()
    broker.kill()
    assert not broker.is_running()
    assert not activemq_module.port_accepts(broker.host, broker.stomp_port)
    assert not activemq_module.port_accepts(broker.host, broker.stomp_ssl_port)
    with pytest.raises(stomp.exception.ConnectFailedException):
        conn = stomp.Connection12([(broker.host, broker.stomp_port)], reconnect_attempts_max=1)
        conn.connect(broker.userid, broker.password, wait=True)
    started = time.monotonic()
    broker.start()
    print("ActiveMQ restart took %.1f s" % (time.monotonic() - started))
    assert (broker.stomp_port, broker.stomp_ssl_port) == ports
    assert broker.pid() != old_pid
    collector = _Collector()
    conn = _tls_subscriber(broker, "fixture-after-restart", collector)
    try:
        broker.publish("fixture-after-restart", {"k": "v"}, "after restart")
        frame = collector.frames.get(timeout=10)
    finally:
        conn.disconnect()
    assert frame.body == "after restart"
    assert frame.headers["k"] == "v"
    broker.restart()
    assert broker.is_running()
