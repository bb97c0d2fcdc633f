"""End to end: no lost and no repeated events across a killed ansible-rulebook (with a
checkpoint), an HMC restart while it is down, and a fail-over between redundant HMCs;
ansible-rulebook on the installed collection against hmcsim.
"""
import os
import signal
import threading
import time

import pytest

from tests.integration.test_source_hmcsim import (  # noqa: F401 - workdir is a fixture
    CONNECTED_LINE, assert_no_duplicates, hmc, os_texts, source_args, start_rulebook, workdir)
from tests.support.fixtures_hmcsim import twin_hmcsims

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

MESSAGES = 200
KILL_AFTER = 60
INTERVAL = 0.05


def text(number):
    return "message %03d" % number


class Publisher(threading.Thread):
    """Emits PART1's OS messages every INTERVAL seconds, from `start` on, until told to stop."""

    def __init__(self, sim, first, last):
        super().__init__(daemon=True)
        self.sim, self.first, self.last = sim, first, last
        self.error = None

    def run(self):
        try:
            for number in range(self.first, self.last + 1):
                self.sim.emit_os_messages("CPC1", "PART1", [text(number)])
                time.sleep(INTERVAL)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def resyncs(events):
    return [(hmc(e)["object"]["name"], hmc(e)["old_status"], hmc(e)["new_status"])
            for e in events if hmc(e).get("resync")]


def killed_and_restarted(sim, collections_path, workdir, while_down):
    """Run, kill -9 after KILL_AFTER messages were handled, `while_down()`, run again with the
    same checkpoint; messages keep coming all along. Returns both runs' printed events."""
    args = source_args(sim, topic_types=["job"], status_events=True,
                       checkpoint_file=os.path.join(workdir, "checkpoint.json"),
                       os_message_channels=[{"cpc": "CPC1", "partition": "PART[12]"}])
    first = start_rulebook(workdir, collections_path, sim, args)
    try:
        first.wait_for(CONNECTED_LINE, timeout=120)
        before = Publisher(sim, 1, KILL_AFTER)
        before.run()  # in this thread: the kill comes right after the last one is handled
        first.wait_for_events(lambda evs: text(KILL_AFTER) in os_texts(evs), timeout=30)
    finally:
        first.terminate(sig=signal.SIGKILL)
    killed = time.monotonic()
    after = Publisher(sim, KILL_AFTER + 1, MESSAGES)  # messages keep coming
    after.start()
    while_down()
    time.sleep(max(0.0, 2.0 - (time.monotonic() - killed)))
    second = start_rulebook(workdir, collections_path, sim, args)
    try:
        second.wait_for(CONNECTED_LINE, timeout=120)
        second.wait_for_events(lambda evs: text(MESSAGES) in os_texts(evs), timeout=120)
        after.join(timeout=30)
        assert after.error is None, after.error
        time.sleep(1.0)  # anything repeated would come now
        return first.printed_events(), second.printed_events()
    finally:
        second.terminate()


def assert_each_message_once(first, second):
    handled = os_texts(first) + os_texts(second)
    assert_no_duplicates(handled, "OS messages")
    assert sorted(handled) == [text(n) for n in range(1, MESSAGES + 1)]


def test_a_killed_rulebook_restarts_from_its_checkpoint(fresh_hmcsim, collections_path, workdir):
    sim = fresh_hmcsim
    first, second = killed_and_restarted(
        sim, collections_path, workdir, lambda: sim.set_status("CPC1", "PART2", "stopped"))
    assert_each_message_once(first, second)
    assert resyncs(second) == [("PART2", "active", "stopped")]
    assert not resyncs(first)


def test_the_hmc_restarted_while_the_rulebook_was_down(fresh_hmcsim, collections_path, workdir):
    sim = fresh_hmcsim

    def while_down():
        sim.set_status("CPC1", "PART2", "stopped")
        sim.restart()

    first, second = killed_and_restarted(sim, collections_path, workdir, while_down)
    assert_each_message_once(first, second)
    assert resyncs(second) == [("PART2", "active", "stopped")]


def test_the_other_hmc_takes_over_when_the_one_in_use_dies(hmcsim_factory, collections_path,
                                                          workdir):
    first, second = twin_hmcsims(hmcsim_factory, os.path.join(workdir, "shared-hmc.json"))
    assert first.password == second.password and first.uri("CPC1", "PART1") == second.uri(
        "CPC1", "PART1")
    args = source_args(first, hmc_host=[first.host, second.host], status_events=True,
                       os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}])
    # default timing: the take-over must come within 30 s with what users get
    args.pop("stomp_retry_timeout_config")
    args.pop("ws_port")
    args.pop("stomp_port")
    with start_rulebook(workdir, collections_path, first, args) as run:
        run.wait_for(CONNECTED_LINE, timeout=120)
        first.emit_os_messages("CPC1", "PART1", ["before the crash"])
        run.wait_for_events(lambda evs: "before the crash" in os_texts(evs), timeout=30)
        crashed = time.monotonic()
        first.kill()  # the HMC in use dies: connections reset, WS API refused
        expected = ["on the other HMC %02d" % n for n in range(1, 21)]
        deadline = crashed + 30
        taken_over = None
        while taken_over is None and time.monotonic() < deadline:
            second.emit_os_messages("CPC1", "PART1", [expected[0]])
            try:
                run.wait_for_events(lambda evs: expected[0] in os_texts(evs), timeout=1)
                taken_over = time.monotonic() - crashed
            except AssertionError:
                continue
        assert taken_over is not None, (
            "no event from the other HMC within 30 s of the crash:\n%s" % run.tail(60))
        second.emit_os_messages("CPC1", "PART1", expected[1:])
        events = run.wait_for_events(lambda evs: set(expected) <= set(os_texts(evs)), timeout=30)
    assert_no_duplicates([t for t in os_texts(events) if t != expected[0]], "OS messages")
    assert set(expected) <= set(os_texts(events))
    relogon = [hmc(e)["status"] for e in events if hmc(e).get("status", {}).get("state") == "relogon"]
    assert relogon and relogon[-1]["hmc"] == second.host
