"""Soak, end to end: ansible-rulebook runs zhmc.eda.notifications against a real ActiveMQ broker
over STOMP+TLS while the broker is killed (-9) and restarted 10 times, mid-stream.

A background publisher sends a notification every 50 ms the whole time. After each restart
the test publishes probes until one comes through (that is "recovered"), then a batch. Every
batch notification, and every stream notification sent between a recovery and the next kill
(0.3 s margins), must be printed exactly once; nothing may be printed twice; and
ansible-rulebook (with the source in it) must keep running the whole time. What the broker
never received (sent while it was down) is not counted: the topic is not durable.
"""
import tempfile
import threading
import time

import pytest

from tests.reliability import harness
from tests.support import activemq as activemq_module
from tests.support.rulebook import RulebookRun, write_rulebook

pytestmark = [pytest.mark.activemq, pytest.mark.jdk, pytest.mark.slow]

CYCLES = 10
BATCH = 20
TOPIC = "zeda-soak"
RECOVERY_TIMEOUT = 30.0


def _rulebook(broker):
    return [{
        "name": "zhmc.eda reliability soak",
        "hosts": "all",
        "sources": [{
            "zhmc.eda.notifications": {
                "hmc_host": broker.host,
                "stomp_port": broker.stomp_ssl_port,
                "hmc_auth": {
                    "userid": broker.userid,
                    "password": "{{ ZEDA_BROKER_PASSWORD }}",
                    "ca_certs": broker.ca_file,
                },
                "topics": [TOPIC],
                "status_events": True,
                "stomp_retry_timeout_config": dict(harness.FAST_RETRY_CONFIG),
            },
        }],
        "rules": [{
            "name": "print every event",
            "condition": "event.hmc is defined",
            "action": {"print_event": {}},
        }],
    }]


STREAM_OBJECT_URI = "/api/partitions/5eed5eed-0000-4000-8000-000000000001"
STREAM_INTERVAL = 0.05
# stream messages sent this close to a kill or a recovery may legitimately be lost
STREAM_MARGIN = 0.3
STREAM_RUN_SECONDS = 1.0


class _Stream(threading.Thread):
    """Publishes s-<n> notifications every 50 ms the whole time, reconnecting after each kill:
    the broker dies mid-stream. Records when each send returned (or failed)."""

    def __init__(self, broker):
        super().__init__(daemon=True, name="zeda-soak-stream")
        self.broker = broker
        self.sent = []                      # (id, monotonic time the send returned)
        self.stopped = threading.Event()

    def run(self):
        import stomp

        conn = None
        number = 0
        while not self.stopped.is_set():
            try:
                if conn is None or not conn.is_connected():
                    conn = self.broker.connection(reconnect_attempts_max=1)
                number += 1
                headers, body = activemq_module.os_message_notification(
                    "s-%d" % number, number, object_uri=STREAM_OBJECT_URI, name="STREAM")
                conn.send("/topic/" + TOPIC, body, headers=headers)
                self.sent.append(("s-%d" % number, time.monotonic()))
            except (stomp.exception.StompException, OSError):
                conn = None
            self.stopped.wait(STREAM_INTERVAL)
        if conn is not None:
            try:
                conn.disconnect()
            except (stomp.exception.StompException, OSError):
                pass


class _Sequence:
    def __init__(self):
        self.value = 0

    def next(self):
        self.value += 1
        return self.value


def _ids(events):
    return [harness.published_id(event) for event in events if harness.published_id(event) is not None]


def test_activemq_killed_and_restarted_ten_times(activemq_running, collections_path):
    broker = activemq_running
    workdir = tempfile.mkdtemp(prefix="zeda-soak-", dir="/tmp")
    rulebook = write_rulebook(workdir, _rulebook(broker))
    run = RulebookRun(rulebook, workdir, collections_path,
                      env_vars={"ZEDA_BROKER_PASSWORD": broker.password}, verbosity=1)
    sequence = _Sequence()
    expected = []
    recoveries = []
    windows = []          # (recovered at, next kill at): stream messages sent inside must arrive
    stream = _Stream(broker)
    with run:
        run.wait_for_events(lambda evs: any(harness.status_state(e) == "connected" for e in evs), 120)
        stream.start()
        time.sleep(0.5)
        for cycle in range(CYCLES):
            if windows:
                windows[-1] = (windows[-1][0], time.monotonic())
            broker.kill()
            broker.start()
            broker_up = time.monotonic()
            # probes until one comes through: the source has re-subscribed
            probe_prefix = "probe-%d-" % cycle
            deadline = broker_up + RECOVERY_TIMEOUT
            recovered_at = None
            probe = 0
            while recovered_at is None:
                assert run.running(), "ansible-rulebook exited in cycle %d:\n%s" % (cycle, run.tail())
                assert time.monotonic() < deadline, \
                    "no probe delivered %.0f s after broker restart %d:\n%s" % (RECOVERY_TIMEOUT, cycle, run.tail())
                broker.publish_messages(TOPIC, [activemq_module.os_message_notification(
                    "%s%d" % (probe_prefix, probe), sequence.next())])
                probe += 1
                try:
                    run.wait_for_events(
                        lambda evs, prefix=probe_prefix: any(i.startswith(prefix) for i in _ids(evs)), 0.5)
                    recovered_at = time.monotonic()
                except AssertionError:
                    continue
            recoveries.append(recovered_at - broker_up)
            windows.append((recovered_at, None))
            batch = ["c%d-%d" % (cycle, index) for index in range(BATCH)]
            expected.extend(batch)
            broker.publish_messages(TOPIC, [activemq_module.os_message_notification(item, sequence.next())
                                            for item in batch])
            run.wait_for_events(lambda evs, wanted=frozenset(batch): wanted <= set(_ids(evs)), 30)
            time.sleep(STREAM_RUN_SECONDS)   # the stream flows through the recovered source
        time.sleep(1.0)
        stream.stopped.set()
        stream.join(10)
        windows[-1] = (windows[-1][0], time.monotonic())
        stream_expected = [item for item, sent_at in stream.sent
                           if any(start + STREAM_MARGIN <= sent_at <= end - STREAM_MARGIN for start, end in windows)]
        try:
            run.wait_for_events(lambda evs: set(stream_expected) <= set(_ids(evs)), 30)
        except AssertionError:
            pass   # counted as lost below
        time.sleep(1.0)   # late duplicates would show up now
        assert run.running(), "ansible-rulebook exited at the end:\n%s" % run.tail()
        events = run.printed_events()
        output = run.output
    lost, duplicated = harness.lost_and_duplicated(expected, _ids(events))
    stream_lost, _ = harness.lost_and_duplicated(stream_expected, _ids(events))
    stream_ids = [item for item in _ids(events) if item.startswith("s-")]
    stream_duplicated = len(stream_ids) - len(set(stream_ids))
    statuses = [harness.status_state(event) for event in events if harness.is_status(event)]
    harness.report("broker_kill_soak", cycles=CYCLES, published=len(expected), lost=len(lost),
                   duplicated=len(duplicated), stream_sent=len(stream.sent),
                   stream_after_recovery=len(stream_expected), stream_lost=len(stream_lost),
                   stream_duplicated=stream_duplicated, stream_delivered=len(set(stream_ids)),
                   recovery_max_s=max(recoveries),
                   recovery_median_s=sorted(recoveries)[len(recoveries) // 2],
                   reconnected_events=statuses.count("reconnected"))
    assert not lost, "lost after recovery: %s" % lost[:20]
    assert not duplicated, "duplicated: %s" % duplicated[:20]
    assert len(stream_expected) >= CYCLES * 10, "the stream hardly ran: %d" % len(stream_expected)
    assert not stream_lost, "stream notifications sent after a recovery were lost: %s" % stream_lost[:20]
    assert stream_duplicated == 0
    assert statuses.count("reconnected") >= CYCLES
    # the whole rulebook output (source logs at -v, events) never shows the broker password
    assert broker.password not in output
