"""End to end against a real ActiveMQ broker: ansible-rulebook runs zhmc.eda.notifications in
topics-only mode (STOMP alone, no HMC Web Services API); the broker is killed (-9) and
restarted while notifications flow. Every notification published after the source is back
arrives exactly once, also on a topic subscribed at runtime through the control socket; the
time from the broker being back to the first event is printed.
"""
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlClient, ControlError
from tests.support.rulebook import RulebookRun, write_rulebook

pytestmark = [pytest.mark.activemq, pytest.mark.jdk, pytest.mark.slow]

CONNECTED_LINE = r"zhmc\.eda\.notifications connected to"
PASSWORD_ENV = "ZHMC_TEST_BROKER_PASSWORD"
TOPIC = "zeda.e2e.activemq"
RUNTIME_TOPIC = "zeda.e2e.activemq.runtime"
AFTER_COUNT = 300


def notification(kind, seq):
    """Headers of an HMC-like property-change notification numbered by `test-seq`."""
    return {
        "notification-type": "property-change",
        "object-uri": "/api/partitions/00000000-0000-0000-0000-000000000001",
        "object-id": "00000000-0000-0000-0000-000000000001",
        "class": "partition",
        "name": "PARTX",
        "session-sequence-nr": str(seq),
        "global-sequence-nr": str(seq if kind == "before" else 100000 * ord(kind[0]) + seq),
        "test-kind": kind,
        "test-seq": str(seq),
    }


BODY = '{"change-reports": [{"property-name": "status", "old-value": "a", "new-value": "b"}]}'


def publish_batch(broker, kind, count, topic=TOPIC):
    conn = broker.connection()
    try:
        for seq in range(count):
            conn.send("/topic/" + topic, BODY, headers=notification(kind, seq))
        conn.disconnect()  # stomp.py waits for the DISCONNECT receipt: all sent are received
    finally:
        if conn.is_connected():
            conn.disconnect()


class ProbePublisher(threading.Thread):
    """Publishes a numbered probe every 20 ms, reconnecting while the broker is down."""

    def __init__(self, broker):
        super().__init__(daemon=True)
        self.broker = broker
        self.stop_event = threading.Event()
        self.sent = 0

    def run(self):
        conn = None
        while not self.stop_event.is_set():
            try:
                if conn is None or not conn.is_connected():
                    conn = self.broker.connection()
                conn.send("/topic/" + TOPIC, BODY, headers=notification("probe", self.sent))
                self.sent += 1
            except Exception:  # broker down: try again shortly
                conn = None
                self.stop_event.wait(0.1)
                continue
            self.stop_event.wait(0.02)
        if conn is not None and conn.is_connected():
            try:
                conn.disconnect()
            except Exception:
                pass


def states(events):
    return [e["hmc"]["status"]["state"] for e in events if (e.get("hmc") or {}).get("status")]


def states_index(events, state):
    """Index of the first status event with `state`."""
    for index, event in enumerate(events):
        if (event.get("hmc") or {}).get("status", {}).get("state") == state:
            return index
    raise AssertionError("no %s status event" % state)


class PortWatcher(threading.Thread):
    """Records when a TCP port starts accepting connections (polled every 20 ms)."""

    def __init__(self, host, port, timeout=90):
        super().__init__(daemon=True)
        self.host, self.port, self.timeout = host, port, timeout
        self.opened_at = None

    def run(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    self.opened_at = time.monotonic()
                    return
            except OSError:
                time.sleep(0.02)


def kinds(events, kind):
    return [int(e["hmc"]["headers"]["test-seq"]) for e in events
            if (e.get("hmc") or {}).get("headers", {}).get("test-kind") == kind]


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="zeda-amq-rb-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.rulebook_lines
def test_topics_only_broker_killed_and_restarted(activemq_running, collections_path, workdir):
    broker = activemq_running
    args = {
        "hmc_host": broker.host,
        "hmc_auth": {"userid": broker.userid, "password": "{{ %s }}" % PASSWORD_ENV,
                     "ca_certs": broker.ca_file},
        "stomp_port": broker.stomp_ssl_port,
        "topics": [TOPIC],
        "status_events": True,
        "control_socket": os.path.join(workdir, "ctl.sock"),
        "stomp_retry_timeout_config": {
            "connect_timeout": 5,
            "reconnect_sleep_initial": 0.1,
            "reconnect_sleep_increase": 0.5,
            "reconnect_sleep_max": 1.0,
            "heartbeat_send_cycle": 2.0,
            "heartbeat_receive_cycle": 2.0,
        },
    }
    rules = [{"name": "print", "condition": "event.hmc is defined", "action": {"print_event": {}}}]
    path = write_rulebook(workdir, [{"name": "activemq e2e", "hosts": "all",
                                     "sources": [{"name": "amq", "zhmc.eda.notifications": args}],
                                     "rules": rules}])
    run = RulebookRun(path, workdir, collections_path, variables={},
                      env_vars={PASSWORD_ENV: broker.password})
    probe = ProbePublisher(broker)
    with run:
        run.wait_for(CONNECTED_LINE, timeout=60)
        control = ControlClient(os.path.join(workdir, "ctl.sock"))
        assert control.request("subscribe", topic=RUNTIME_TOPIC)["changed"] is True
        with pytest.raises(ControlError, match="topics only"):
            control.request("open_os_message_channel", cpc="CPC1", partition="PART1")
        publish_batch(broker, "before", 50)
        run.wait_for_events(lambda evs: len(kinds(evs, "before")) >= 50, timeout=30)

        probe.start()
        run.wait_for_events(lambda evs: len(kinds(evs, "probe")) >= 5, timeout=30)
        broker.kill()
        events = run.wait_for_events(lambda evs: "disconnected" in states(evs), timeout=30)
        # events are printed in delivery order: every probe after this one came after the kill
        mark = states_index(events, "disconnected")
        port_open = PortWatcher(broker.host, broker.stomp_ssl_port)
        port_open.start()
        broker.start()
        port_open.join(10)
        back_at = port_open.opened_at
        assert back_at is not None, "the broker's STOMP+TLS port did not open"
        run.wait_for_events(lambda evs: kinds(evs[mark:], "probe"), timeout=60)
        first_after = min(t for t, e in run.timed_events()[mark:]
                          if (e.get("hmc") or {}).get("headers", {}).get("test-kind") == "probe")
        probe.stop_event.set()
        probe.join(10)
        print("\nfirst event %.2f s after the broker was back (its STOMP+TLS port accepted "
              "connections again)" % (first_after - back_at))

        publish_batch(broker, "after", AFTER_COUNT)
        publish_batch(broker, "runtime", 5, topic=RUNTIME_TOPIC)   # subscribed at runtime
        events = run.wait_for_events(lambda evs: len(kinds(evs, "after")) >= AFTER_COUNT
                                     and len(kinds(evs, "runtime")) >= 5, timeout=60)
        time.sleep(1.0)  # a duplicate would arrive right behind
        events = run.printed_events()
        code, seconds = run.terminate(timeout=15)
        print("shutdown after SIGTERM: %.2f s (exit code %s)" % (seconds, code))
        assert code == 0

    assert sorted(kinds(events, "before")) == list(range(50))
    assert sorted(kinds(events, "after")) == list(range(AFTER_COUNT))
    probes = kinds(events, "probe")
    assert len(probes) == len(set(probes)), "a probe notification arrived twice"
    seen = states(events)
    assert seen[0] == "connected" and "reconnected" in seen
    assert sorted(kinds(events, "runtime")) == list(range(5))
    assert set(e["hmc"]["topic"] for e in events if not e["hmc"].get("status")) == {
        TOPIC, RUNTIME_TOPIC}
    assert broker.password not in run.output
