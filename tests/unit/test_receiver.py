"""NotificationReceiver against hmcsim's STOMP+TLS endpoint (real sockets, real stomp.py).

Fault tests use `fresh_hmcsim`; the rest share the module's `hmcsim`. Heart-beats are 1 s
on both sides, so the loss-detection limit is 1 x (1 + 0.5) + 1 = 2.5 s.
"""
import json
import logging
import threading
import time

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.handover import HELD_ITEM_OVERHEAD
from ansible_collections.zhmc.eda.plugins.module_utils.receiver import (
    NotificationConnectionError, NotificationError, NotificationJMSError,
    NotificationParseError, NotificationReceiver, NotificationSubscriptionError,
    SubscriptionNotFound, parse_body)
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    DEFAULT_STOMP_RT_CONFIG, StompRetryTimeoutConfig)
from tests.support.fixtures_hmcsim import ws_logon
from tests.unit.test_receiver_support import (
    FAST_RT_CONFIG, poll_items, sim_receiver, take, take_after_reconnect, wait_until)

LOSS_LIMIT = FAST_RT_CONFIG.loss_detection_seconds()


def publish_json(sim, topic, number, **headers):
    hdrs = {"notification-type": "log-entry", "test-seq": str(number)}
    hdrs.update(headers)
    sim.publish_raw(topic, hdrs, json.dumps({"log-entries": [{"n": number}]}))


def seqs(items):
    return [int(headers["test-seq"]) for headers, _ in items]


@pytest.fixture
def receiver_factory():
    created = []

    def make(sim, topics, **kwargs):
        receiver = sim_receiver(sim, topics, **kwargs)
        created.append(receiver)
        return receiver

    yield make
    for receiver in created:
        receiver.close()


# ----------------------------------------------------------------------------- API basics

def test_exceptions_follow_zhmcclient():
    jms = NotificationJMSError("msg", {"message": "msg"}, "body")
    assert isinstance(jms, NotificationError)
    assert (jms.args[0], jms.jms_headers, jms.jms_message) == ("msg", {"message": "msg"}, "body")
    parse = NotificationParseError("bad", jms_message="{x")
    assert parse.jms_message == "{x"
    for cls in (NotificationConnectionError, NotificationSubscriptionError, SubscriptionNotFound):
        assert issubclass(cls, NotificationError)


def test_unknown_topic_error_is_recognisable():
    message = ("remote addConsumer failed because the specified destination, "
               "'topic://hmcuser.12osm.abc', is not a known or approved topic.")
    # classified once, where the ERROR frame arrives; the fields are never parsed back out
    error = NotificationJMSError.from_frame(message, {"message": message},
                                            "java.lang.SecurityException")
    assert error.unknown_topic is True
    assert error.topic_name == "hmcuser.12osm.abc"
    other = NotificationJMSError.from_frame("broker is shutting down", {}, "")
    assert other.unknown_topic is False and other.topic_name is None


@pytest.mark.parametrize("body, expected", [
    (None, None), ("", None), ("  \n", None), ('{"a": 1}', {"a": 1}), ("[1, 2]", [1, 2]),
    (b'{"b": 2}', {"b": 2}),
])
def test_parse_body(body, expected):
    assert parse_body(body) == expected


@pytest.mark.parametrize("body", ["{not json", "<xml/>", "{\"a\": 1", b"\xff\xfe"])
def test_parse_body_rejects_non_json_with_raw_body(body):
    with pytest.raises(NotificationParseError) as info:
        parse_body(body)
    assert info.value.jms_message == body


@pytest.mark.parametrize("kwargs, option", [
    ({"topic_names": 5}, "topic_names"),
    ({"host": ""}, "host"),
    ({"port": 0}, "port"),
    ({"port": "61612"}, "port"),
    ({"userid": ""}, "userid"),
    ({"password": None}, "password"),
    ({"max_pending": 0}, "max_pending"),
    ({"max_pending_bytes": 0}, "max_pending_bytes"),
    ({"max_pending_bytes": 1.5}, "max_pending_bytes"),
    ({"max_frame_bytes": 100}, "max_frame_bytes"),
    ({"max_frame_bytes": True}, "max_frame_bytes"),
    ({"stomp_rt_config": {"connect_timeout": 5}}, "stomp_rt_config"),
    ({"verify_cert": "/nonexistent/ca.pem"}, "verify_cert"),
    ({"topic_names": ["good", "has blank"]}, "topic_name"),
])
def test_bad_arguments_name_the_option(kwargs, option):
    args = dict(topic_names=["t"], host="127.0.0.1", userid="u", password="p", port=61612)
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        NotificationReceiver(**args)
    assert option in str(info.value)


def test_rt_config_merged_over_defaults():
    receiver = NotificationReceiver(
        "t", "127.0.0.1", "u", "p",
        stomp_rt_config=StompRetryTimeoutConfig(heartbeat_receive_cycle=2.0))
    config = receiver.stomp_rt_config
    assert config.heartbeat_receive_cycle == 2.0
    assert config.connect_timeout == DEFAULT_STOMP_RT_CONFIG.connect_timeout
    assert config.missing() == []
    assert receiver.topic_names == ["t"]


def test_subscriptions_before_connect():
    receiver = NotificationReceiver(["a", "b"], "127.0.0.1", "u", "p")
    sub_c = receiver.subscribe("c")
    assert receiver.topic_names == ["a", "b", "c"]
    assert receiver.is_subscribed("c") and receiver.get_subscription("c") == sub_c
    assert receiver.subscribe("c") == sub_c  # idempotent
    assert len({receiver.get_subscription(t) for t in ("a", "b", "c")}) == 3
    receiver.unsubscribe("a")
    assert not receiver.is_subscribed("a") and receiver.topic_names == ["b", "c"]
    with pytest.raises(SubscriptionNotFound):
        receiver.unsubscribe("a")
    with pytest.raises(SubscriptionNotFound):
        receiver.get_subscription("a")
    assert not receiver.is_connected()


# ----------------------------------------------------------------------------- receiving

def test_receives_headers_and_parsed_bodies(hmcsim, receiver_factory):
    topic = hmcsim.info["audit_topic"]
    receiver = receiver_factory(hmcsim, topic)
    receiver.connect()
    assert receiver.is_connected() and receiver.connect_count == 1
    # the broker sends every 0.5 s: asked twice as often as the 1 s receive cycle (stomp_config)
    assert receiver.negotiated_heartbeats == (1000, 500)
    publish_json(hmcsim, topic, 1)
    hmcsim.publish_raw(topic, {"notification-type": "job-completion", "test-seq": "2"}, "")
    hmcsim.publish_raw(topic, {"notification-type": "inventory-change", "test-seq": "3"}, None)
    items = take(receiver.notifications(), 3)
    assert seqs(items) == [1, 2, 3]
    headers, message = items[0]
    assert headers["destination"] == "/topic/" + topic
    assert headers["subscription"] == receiver.get_subscription(topic)
    assert message == {"log-entries": [{"n": 1}]}
    assert items[1][1] is None and items[2][1] is None
    assert receiver.received_count == 3


def test_malformed_body_raises_then_iteration_continues(hmcsim, receiver_factory):
    topic = hmcsim.info["security_topic"]
    receiver = receiver_factory(hmcsim, [topic])
    receiver.connect()
    publish_json(hmcsim, topic, 1)
    hmcsim.publish_raw(topic, {"notification-type": "log-entry", "test-seq": "2"}, "{broken")
    publish_json(hmcsim, topic, 3)
    generator = receiver.notifications()
    assert seqs(take(generator, 1)) == [1]
    with pytest.raises(NotificationParseError) as info:
        take(generator, 1)
    assert info.value.jms_message == "{broken"
    # Calling notifications() again resumes with the next one, on the same connection.
    assert seqs(take(receiver.notifications(), 1)) == [3]
    assert receiver.connect_count == 1


def test_runtime_subscribe_and_unsubscribe(hmcsim, receiver_factory):
    audit, security = hmcsim.info["audit_topic"], hmcsim.info["security_topic"]
    receiver = receiver_factory(hmcsim, [])
    receiver.connect()
    receiver.subscribe(audit)
    publish_json(hmcsim, audit, 1)
    assert seqs(poll_items(receiver, 1)) == [1]
    receiver.subscribe(security)
    receiver.unsubscribe(audit)
    publish_json(hmcsim, audit, 2)         # no longer subscribed: must not arrive
    publish_json(hmcsim, security, 3)
    assert seqs(poll_items(receiver, 1)) == [3]
    assert receiver.poll(timeout=0.5) == []
    assert receiver.topic_names == [security]


def test_poll_batches_wakeup_and_max_items(hmcsim, receiver_factory):
    topic = hmcsim.info["audit_topic"]
    receiver = receiver_factory(hmcsim, topic)
    wakeups = []
    receiver.set_wakeup(lambda: wakeups.append(time.monotonic()))
    receiver.connect()
    assert receiver.poll() == []
    for number in range(10):
        publish_json(hmcsim, topic, number)
    wait_until(lambda: receiver.pending_count == 10, what="10 pending notifications")
    # Only the empty -> non-empty transition wakes the consumer (10 messages, 1 wakeup,
    # unless the consumer emptied the hand-over in between, which it did not).
    assert len(wakeups) == 1
    first = receiver.poll(max_items=4)
    rest = receiver.poll()
    assert seqs(first) == [0, 1, 2, 3] and seqs(rest) == list(range(4, 10))
    assert all(isinstance(body, str) for _, body in first)
    publish_json(hmcsim, topic, 10)
    assert seqs(poll_items(receiver, 1)) == [10]
    assert len(wakeups) == 2
    with pytest.raises(ValueError):
        receiver.poll(max_items=0)


# ----------------------------------------------------------------------------- errors

def test_error_frame_after_messages_keeps_order(fresh_hmcsim, receiver_factory):
    sim = fresh_hmcsim
    topic = sim.info["audit_topic"]
    receiver = receiver_factory(sim, topic)
    receiver.connect()
    publish_json(sim, topic, 1)
    publish_json(sim, topic, 2)
    wait_until(lambda: receiver.pending_count == 2, what="2 pending notifications")
    sim.send_error_frame(message="broker says no", body="details", close=False)
    publish_json(sim, topic, 3)
    wait_until(lambda: receiver.received_count == 3, what="the third notification")
    assert seqs(receiver.poll()) == [1, 2]      # items before the error come first
    with pytest.raises(NotificationJMSError) as info:
        receiver.poll()
    assert info.value.args[0] == "broker says no"
    assert info.value.jms_message == "details"
    assert info.value.jms_headers["message"] == "broker says no"
    assert info.value.unknown_topic is False
    assert seqs(receiver.poll()) == [3]         # the connection survived this one
    assert receiver.is_connected()


def test_unknown_topic_error_frame(fresh_hmcsim, receiver_factory):
    sim = fresh_hmcsim
    receiver = receiver_factory(sim, [sim.info["audit_topic"], "hmcuser.1osm.gone"])
    generator = receiver.notifications()
    with pytest.raises(NotificationJMSError) as info:
        take(generator, 1)
    assert info.value.unknown_topic is True
    assert info.value.topic_name == "hmcuser.1osm.gone"
    # The caller drops the topic. The broker (ActiveMQ, and hmcsim like it) kept the
    # connection open without the refused subscription: nothing to unsubscribe there, and
    # notifications() goes on with the other topics on the same connection.
    receiver.unsubscribe(info.value.topic_name)
    assert receiver.is_connected() and not receiver.is_subscribed(info.value.topic_name)
    generator = receiver.notifications()
    publish_json(sim, sim.info["audit_topic"], 7)
    assert seqs(take(generator, 1)) == [7]
    assert receiver.connect_count == 1


def test_login_failure_names_cause_without_secret(hmcsim):
    bad_password = "Wr0ng-Secret-Passw0rd"
    receiver = NotificationReceiver(
        hmcsim.info["audit_topic"], "127.0.0.1", hmcsim.userid, bad_password,
        port=hmcsim.stomp_port, verify_cert=hmcsim.ca_file, stomp_rt_config=FAST_RT_CONFIG)
    with pytest.raises(NotificationConnectionError) as info:
        receiver.connect()
    text = str(info.value)
    assert "login failed" in text and "127.0.0.1:%d" % hmcsim.stomp_port in text
    assert bad_password not in text and bad_password not in repr(info.value)
    assert not receiver.is_connected()
    receiver.close()


def test_connection_refused_names_host_and_port(unused_tcp_port):
    receiver = NotificationReceiver(
        "t", "127.0.0.1", "u", "secret-pw", port=unused_tcp_port, verify_cert=False,
        stomp_rt_config=FAST_RT_CONFIG)
    start = time.monotonic()
    with pytest.raises(NotificationConnectionError) as info:
        receiver.connect()
    assert "127.0.0.1:%d" % unused_tcp_port in str(info.value)
    assert "refused" in str(info.value)
    assert time.monotonic() - start < 10


def test_close_interrupts_endless_connect_retries(unused_tcp_port):
    """connect_retries=-1 retries for ever inside stomp.py; close() still ends it."""
    receiver = NotificationReceiver(
        "t", "127.0.0.1", "u", "p", port=unused_tcp_port, verify_cert=False,
        stomp_rt_config=FAST_RT_CONFIG.override_with(
            StompRetryTimeoutConfig(connect_retries=-1, reconnect_sleep_max=0.5)))
    errors = []
    thread = threading.Thread(target=lambda: _record_error(receiver.connect, errors), daemon=True)
    thread.start()
    time.sleep(1.5)
    assert thread.is_alive(), "connect() gave up although retries are endless: %r" % errors
    start = time.monotonic()
    receiver.close()
    thread.join(3)
    assert not thread.is_alive() and time.monotonic() - start < 2
    assert len(errors) == 1 and isinstance(errors[0], NotificationConnectionError)
    assert "closed while connecting" in str(errors[0])


def _record_error(func, errors):
    try:
        func()
    except Exception as exc:
        errors.append(exc)


@pytest.fixture
def unused_tcp_port():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# ----------------------------------------------------------------------------- connection loss

def test_dropped_connection_reconnects_with_all_subscriptions(fresh_hmcsim, receiver_factory):
    sim = fresh_hmcsim
    audit, security = sim.info["audit_topic"], sim.info["security_topic"]
    receiver = receiver_factory(sim, [audit])
    receiver.connect()
    receiver.subscribe(security)               # added at runtime
    first_conn = receiver._link.conn
    publish_json(sim, audit, 1)
    wait_until(lambda: receiver.pending_count == 1, what="1 pending notification")
    start = time.monotonic()
    sim.drop_stomp_connections()
    generator = receiver.notifications()
    # What arrived before the loss is handed out before the loss is reported.
    assert seqs(take(generator, 1)) == [1]
    with pytest.raises(NotificationConnectionError):
        take(generator, 1)
    assert time.monotonic() - start < LOSS_LIMIT
    assert not receiver.is_connected()
    # notifications() again: a new connection, both topics (the runtime one too) re-applied.
    items = take_after_reconnect(
        receiver, 2, lambda: (publish_json(sim, security, 2), publish_json(sim, audit, 3)))
    assert seqs(items) == [2, 3]
    assert receiver.connect_count == 2
    # A brand-new stomp.py connection (and listener), not a reconnect of the old one.
    new_conn = receiver._link.conn
    assert new_conn is not first_conn
    assert new_conn.get_listener("zhmc-eda-receiver") is not first_conn.get_listener("zhmc-eda-receiver")
    assert sim.stomp_connection_count() == 1


def test_unsubscribed_topic_is_not_reapplied_on_reconnect(fresh_hmcsim, receiver_factory):
    sim = fresh_hmcsim
    audit, security = sim.info["audit_topic"], sim.info["security_topic"]
    receiver = receiver_factory(sim, [audit, security])
    receiver.connect()
    receiver.unsubscribe(audit)
    sim.drop_stomp_connections()
    with pytest.raises(NotificationConnectionError):
        poll_items(receiver, 1, timeout=LOSS_LIMIT + 1)
    receiver.connect()
    publish_json(sim, audit, 1)
    publish_json(sim, security, 2)
    assert seqs(poll_items(receiver, 1)) == [2]
    assert receiver.poll(timeout=0.5) == []


def test_heartbeat_stall_detected_within_limit(fresh_hmcsim, receiver_factory):
    sim = fresh_hmcsim
    receiver = receiver_factory(sim, sim.info["audit_topic"])
    receiver.connect()
    sim.stall_heartbeats(True)
    start = time.monotonic()
    with pytest.raises(NotificationConnectionError) as info:
        poll_items(receiver, 1, timeout=3 * LOSS_LIMIT)
    elapsed = time.monotonic() - start
    assert elapsed <= LOSS_LIMIT, "detected after %.2f s, limit %.2f s" % (elapsed, LOSS_LIMIT)
    assert "heart-beat" in str(info.value)
    assert not receiver.is_connected()
    sim.stall_heartbeats(False)
    receiver.connect()
    assert receiver.is_connected() and receiver.connect_count == 2


def test_watchdog_does_not_depend_on_stomp_py(fresh_hmcsim, receiver_factory):
    """stomp.py's own heart-beat check neutralised: the receiver's watchdog still fires,
    and it wakes a consumer waiting through set_wakeup (no poll running)."""
    sim = fresh_hmcsim
    receiver = receiver_factory(sim, sim.info["audit_topic"])
    woken = threading.Event()
    receiver.set_wakeup(woken.set)
    receiver.connect()
    conn = receiver._link.conn
    conn.receive_sleep = 3600.0     # stomp.py would now wait an hour before timing out
    sim.stall_heartbeats(True)
    start = time.monotonic()
    assert woken.wait(3 * LOSS_LIMIT), "the watchdog did not wake the consumer"
    assert time.monotonic() - start <= LOSS_LIMIT
    with pytest.raises(NotificationConnectionError) as info:
        receiver.poll()
    assert "no frame or heart-beat" in str(info.value)


def test_refused_then_back_reconnects(fresh_hmcsim, receiver_factory):
    sim = fresh_hmcsim
    receiver = receiver_factory(sim, sim.info["audit_topic"])
    receiver.connect()
    sim.refuse_stomp(2.0)
    with pytest.raises(NotificationConnectionError):
        poll_items(receiver, 1, timeout=LOSS_LIMIT + 1)
    with pytest.raises(NotificationConnectionError) as info:
        receiver.connect()
    assert "refused" in str(info.value)
    wait_until(lambda: _try_connect(receiver), timeout=10, what="the STOMP port to come back")
    publish_json(sim, sim.info["audit_topic"], 5)
    assert seqs(poll_items(receiver, 1)) == [5]


def _try_connect(receiver):
    try:
        receiver.connect()
        return True
    except NotificationConnectionError:
        return False


# ----------------------------------------------------------------------------- stopping

def test_close_from_another_thread_ends_notifications(hmcsim):
    receiver = sim_receiver(hmcsim, hmcsim.info["audit_topic"])
    finished = threading.Event()

    def consume():
        for _ in receiver.notifications():
            pass
        finished.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    wait_until(receiver.is_connected, what="the connection")
    start = time.monotonic()
    receiver.close()
    assert finished.wait(2.0)
    assert time.monotonic() - start <= 1.0
    assert receiver.closed and not receiver.is_connected()
    assert list(receiver.notifications()) == []
    with pytest.raises(NotificationConnectionError):
        receiver.connect()


def test_stop_event_keeps_taken_notifications(hmcsim, receiver_factory):
    topic = hmcsim.info["audit_topic"]
    receiver = receiver_factory(hmcsim, topic)
    receiver.connect()
    for number in range(3):
        publish_json(hmcsim, topic, number)
    wait_until(lambda: receiver.pending_count == 3, what="3 pending notifications")
    stop = threading.Event()
    generator = receiver.notifications(stop_event=stop)
    assert seqs([next(generator)]) == [0]       # the generator took all 3 in one batch
    stop.set()
    with pytest.raises(StopIteration):
        next(generator)
    assert seqs(take(receiver.notifications(), 2)) == [1, 2]   # nothing was discarded

    # A set stop_event ends a waiting generator within a second.
    stop2 = threading.Event()
    finished = threading.Event()
    thread = threading.Thread(
        target=lambda: (list(receiver.notifications(stop_event=stop2)), finished.set()),
        daemon=True)
    thread.start()
    time.sleep(0.3)
    start = time.monotonic()
    stop2.set()
    assert finished.wait(2.0) and time.monotonic() - start <= 1.0
    assert receiver.is_connected()              # stop is not close


# ----------------------------------------------------------------------------- back-pressure

def test_backpressure_instead_of_drops(fresh_hmcsim, receiver_factory):
    """A stalled consumer for 3x the heart-beat period: stomp.py's thread is held (TCP
    back-pressure), counted, the connection is not declared dead by either side, and all
    notifications arrive in order."""
    sim = fresh_hmcsim
    topic = sim.info["audit_topic"]
    receiver = receiver_factory(sim, topic, max_pending=5)
    receiver.connect()
    for number in range(40):
        publish_json(sim, topic, number)
    wait_until(lambda: receiver.backpressure_count >= 1, what="back-pressure")
    time.sleep(3 * LOSS_LIMIT / 2.5 + 1)   # > 2x the broker's heart-beat grace
    assert receiver.pending_count == 5
    assert receiver.is_connected()
    items = poll_items(receiver, 40, timeout=15)
    assert seqs(items) == list(range(40))
    assert receiver.backpressure_count >= 1
    assert receiver.backpressure_seconds >= 3.0
    assert receiver.connect_count == 1 and receiver.is_connected()
    assert sim.stomp_connection_count() == 1


def test_backpressure_by_bytes(fresh_hmcsim, receiver_factory):
    """Notifications of about 2 KB into a hand-over bounded at 16 KB: stomp.py's thread is
    held once the bytes are reached (the count bound is far away), nothing is dropped,
    the order is kept and the bytes are counted down to 0."""
    sim = fresh_hmcsim
    topic = sim.info["audit_topic"]
    receiver = receiver_factory(sim, topic, max_pending_bytes=16 * 1024)
    assert receiver.max_pending_bytes == 16 * 1024 and receiver.pending_bytes == 0
    receiver.connect()
    for number in range(60):
        sim.publish_raw(topic, {"notification-type": "log-entry", "test-seq": str(number)},
                        json.dumps({"log-entries": [{"n": number, "text": "x" * 2000}]}))
    wait_until(lambda: receiver.backpressure_count >= 1, what="back-pressure")
    # One read of stomp.py (16 KiB on stomp.py 9, 1 KiB on 8) may hold several frames; each
    # held notification counts with the overhead of holding it.
    held = 2100 + HELD_ITEM_OVERHEAD
    assert 16 * 1024 - held <= receiver.pending_bytes <= 16 * 1024 + 16 * 1024 + held
    assert receiver.pending_count < 20
    items = poll_items(receiver, 60, timeout=15)
    assert seqs(items) == list(range(60))
    assert receiver.pending_bytes == 0 and receiver.received_count == 60
    assert receiver.connect_count == 1 and receiver.is_connected()


# ----------------------------------------------------------------------------- secrets

def test_no_secret_in_logs_at_debug(hmcsim, caplog):
    """Session id + session credential login (MFA style), everything at DEBUG, stomp.py's
    frame logging included: neither secret appears anywhere."""
    _, logon = ws_logon(hmcsim)
    session_id, credential = logon["api-session"], logon["session-credential"]
    caplog.set_level(logging.DEBUG)
    for name in ("stomp.py", "zhmc.eda", "zhmc.eda.receiver.frames"):
        caplog.set_level(logging.DEBUG, logger=name)
    topic = hmcsim.info["audit_topic"]
    receiver = NotificationReceiver(
        topic, "127.0.0.1", session_id, credential, port=hmcsim.stomp_port,
        verify_cert=hmcsim.ca_file, stomp_rt_config=FAST_RT_CONFIG)
    try:
        receiver.connect()
        publish_json(hmcsim, topic, 1)
        assert seqs(take(receiver.notifications(), 1)) == [1]
        bad = NotificationReceiver(
            topic, "127.0.0.1", session_id, "not-" + credential, port=hmcsim.stomp_port,
            verify_cert=hmcsim.ca_file, stomp_rt_config=FAST_RT_CONFIG)
        with pytest.raises(NotificationConnectionError) as info:
            bad.connect()
        assert credential not in str(info.value) and session_id not in str(info.value)
    finally:
        receiver.close()
    assert any(r.name == "stomp.py" and "sending frame" in r.getMessage()
               for r in caplog.records), "stomp.py frame logging was not captured"
    assert any(r.name.startswith("zhmc.eda.receiver") and r.levelno == logging.DEBUG
               for r in caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert credential not in text
    assert session_id not in text
