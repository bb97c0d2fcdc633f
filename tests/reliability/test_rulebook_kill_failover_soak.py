"""Soak, end to end: ansible-rulebook with a checkpoint watches PART1 through two redundant HMCs
(two hmcsim instances sharing one configuration, the HMC's standard ports) while the rulebook
is killed (SIGKILL) and restarted, and the HMC in use is killed and booted again, in turns.

A publisher gives PART1 an OS message every 50 ms the whole time, on every HMC that is up,
with the same OS time on each (as an OS's message reaches both HMCs of its CPC). Every message
must be handled exactly once across all the rulebook's runs: none lost (the checkpoint, the
backfill after each gap, the other HMC after a fail-over) and none twice (the checkpoint and
the dedupe, across HMCs by OS time and text).

A rulebook is killed once its last message went through the rules (an event ansible-rulebook
had taken but not processed dies with it, see docs/source.md); messages keep coming while it
is down. An HMC dies mid-stream.
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.integration.test_source_hmcsim import (  # noqa: F401 - workdir is a fixture
    CONNECTED_LINE, hmc, os_events, os_texts, source_args, start_rulebook, workdir)
from tests.reliability import harness
from tests.support.fixtures_hmcsim import twin_hmcsims

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

INTERVAL = 0.05
# In turns: kill the rulebook (restart it with the same checkpoint), kill the HMC in use
# (the source takes over on the other one; the dead one boots again).
CYCLES = ("rulebook", "hmc", "rulebook", "hmc", "rulebook")
RULEBOOK_DOWN_SECONDS = 1.0
TAKE_OVER_LIMIT = 30.0


def text(number: int) -> str:
    return "soak %04d" % number


class TwinPublisher(threading.Thread):
    """PART1's OS messages on every HMC in `live`, one every INTERVAL, until stop()."""

    def __init__(self, sims: list) -> None:
        super().__init__(daemon=True, name="twin-publisher")
        self.live = list(sims)
        self.lock = threading.Lock()      # held while an HMC dies or boots: between messages
        self.sent = 0
        self.error: BaseException | None = None
        self._running = threading.Event()
        self._running.set()
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._running.wait()
                with self.lock:
                    if self._stopping.is_set() or not self._running.is_set():
                        continue
                    number = self.sent + 1
                    message = {"message-text": text(number), "timestamp": int(time.time() * 1000)}
                    for sim in self.live:
                        sim.emit_os_messages("CPC1", "PART1", [message])
                    self.sent = number
                time.sleep(INTERVAL)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def pause(self) -> int:
        """No more messages until resume(); returns the last one sent."""
        self._running.clear()
        with self.lock:
            return self.sent

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> int:
        self._stopping.set()
        self._running.set()
        self.join(10)
        return self.sent


def in_use(sims: list):
    """The HMC the source is connected to (a killed rulebook's session stays logged on, but
    its STOMP connection closed with the process)."""
    using = [sim for sim in sims if sim.stomp_connection_count()]
    assert len(using) == 1, "the source should have one STOMP connection: %s" % [
        (sim.host, sim.stomp_connection_count()) for sim in sims]
    return using[0]


def test_rulebook_kills_and_hmc_failovers_lose_and_repeat_nothing(
        hmcsim_factory, collections_path, workdir):
    sims = twin_hmcsims(hmcsim_factory, os.path.join(workdir, "shared-hmc.json"))
    args = source_args(sims[0], hmc_host=[sim.host for sim in sims], status_events=True,
                       checkpoint_file=os.path.join(workdir, "checkpoint.json"),
                       os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}])
    args.pop("ws_port")
    args.pop("stomp_port")
    # Fast retries, default heart-beats: a killed HMC resets its connections (seen at once),
    # and 1 s heart-beats would add a machine's stalls to what is measured here.
    args["stomp_retry_timeout_config"] = harness.default_heartbeats(args["stomp_retry_timeout_config"])
    publisher = TwinPublisher(sims)
    printed: list[dict] = []           # every run's events, in order
    take_overs: list[float] = []
    restarts: list[float] = []

    def handled_by(run, number, timeout):
        run.wait_for_events(lambda evs: text(number) in os_texts(evs), timeout=timeout)

    run = start_rulebook(workdir, collections_path, sims[0], args)
    try:
        run.wait_for(CONNECTED_LINE, timeout=120)
        publisher.start()
        handled_by(run, 20, timeout=30)
        for cycle in CYCLES:
            if cycle == "rulebook":
                last = publisher.pause()
                handled_by(run, last, timeout=30)
                run.terminate(sig=signal.SIGKILL)
                printed += run.printed_events()
                killed = time.monotonic()
                publisher.resume()                   # messages keep coming while it is down
                time.sleep(RULEBOOK_DOWN_SECONDS)
                run = start_rulebook(workdir, collections_path, sims[0], args)
                run.wait_for(CONNECTED_LINE, timeout=120)
                handled_by(run, publisher.sent, timeout=60)
                restarts.append(time.monotonic() - killed)
            else:
                dying = in_use(sims)
                with publisher.lock:
                    dying.kill()
                    publisher.live.remove(dying)
                    last_before = publisher.sent
                died = time.monotonic()
                handled_by(run, last_before + 1, timeout=TAKE_OVER_LIMIT)  # one sent after the death
                take_overs.append(time.monotonic() - died)
                with publisher.lock:
                    dying.boot_again()
                    publisher.live.append(dying)
            handled_by(run, publisher.sent + 10, timeout=30)      # the stream goes on
        last = publisher.stop()
        assert publisher.error is None, publisher.error
        handled_by(run, last, timeout=30)
        time.sleep(1.0)                                           # anything repeated comes now
    finally:
        publisher.stop()
        run.terminate()
    printed += run.printed_events()
    handled = os_texts(printed, "PART1")
    relogons = [hmc(e)["status"]["hmc"] for e in printed if hmc(e).get("status", {}).get("state") == "relogon"]
    harness.report("rulebook_kill_failover_soak", cycles=len(CYCLES), messages=last, handled=len(handled),
                   restart_s=[round(s, 2) for s in restarts], take_over_s=[round(s, 2) for s in take_overs],
                   relogons=len(relogons))
    repeated = sorted(set(t for t in handled if handled.count(t) > 1))
    assert not repeated, "OS messages emitted more than once (text, origin, HMC, its number): %s" % [
        (hmc(e)["os_message"]["text"], hmc(e).get("origin"), hmc(e).get("host"),
         hmc(e)["os_message"]["sequence_number"])
        for e in os_events(printed, "PART1") if hmc(e)["os_message"]["text"] in repeated]
    assert sorted(handled) == [text(n) for n in range(1, last + 1)], "lost: %s" % sorted(
        set(text(n) for n in range(1, last + 1)) - set(handled))
    assert len(take_overs) == CYCLES.count("hmc") and all(s <= TAKE_OVER_LIMIT for s in take_overs)
    # each fail-over logged on to the HMC that was left
    assert len(relogons) >= CYCLES.count("hmc"), relogons
