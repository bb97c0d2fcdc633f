"""Restarts and gaps, driven with fakes: a checkpoint makes a restarted source emit each OS
message once, and status changes missed during a gap come out as resync events."""
from __future__ import annotations

import asyncio

from tests.unit.runtime_fakes import os_seqs, partition_uri, states
from tests.unit.test_runtime_orchestration import Harness, run


def resyncs(events: list) -> list:
    return [(e["hmc"]["object"]["name"], e["hmc"]["old_status"], e["hmc"]["new_status"])
            for e in events if e["hmc"].get("resync")]


def test_a_restart_with_the_checkpoint_emits_only_what_was_missed_and_the_missed_stop(tmp_path):
    checkpoint = str(tmp_path / "cp.json")

    async def before(h: Harness) -> None:
        await h.start()
        for seq in (1, 2, 3):
            h.broker.publish_os_message(h.hmc, "PART1", seq, "m%d" % seq)
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1, 2, 3])
        await h.stop()

    first = run(before, checkpoint_file=checkpoint)
    hmc = first.hmc
    # while the source is down: two more messages, PART2 stops
    for seq in (4, 5):
        hmc.add_os_message(partition_uri("PART1"), seq, "m%d" % seq)
    hmc.statuses["PART2"] = "stopped"

    async def after(h: Harness) -> None:
        await h.start()
        # the HMC replays its buffer to the new channel (refresh): all of it is old news
        for seq in (1, 2, 3, 4, 5):
            h.broker.publish_os_message(h.hmc, "PART1", seq, "m%d" % seq)
        h.broker.publish_os_message(h.hmc, "PART1", 6, "m6")
        await h.queue.wait_for(lambda ev: 6 in os_seqs(ev))
        await h.stop()

    second = run(after, hmc=hmc, checkpoint_file=checkpoint)
    assert os_seqs(second.queue.events) == [4, 5, 6]
    assert resyncs(second.queue.events) == [("PART2", "active", "stopped")]
    resync = [e for e in second.queue.events if e["hmc"].get("resync")][0]
    reports = resync["hmc"]["body"]["change-reports"]
    assert reports[0]["old-status"] == "active" and reports[0]["new-status"] == "stopped"
    assert resync["hmc"]["notification_type"] == "status-change"
    assert second.calls("list_os_messages") == [(partition_uri("PART1"), 4)]


def test_without_a_checkpoint_a_restart_repeats_the_replayed_messages(tmp_path):
    """The same run without checkpoint_file: the replay comes out again (what the checkpoint
    prevents)."""
    async def scenario(h: Harness) -> None:
        await h.start()
        for seq in (1, 2):
            h.broker.publish_os_message(h.hmc, "PART1", seq, "m%d" % seq)
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1, 2])
        await h.stop()

    first = run(scenario)
    second = run(scenario, hmc=first.hmc)
    assert os_seqs(second.queue.events) == [1, 2]
    assert second.calls("list_os_messages") == []


def test_a_status_change_missed_during_a_broker_outage_is_resynced_once():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.down = True
        h.broker.live.lose()
        h.hmc.statuses["PART1"] = "stopped"  # its notification is lost with the connection
        await asyncio.sleep(0.05)
        h.broker.down = False
        await h.queue.wait_for(lambda ev: resyncs(ev))
        await asyncio.sleep(0.05)
        await h.stop()

    h = run(scenario)
    assert resyncs(h.queue.events) == [("PART1", "active", "stopped")]
    order = [e["hmc"]["status"]["state"] if e["hmc"].get("status") else "resync"
             for e in h.queue.events if e["hmc"].get("status") or e["hmc"].get("resync")]
    assert order[-2:] == ["reconnected", "resync"]
    assert states(h.queue.events).count("reconnected") == 1


def texts(events: list) -> list:
    return [e["hmc"]["os_message"]["text"] for e in events if e["hmc"].get("os_message")]


def test_fail_over_to_the_other_hmc_emits_each_message_once_though_it_numbers_them_otherwise():
    from tests.unit.runtime_fakes import FakeHmc

    hmc = FakeHmc()
    hmc.hosts = ["hmc1.example.com", "hmc2.example.com"]

    async def scenario(h: Harness) -> None:
        await h.start()
        assert h.hmc.host == "hmc1.example.com"
        for seq in (1, 2):
            h.broker.publish_os_message(h.hmc, "PART1", seq, "m%d" % seq)
        await h.queue.wait_for(lambda ev: texts(ev) == ["m1", "m2"])
        h.hmc.dead.add("hmc1.example.com")  # killed: sockets reset, WS API refused
        h.hmc.add_os_message(partition_uri("PART1"), 3, "m3")  # while switching over
        h.broker.live.lose()
        await h.queue.wait_for(lambda ev: "reconnected" in states(ev))
        assert h.hmc.host == "hmc2.example.com"
        # the new HMC replays its buffer to the new channel, with its own numbers
        for seq in (1, 2, 3, 4):
            h.broker.publish_os_message(h.hmc, "PART1", seq, "m%d" % seq)
        await h.queue.wait_for(lambda ev: "m4" in texts(ev))
        await h.stop()

    h = run(scenario, hmc=hmc, hmc_host=["hmc1.example.com", "hmc2.example.com"])
    assert texts(h.queue.events) == ["m1", "m2", "m3", "m4"]
    relogon = [e["hmc"]["status"] for e in h.queue.events
               if e["hmc"].get("status", {}).get("state") == "relogon"]
    assert relogon and relogon[0]["hmc"] == "hmc2.example.com"
    assert h.broker.receivers[-1].host == "hmc2.example.com"
    assert ("list_os_messages", (partition_uri("PART1"), 0)) in h.hmc.calls
