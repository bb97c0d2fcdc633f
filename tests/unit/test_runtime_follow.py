"""OS message channels that follow their partitions through their life cycle, driven with
fakes: the real runtime parts against a fake HMC, broker and clock (no sockets)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.source_errors import SourceConfigError

from tests.unit.runtime_fakes import os_seqs, partition_uri, states
from tests.unit.test_runtime_orchestration import Harness, run


def channel_events(events: list) -> list:
    return [(e["hmc"]["status"]["action"], e["hmc"]["status"]["object"]["name"])
            for e in events if e["hmc"].get("status", {}).get("state") == "channel"]


def subscribed(h: Harness) -> list:
    return sorted(t for t in h.broker.receivers[-1].topics if t.startswith("os."))


def test_a_partition_stopped_at_start_is_watched_once_it_becomes_active():
    async def scenario(h: Harness) -> None:
        h.hmc.statuses["PART2"] = "stopped"
        await h.start()
        assert subscribed(h) == ["os.1.p1"]
        h.broker.object_change(h.hmc, "PART2", "status-change", status="starting")
        h.broker.object_change(h.hmc, "PART2", "status-change", status="active")
        await h.queue.wait_for(lambda ev: ("started", "PART2") in channel_events(ev))
        assert h.broker.publish_os_message(h.hmc, "PART2", 1, "boot message")
        await h.queue.wait_for(lambda ev: os_seqs(ev, "PART2") == [1])
        await h.stop()

    h = run(scenario)
    assert channel_events(h.queue.events) == [("unavailable", "PART2"), ("started", "PART2")]
    assert states(h.queue.events).index("connected") == 0
    assert ("subscribe", "os.1.p2") in h.broker.receivers[-1].ops
    assert len(h.broker.receivers) == 1, "followed on the live connection, no reconnect"


def test_a_partition_created_later_is_watched_and_one_deleted_is_dropped():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.object_change(h.hmc, "PART3", "inventory-change", action="add")
        await h.queue.wait_for(lambda ev: ("started", "PART3") in channel_events(ev))
        assert h.broker.publish_os_message(h.hmc, "PART3", 5, "hello from a new partition")
        await h.queue.wait_for(lambda ev: os_seqs(ev, "PART3") == [5])
        h.broker.object_change(h.hmc, "PART1", "inventory-change", action="remove")
        await h.queue.wait_for(lambda ev: ("stopped", "PART1") in channel_events(ev))
        await h.stop()

    h = run(scenario)
    live = h.broker.receivers[-1]
    assert ("subscribe", "os.1.part3") in live.ops and ("unsubscribe", "os.1.p1") in live.ops
    assert "os.1.p1" not in live.topics
    stopped = [e["hmc"]["status"] for e in h.queue.events
               if e["hmc"].get("status", {}).get("action") == "stopped"]
    assert stopped[0]["reason"] == "deleted from the HMC"
    assert stopped[0]["object"]["cpc_name"] == "CPC1"


def test_a_partition_stopped_and_started_again_keeps_its_channel():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.publish_os_message(h.hmc, "PART1", 1, "shutting down")
        h.broker.object_change(h.hmc, "PART1", "status-change", status="stopped")
        await h.queue.wait_for(lambda ev: os_seqs(ev, "PART1") == [1])
        h.hmc.statuses["PART1"] = "stopped"
        h.broker.object_change(h.hmc, "PART1", "status-change", status="active")
        await asyncio.sleep(0.05)
        h.broker.publish_os_message(h.hmc, "PART1", 2, "booting")
        await h.queue.wait_for(lambda ev: os_seqs(ev, "PART1") == [1, 2])
        await h.stop()

    h = run(scenario)
    # re-opened when it came back: the session still had it (existing), nothing changed
    assert len(h.calls("open_os_message_channel")) >= 3
    assert channel_events(h.queue.events) == []


def test_the_object_topic_is_followed_without_emitting_its_events():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.object_change(h.hmc, "PART3", "inventory-change", action="add")
        await h.queue.wait_for(lambda ev: ("started", "PART3") in channel_events(ev))
        await h.stop()

    h = run(scenario, topic_types=["job"])
    assert "obj.1" in h.broker.receivers[0].topics
    assert not [e for e in h.queue.events
                if e["hmc"].get("notification_type") in ("inventory-change", "status-change")]


def test_the_periodic_resync_finds_what_a_lost_notification_hid():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.hmc.statuses["PART3"] = "active"  # created without a notification reaching us
        h.clock.open_gate(7200)  # the resync interval
        await h.queue.wait_for(lambda ev: ("started", "PART3") in channel_events(ev))
        await h.stop()

    h = run(scenario)
    assert "os.1.part3" in h.broker.receivers[-1].topics


def test_a_cpc_pattern_that_matches_no_cpc_fails_at_start():
    async def scenario(h: Harness) -> None:
        with pytest.raises(SourceConfigError, match="no CPC has a name matching 'CPX1'"):
            await h.source.run()

    run(scenario, os_message_channels=[{"cpc": "CPX1", "partition": "PART1"}])


def test_a_partition_pattern_that_matches_nothing_yet_is_a_warning_and_a_watch_event():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.object_change(h.hmc, "LINUX9", "inventory-change", action="add")
        await h.queue.wait_for(lambda ev: ("started", "LINUX9") in channel_events(ev))
        await h.stop()

    h = run(scenario, os_message_channels=[{"cpc": "CPC1", "partition": "LINUX.*"}])
    watch = [e["hmc"]["status"] for e in h.queue.events
             if e["hmc"].get("status", {}).get("state") == "watch"]
    assert watch and watch[0]["name"] == "LINUX.*"


def test_without_following_a_spec_that_selects_nothing_is_an_error():
    async def scenario(h: Harness) -> None:
        with pytest.raises(SourceConfigError, match=r"os_message_channels\[0\]: no partition"):
            await h.source.run()

    run(scenario, follow_os_message_channels=False,
        os_message_channels=[{"cpc": "CPC1", "partition": "LINUX.*"}])


def test_after_a_relogon_channels_are_reopened_without_repeated_started_events():
    async def scenario(h: Harness) -> None:
        h.hmc.statuses["PART2"] = "stopped"
        await h.start()
        h.hmc.expire()
        h.clock.open_gate(3600)  # the keep-alive finds the session renewed
        await h.queue.wait_for(lambda ev: "reconnected" in states(ev))
        h.broker.object_change(h.hmc, "PART2", "status-change", status="active")
        await h.queue.wait_for(lambda ev: ("started", "PART2") in channel_events(ev))
        await h.stop()

    h = run(scenario)
    assert channel_events(h.queue.events) == [("unavailable", "PART2"), ("started", "PART2")]
    assert sorted(t for t in h.broker.receivers[-1].topics if t.startswith("os.")) == [
        "os.2.p1", "os.2.p2"]


def test_a_control_request_for_a_stopped_partition_is_followed_like_the_options():
    from ansible_collections.zhmc.eda.plugins.module_utils.watch_commands import Deadline

    async def scenario(h: Harness) -> Any:
        h.hmc.statuses["PART3"] = "stopped"
        await h.start()
        answer = await h.source.commands.open_channel("CPC1", "partition", "PART3", True,
                                                      False, Deadline.within(25))
        assert answer["status"] == "unsupported" and answer["changed"] is False
        h.broker.object_change(h.hmc, "PART3", "status-change", status="active")
        await h.queue.wait_for(lambda ev: ("started", "PART3") in channel_events(ev))
        await h.stop()

    h = run(scenario, os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}])
    assert "os.1.part3" in h.broker.receivers[-1].topics
    assert partition_uri("PART2") not in [s["object_uri"] for s in h.source.watch.public_list()]


def test_events_name_the_cpc_and_can_set_meta_hosts():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.publish_os_message(h.hmc, "PART1", 1, "hello")
        # an object event about a partition nobody listed yet: looked up once
        h.hmc.statuses["PART9"] = "active"
        h.broker.object_change(h.hmc, "PART9", "status-change", status="stopped")
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1] and [
            e for e in ev if e["hmc"].get("notification_type") == "status-change"])
        await h.stop()

    h = run(scenario, topic_types=["object"], meta_hosts="cpc")
    message = [e for e in h.queue.events if e["hmc"].get("os_message")][0]
    change = [e for e in h.queue.events if e["hmc"].get("notification_type") == "status-change"][0]
    for event in (message, change):
        assert event["hmc"]["object"]["cpc_name"] == "CPC1"
        assert event["hmc"]["object"]["cpc_uri"] == "/api/cpcs/c1"
        assert event["meta"]["hosts"] == "CPC1"
    assert change["hmc"]["object"]["name"] == "PART9"
