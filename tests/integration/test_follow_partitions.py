"""End to end: the source follows partitions through their life cycle by itself (no control
socket), through ansible-rulebook on the installed collection against hmcsim.

One rulebook run goes through the whole life cycle, then again after a re-logon and after an
HMC restart: a partition stopped at start and started later, one created later, one deleted,
one stopped and started again. Each partition's messages must arrive within 10 s of it
becoming active, none twice.
"""
import pytest

from tests.integration.test_source_hmcsim import (  # noqa: F401 - workdir is a fixture
    CONNECTED_LINE, assert_no_duplicates, hmc, os_events, os_texts, source_args,
    start_rulebook, states, workdir)

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

# A partition's messages must be delivered this soon after it becomes active or is created.
ACTIVE_TO_DELIVERED_S = 10


def channel_events(events, action, name):
    return [e for e in events if hmc(e).get("status", {}).get("state") == "channel"
            and hmc(e)["status"]["action"] == action
            and hmc(e)["status"]["object"]["name"] == name]


class LifeCycle:
    """Drives hmcsim and checks the rulebook's events for one round of the life cycle."""

    def __init__(self, sim, run):
        self.sim = sim
        self.run = run
        self.expected = []  # every message text that must arrive exactly once

    def messages(self, name, *texts):
        self.sim.emit_os_messages("CPC1", name, list(texts))
        self.expected += texts
        self.run.wait_for_events(lambda evs: set(texts) <= set(os_texts(evs, name)),
                                 timeout=ACTIVE_TO_DELIVERED_S)

    def activate(self, name, tag):
        self.sim.set_status("CPC1", name, "active")
        self.messages(name, "%s %s boot 1" % (tag, name), "%s %s boot 2" % (tag, name))

    def round(self, tag, stopped_name, created_name):
        # stopped when the round starts (at start: when the rulebook started), started now
        self.activate(stopped_name, tag)
        # created later, active
        self.sim.add_partition("CPC1", created_name, status="active")
        self.messages(created_name, "%s %s hello" % (tag, created_name))
        # stopped and started again: its shutdown, then its boot messages
        self.messages("PART1", "%s PART1 shutting down" % tag)
        self.sim.set_status("CPC1", "PART1", "stopped")
        self.activate("PART1", tag)
        # deleted: its channel is dropped, no error
        self.sim.delete_partition("CPC1", created_name)
        self.run.wait_for_events(lambda evs: channel_events(evs, "stopped", created_name),
                                 timeout=ACTIVE_TO_DELIVERED_S)
        # the next round starts with this one stopped
        self.sim.set_status("CPC1", stopped_name, "stopped")


def test_partitions_are_followed_through_their_life_cycle(fresh_hmcsim, collections_path,
                                                          workdir):
    sim = fresh_hmcsim
    sim.set_status("CPC1", "PART2", "stopped")
    args = source_args(sim, topic_types=["job"], status_events=True, keepalive_interval=2,
                       os_message_channels=[{"cpc": "CPC1", "partition": "PART[12]|NEW.*"}])
    with start_rulebook(workdir, collections_path, sim, args) as run:
        run.wait_for(CONNECTED_LINE, timeout=120)
        events = run.wait_for_events(lambda evs: channel_events(evs, "unavailable", "PART2"),
                                     timeout=30)
        assert "PART2" not in os_texts(events)
        cycle = LifeCycle(sim, run)
        cycle.round("first", "PART2", "NEW1")

        sim.expire_session()  # the keep-alive finds the session gone: re-logon
        run.wait_for_events(lambda evs: "relogon" in states(evs), timeout=60)
        cycle.round("after re-logon", "PART2", "NEW2")

        relogons = states(run.printed_events()).count("relogon")
        sim.restart()
        run.wait_for_events(lambda evs: states(evs).count("relogon") > relogons, timeout=60)
        cycle.round("after restart", "PART2", "NEW3")

        events = run.printed_events()
    texts = os_texts(events)
    assert sorted(set(texts) & set(cycle.expected)) == sorted(cycle.expected)
    assert_no_duplicates([hmc(e)["object"]["name"] + ":" + hmc(e)["os_message"]["text"]
                          for e in os_events(events)], "OS messages")
    # object events fed the source only: topic_types has no object
    assert not [e for e in events if hmc(e).get("notification_type") in (
        "status-change", "inventory-change") and not hmc(e).get("resync")]
    # the source logged no error (ansible-rulebook's rules engine may log one of its own at
    # shutdown: "Cannot find any rulesExecutor", a race in its Drools layer, not ours)
    ours = [line for line in run.lines if " - zhmc.eda" in line]
    assert not [line for line in ours if " - ERROR - " in line], ours
    assert "Traceback" not in "\n".join(run.lines)
