"""Soak, end to end: ansible-rulebook runs zhmc.eda.notifications against a real ActiveMQ broker
over STOMP+TLS while the broker is killed (-9) and restarted 10 times.

After each restart the test publishes probes until one comes through (that is "recovered"),
then a batch; every batch notification must be printed exactly once, and ansible-rulebook
(with the source in it) must keep running the whole time.
"""
import tempfile
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
    with run:
        run.wait_for_events(lambda evs: any(harness.status_state(e) == "connected" for e in evs), 120)
        for cycle in range(CYCLES):
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
                        lambda evs: any(i.startswith(probe_prefix) for i in _ids(evs)), 0.5)
                    recovered_at = time.monotonic()
                except AssertionError:
                    continue
            recoveries.append(recovered_at - broker_up)
            batch = ["c%d-%d" % (cycle, index) for index in range(BATCH)]
            expected.extend(batch)
            broker.publish_messages(TOPIC, [activemq_module.os_message_notification(item, sequence.next())
                                            for item in batch])
            run.wait_for_events(lambda evs: set(batch) <= set(_ids(evs)), 30)
        time.sleep(1.0)   # late duplicates would show up now
        assert run.running(), "ansible-rulebook exited at the end:\n%s" % run.tail()
        events = run.printed_events()
        output = run.output
    lost, duplicated = harness.lost_and_duplicated(expected, _ids(events))
    statuses = [harness.status_state(event) for event in events if harness.is_status(event)]
    harness.report("broker_kill_soak", cycles=CYCLES, published=len(expected), lost=len(lost),
                   duplicated=len(duplicated), recovery_max_s=max(recoveries),
                   recovery_median_s=sorted(recoveries)[len(recoveries) // 2],
                   reconnected_events=statuses.count("reconnected"))
    assert not lost, "lost after recovery: %s" % lost[:20]
    assert not duplicated, "duplicated: %s" % duplicated[:20]
    assert statuses.count("reconnected") >= CYCLES
    # the whole rulebook output (source logs at -v, events) never shows the broker password
    assert broker.password not in output
