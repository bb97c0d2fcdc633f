"""NotificationReceiver against a real ActiveMQ broker (STOMP+TLS and plain STOMP, loopback).

Kill, freeze (a silent peer), restart, ERROR frames, malformed bodies, back-pressure and
close(). Heart-beats are 1 s both ways: the loss-detection limit is 1 x 1.5 + 1 = 2.5 s.
Runs under stomp.py 9 (.venv) and 8 (.venv-stomp8, `make test-stomp8`).
"""
import json
import threading
import time

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.receiver import (
    NotificationConnectionError, NotificationJMSError, NotificationParseError,
    NotificationReceiver)
from tests.unit.test_receiver_support import (
    FAST_RT_CONFIG, poll_items, take, take_after_reconnect, wait_until)

pytestmark = pytest.mark.activemq

LOSS_LIMIT = FAST_RT_CONFIG.loss_detection_seconds()


def amq_receiver(broker, topics, use_tls=True, **kwargs):
    kwargs.setdefault("stomp_rt_config", FAST_RT_CONFIG)
    port = broker.stomp_ssl_port if use_tls else broker.stomp_port
    return NotificationReceiver(
        topics, broker.host, broker.userid, broker.password, port=port,
        verify_cert=broker.ca_file if use_tls else False, use_tls=use_tls, **kwargs)


@pytest.fixture
def receivers():
    created = []
    yield created
    for receiver in created:
        receiver.close()


def notification(number, **extra):
    headers = {"notification-type": "os-message", "session-sequence-nr": str(number),
               "object-uri": "/api/partitions/p1", "test-seq": str(number)}
    headers.update(extra)
    body = json.dumps({"os-messages": [{"sequence-number": number,
                                        "message-text": "message %d\n" % number}]})
    return headers, body


def seqs(items):
    return [int(headers["test-seq"]) for headers, _ in items]


@pytest.mark.parametrize("use_tls", [True, False], ids=["tls", "plain"])
def test_round_trip_in_order(activemq_running, receivers, use_tls):
    broker = activemq_running
    topic = "zeda-rx-roundtrip-%s" % ("tls" if use_tls else "plain")
    receiver = amq_receiver(broker, topic, use_tls=use_tls)
    receivers.append(receiver)
    receiver.connect()
    # the broker is asked for heart-beats twice as often as the 1 s receive cycle
    assert receiver.negotiated_heartbeats[1] >= 500
    messages = [notification(n) for n in range(300)]
    messages.append(({"notification-type": "job-completion", "test-seq": "300"}, ""))
    broker.publish_messages(topic, messages)
    items = take(receiver.notifications(), 301, timeout=30)
    assert seqs(items) == list(range(301))
    headers, message = items[7]
    assert headers["destination"] == "/topic/" + topic
    assert headers["session-sequence-nr"] == "7" and headers["object-uri"] == "/api/partitions/p1"
    assert message["os-messages"][0]["sequence-number"] == 7
    assert items[300][1] is None
    assert receiver.received_count == 301 and receiver.backpressure_count == 0


def test_malformed_body_then_next(activemq_running, receivers):
    broker = activemq_running
    topic = "zeda-rx-malformed"
    receiver = amq_receiver(broker, topic)
    receivers.append(receiver)
    receiver.connect()
    broker.publish_messages(topic, [notification(1), ({"test-seq": "2"}, "not json {"),
                                    notification(3)])
    generator = receiver.notifications()
    assert seqs(take(generator, 1)) == [1]
    with pytest.raises(NotificationParseError) as info:
        take(generator, 1)
    assert info.value.jms_message == "not json {"
    assert seqs(take(receiver.notifications(), 1)) == [3]
    assert receiver.connect_count == 1


def test_login_failure(activemq_running):
    broker = activemq_running
    receiver = NotificationReceiver(
        "t", broker.host, broker.userid, "wrong-" + broker.password, port=broker.stomp_ssl_port,
        verify_cert=broker.ca_file, stomp_rt_config=FAST_RT_CONFIG)
    with pytest.raises(NotificationConnectionError) as info:
        receiver.connect()
    receiver.close()
    assert "login failed" in str(info.value)
    assert broker.password not in str(info.value)


def test_error_frame_from_broker(activemq_running, receivers):
    """ActiveMQ answers an unknown command with an ERROR frame and closes: the error comes
    after what was received, then the loss; notifications() again reconnects."""
    broker = activemq_running
    topic = "zeda-rx-error"
    receiver = amq_receiver(broker, topic)
    receivers.append(receiver)
    receiver.connect()
    broker.publish_messages(topic, [notification(1)])
    wait_until(lambda: receiver.pending_count == 1, what="1 pending notification")
    receiver._link.conn.send_frame("BOGUS", {})   # provoke the broker (test only)
    assert seqs(receiver.poll(timeout=5)) == [1]
    with pytest.raises(NotificationJMSError) as info:
        poll_items(receiver, 1, timeout=5)
    assert "BOGUS" in str(info.value) and info.value.unknown_topic is False
    with pytest.raises(NotificationConnectionError):
        poll_items(receiver, 1, timeout=LOSS_LIMIT + 1)
    items = take_after_reconnect(
        receiver, 1, lambda: broker.publish_messages(topic, [notification(2)]))
    assert seqs(items) == [2]
    assert receiver.connect_count == 2


def _reconnect_until_up(receiver, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            receiver.connect()
            return
        except NotificationConnectionError:
            assert time.monotonic() < deadline, "no reconnect within %d s" % timeout
            time.sleep(0.5)


def test_broker_kill_and_restart(activemq_running, receivers):
    broker = activemq_running
    receiver = amq_receiver(broker, "zeda-rx-kill-a")
    receivers.append(receiver)
    receiver.connect()
    receiver.subscribe("zeda-rx-kill-b")        # a runtime subscription
    broker.publish_messages("zeda-rx-kill-a", [notification(1)])
    wait_until(lambda: receiver.pending_count == 1, what="1 pending notification")
    start = time.monotonic()
    broker.kill()
    try:
        # What was received before is handed out first, then the loss is reported quickly.
        assert seqs(receiver.poll(timeout=1)) == [1]
        with pytest.raises(NotificationConnectionError):
            poll_items(receiver, 1, timeout=3 * LOSS_LIMIT)
        assert time.monotonic() - start <= LOSS_LIMIT + 1
        with pytest.raises(NotificationConnectionError) as info:
            receiver.connect()
        assert "refused" in str(info.value)
    finally:
        broker.start()
    _reconnect_until_up(receiver)
    assert receiver.connect_count == 2
    broker.publish_messages("zeda-rx-kill-b", [notification(2)])
    broker.publish_messages("zeda-rx-kill-a", [notification(3)])
    assert seqs(poll_items(receiver, 2)) == [2, 3]


def test_frozen_broker_detected_by_heartbeats(activemq_running, receivers):
    broker = activemq_running
    receiver = amq_receiver(broker, "zeda-rx-freeze")
    receivers.append(receiver)
    receiver.connect()
    broker.freeze()
    try:
        start = time.monotonic()
        with pytest.raises(NotificationConnectionError) as info:
            poll_items(receiver, 1, timeout=3 * LOSS_LIMIT)
        elapsed = time.monotonic() - start
    finally:
        broker.thaw()
    assert elapsed <= LOSS_LIMIT, "detected after %.2f s (limit %.2f s)" % (elapsed, LOSS_LIMIT)
    assert "heart-beat" in str(info.value)
    _reconnect_until_up(receiver, timeout=30)
    broker.publish_messages("zeda-rx-freeze", [notification(1)])
    assert seqs(poll_items(receiver, 1)) == [1]


def test_backpressure_keeps_connection_and_order(activemq_running, receivers):
    """A consumer stalled for longer than the broker's heart-beat grace: reads pause
    (TCP back-pressure), heart-beats keep flowing, nothing is lost or reordered."""
    broker = activemq_running
    topic = "zeda-rx-backpressure"
    receiver = amq_receiver(broker, topic, max_pending=20)
    receivers.append(receiver)
    receiver.connect()
    broker.publish_messages(topic, [notification(n) for n in range(500)])
    wait_until(lambda: receiver.backpressure_count >= 1, what="back-pressure")
    time.sleep(2 * LOSS_LIMIT)
    assert receiver.is_connected() and receiver.pending_count == 20
    items = poll_items(receiver, 500, timeout=30)
    assert seqs(items) == list(range(500))
    assert receiver.backpressure_seconds >= 2 * LOSS_LIMIT - 0.5
    assert receiver.connect_count == 1 and receiver.is_connected()


def test_close_from_another_thread(activemq_running):
    receiver = amq_receiver(activemq_running, "zeda-rx-close")
    finished = threading.Event()
    thread = threading.Thread(
        target=lambda: (list(receiver.notifications()), finished.set()), daemon=True)
    thread.start()
    wait_until(receiver.is_connected, what="the connection")
    start = time.monotonic()
    receiver.close()
    assert finished.wait(2.0) and time.monotonic() - start <= 1.0
    assert not receiver.is_connected()
