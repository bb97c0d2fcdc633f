"""Many channels at once (option parallel_hmc_calls), driven with fakes: the watch list ends
the same as with one call at a time, a busy HMC is paced, backfill asks many channels at
once and emits channel after channel."""
from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from typing import Any, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCError

from tests.unit.runtime_fakes import FakeHmc, os_seqs, partition_uri, states
from tests.unit.test_runtime_orchestration import Harness, run

NAMES = ["P%03d" % i for i in range(1, 61)]


class SlowHmc(FakeHmc):
    """A fake HMC whose channel and message calls take a little, random, time (so that calls
    made at once end in another order), counted; the first `busy` opens are answered 503."""

    def __init__(self, seed: int, busy: int = 0, broken: Optional[str] = None) -> None:
        super().__init__()
        self.broken = broken  # this partition's channel cannot be opened (404)
        self.statuses = {name: "stopped" if i % 7 == 3 else "active"
                         for i, name in enumerate(NAMES)}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.busy_left = busy

    def _slowly(self, work: Any, busy_uri: Optional[str] = None) -> Any:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            delay = self._rng.random() * 0.004
            busy = busy_uri is not None and self.busy_left > 0
            if busy:
                self.busy_left -= 1
        try:
            time.sleep(delay)
            if busy:
                raise HMCError(503, 999, "503 Service Unavailable", "POST", busy_uri)
            return work()
        finally:
            with self._lock:
                self.in_flight -= 1

    def open_os_message_channel(self, uri: str, include_refresh: bool = True
                                ) -> Tuple[Optional[str], str]:
        if self.broken is not None and uri == partition_uri(self.broken):
            raise HMCError(404, 1, "The object does not exist", "POST", uri)
        return self._slowly(lambda: super(SlowHmc, self).open_os_message_channel(
            uri, include_refresh), busy_uri=uri)

    def list_os_messages(self, uri: str, begin: Optional[int] = None,
                         end: Optional[int] = None) -> List[dict]:
        return self._slowly(lambda: super(SlowHmc, self).list_os_messages(uri, begin, end))


def channel_events(events: list) -> list:
    return [(e["hmc"]["status"]["action"], e["hmc"]["status"]["object"]["name"])
            for e in events if e["hmc"].get("status", {}).get("state") == "channel"]


def start_and_stop(limit: int, seed: int, busy: int = 0) -> Harness:
    async def scenario(h: Harness) -> None:
        await h.start()
        await h.queue.wait_for(lambda ev: len(channel_events(ev)) == 9)  # the stopped ones
        await h.stop()

    return run(scenario, hmc=SlowHmc(seed, busy), parallel_hmc_calls=limit,
               os_message_channels=[{"cpc": "CPC1", "partition": "P.*"}])


def test_the_watch_list_ends_the_same_with_many_calls_at_once_as_with_one():
    one = start_and_stop(1, seed=3)
    many = start_and_stop(8, seed=4)
    assert one.hmc.most == 1 and many.hmc.most > 1
    assert many.source.watch.public_list() == one.source.watch.public_list()
    assert many.source.watch.summary() == one.source.watch.summary()
    assert [s.obj.name for s in many.source.watch.channels()] == \
        [s.obj.name for s in one.source.watch.channels()] == \
        [n for n in NAMES if one.hmc.statuses[n] == "active"]
    assert channel_events(many.queue.events) == channel_events(one.queue.events)
    assert many.broker.receivers[0].topics == one.broker.receivers[0].topics
    assert len([t for t in many.broker.receivers[0].topics if t.startswith("os.")]) == 51


def test_a_busy_hmc_is_paced_and_every_channel_still_opens(caplog):
    caplog.set_level(logging.INFO, logger="zhmc.eda.source")
    h = start_and_stop(8, seed=5, busy=6)
    assert h.hmc.busy_left == 0
    assert h.source.opener.calls.busy_answers == 6
    assert len([t for t in h.broker.receivers[0].topics if t.startswith("os.")]) == 51
    pauses = [s for s in h.clock.sleeps if 1.0 <= s <= 30.0]
    assert pauses, "the calls paused after the busy answers"
    assert "the HMC is busy" in caplog.text
    assert "OS message channels of 60 object(s) opened" in caplog.text


def test_backfill_asks_many_channels_at_once_and_emits_them_in_watch_list_order():
    async def scenario(h: Harness) -> None:
        await h.start()
        active = [n for n in NAMES if h.hmc.statuses[n] == "active"]
        for name in active:
            h.broker.publish_os_message(h.hmc, name, 1, "before")
        await h.queue.wait_for(lambda ev: len(os_seqs(ev)) == len(active))
        h.hmc.most = 0
        h.broker.down = True
        h.broker.live.lose()
        for name in active:
            h.hmc.add_os_message(partition_uri(name), 2, "while down")
        await asyncio.sleep(0.05)
        h.broker.down = False
        await h.queue.wait_for(lambda ev: len(os_seqs(ev)) == 2 * len(active))
        await h.stop()

    h = run(scenario, hmc=SlowHmc(6), parallel_hmc_calls=8,
            os_message_channels=[{"cpc": "CPC1", "partition": "P.*"}])
    backfilled = [e["hmc"]["object"]["name"] for e in h.queue.events
                  if e["hmc"].get("origin") == "backfill"]
    assert backfilled == [n for n in NAMES if h.hmc.statuses[n] == "active"]
    assert h.hmc.most > 1, "List OS Messages asked for many channels at once"
    assert [s for s in states(h.queue.events) if s != "channel"] == [
        "connected", "disconnected", "reconnected"]


def test_partitions_that_become_active_at_once_are_opened_many_at_once():
    stopped = [n for i, n in enumerate(NAMES) if i % 7 == 3]

    async def scenario(h: Harness) -> None:
        await h.start()
        await h.queue.wait_for(lambda ev: len(channel_events(ev)) == len(stopped))
        h.hmc.most = 0
        h.hmc.broken = stopped[2]  # deleted meanwhile, say
        for name in stopped:  # an IPL: all of them at the same moment
            h.broker.object_change(h.hmc, name, "status-change", status="active")
        await h.queue.wait_for(lambda ev: len([a for a, _n in channel_events(ev)
                                               if a == "started"]) == len(stopped) - 1)
        await h.stop()

    h = run(scenario, hmc=SlowHmc(7), parallel_hmc_calls=8,
            os_message_channels=[{"cpc": "CPC1", "partition": "P.*"}])
    started = [n for a, n in channel_events(h.queue.events) if a == "started"]
    assert started == [n for n in stopped if n != stopped[2]], "in the order of the notifications"
    assert h.hmc.most > 1, "opened many at once"
    live = h.broker.receivers[-1]
    assert len([op for op in live.ops if op[0] == "subscribe"]) == len(stopped) - 1
    assert len(h.broker.receivers) == 1, "on the live connection"


def test_the_watch_list_log_line_names_the_first_few_and_counts_the_rest():
    from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import (
        SUMMARY_NAMES, OsObject, WatchList)

    def obj(i: int) -> OsObject:
        return OsObject(uri="/api/partitions/p%04d" % i, name="P%04d" % i, cls="partition",
                        cpc_name="CPC1", cpc_uri="/api/cpcs/c1")

    watch = WatchList()
    for i in range(1000):
        watch.add_channel(obj(i), "os-topic-%d" % i, "config")
    watch.mark_unavailable(obj(1000), "not running")
    line = watch.summary()
    assert line.startswith("OS message channels open for 1000: P0000 (CPC CPC1), ")
    assert "P%04d (CPC CPC1) and %d more;" % (SUMMARY_NAMES - 1, 1000 - SUMMARY_NAMES) in line
    assert "P%04d " % SUMMARY_NAMES not in line
    assert line.endswith("unavailable for 1: P1000 (CPC CPC1): not running")
    assert len(line) < 1000
