"""The source runtime's orchestration driven with fakes (no sockets, no threads of stomp.py).

Each test runs the real parts (session keeper, watch list, recovery, pump, emitter, watch
commands) against a fake HMC, a fake broker and a fake clock, and asserts both the events
emitted and the calls the runtime made.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.source_errors import SourceAuthError
from ansible_collections.zhmc.eda.plugins.module_utils.source_options import parse_source_args
from ansible_collections.zhmc.eda.plugins.module_utils.source_runtime import Dependencies, Source
from ansible_collections.zhmc.eda.plugins.module_utils.watch_commands import Deadline

from tests.unit.runtime_fakes import (
    FakeBroker, FakeClock, FakeHmc, RecordingQueue, os_seqs, partition_uri, states)

ARGS = {"hmc_host": "hmc.example.com", "hmc_auth": {"userid": "user", "password": "secret"},
        "topic_types": ["object", "job"], "status_events": True,
        "os_message_channels": [{"cpc": "CPC1", "partition": "PART.*"}],
        "keepalive_interval": 3600, "resync_interval": 7200}


class Harness:
    """One source on fakes, started in a task."""

    def __init__(self, hmc: "FakeHmc | None" = None, **extra: Any) -> None:
        args = dict(ARGS)
        args.update(extra)
        self.options = parse_source_args(args)
        self.hmc = hmc or FakeHmc()
        self.broker = FakeBroker(self.hmc if self.options.needs_ws_api else None)
        self.clock = FakeClock()
        self.queue = RecordingQueue()
        self.source = Source(self.queue, self.options, Dependencies(
            hmc_client_factory=lambda *a, **k: self.hmc, receiver_factory=self.broker,
            clock=self.clock))
        self.task: "asyncio.Task[None] | None" = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.source.run())
        await self.queue.wait_for(lambda ev: "connected" in states(ev))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    def calls(self, name: str) -> list:
        return [args for call, args in self.hmc.calls if call == name]


def run(scenario: Callable[[Harness], Awaitable[None]], **extra: Any) -> Harness:
    harness = Harness(**extra)

    async def main() -> None:
        try:
            await scenario(harness)
        finally:
            if harness.task is not None and not harness.task.done():
                harness.task.cancel()
                await asyncio.gather(harness.task, return_exceptions=True)

    asyncio.run(asyncio.wait_for(main(), 20))
    return harness


# ----------------------------------------------------------------------------- start

def test_start_logs_on_opens_channels_and_subscribes_with_the_session_credential():
    async def scenario(h: Harness) -> None:
        await h.start()
        await h.stop()

    h = run(scenario)
    receiver = h.broker.receivers[0]
    assert (receiver.userid, receiver.password) == ("sid-1", "cred-1")
    assert receiver.topics == sorted(["obj.1", "job.1", "os.1.p1", "os.1.p2"])
    names = [c for c, _a in h.hmc.calls]
    assert names[0] == "logon" and "get_notification_topics" in names[1:3]
    assert sorted(a[0] for a in h.calls("open_os_message_channel")) == [
        partition_uri("PART1"), partition_uri("PART2")]
    assert states(h.queue.events) == ["connected"]
    # stopping: receiver closed, our own session logged off
    assert receiver.closed and h.calls("logoff")


def test_events_flow_one_dict_per_put_and_os_messages_are_deduplicated():
    async def scenario(h: Harness) -> None:
        await h.start()
        for seq in (1, 2, 2, 3):  # 2 again: a refresh replay
            h.broker.publish_os_message(h.hmc, "PART1", seq, "message %d" % seq)
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1, 2, 3])
        await h.stop()

    h = run(scenario)
    assert os_seqs(h.queue.events) == [1, 2, 3]


# ----------------------------------------------------------------------------- recovery

def test_broker_loss_reconnects_with_the_same_topics_and_backfills_what_was_missed():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.publish_os_message(h.hmc, "PART1", 1, "before")
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1])
        first = h.broker.live
        h.broker.down = True
        first.lose()
        h.hmc.add_os_message(partition_uri("PART1"), 2, "while down")
        await asyncio.sleep(0.05)  # recovery attempts fail meanwhile
        h.broker.down = False
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1, 2])
        h.broker.publish_os_message(h.hmc, "PART1", 2, "replayed")  # already backfilled
        h.broker.publish_os_message(h.hmc, "PART1", 3, "after")
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1, 2, 3])
        await h.stop()

    h = run(scenario)
    first, last = h.broker.receivers[0], h.broker.receivers[-1]
    assert first.closed and last.topics == first.topics[:len(last.topics)] == sorted(first.topics)
    assert len(h.broker.receivers) >= 3, "attempts while the broker was down"
    assert h.calls("list_os_messages") == [(partition_uri("PART1"), 2)]
    assert h.hmc.sessions == 1, "a broker loss needs no new session"
    assert states(h.queue.events) == ["connected", "disconnected", "reconnected"]
    backfilled = [e for e in h.queue.events if e["hmc"].get("origin") == "backfill"]
    assert [e["hmc"]["os_message"]["sequence_number"] for e in backfilled] == [2]
    backoff = [s for s in h.clock.sleeps if s < h.clock.gate]  # not keep-alive, not resync
    assert backoff and max(backoff) < 100, "back-off sleeps"


def test_session_expired_relogon_reopens_channels_and_reconnects_with_new_credentials():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.publish_os_message(h.hmc, "PART2", 7, "before")
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [7])
        h.hmc.expire()          # the HMC forgets the session and its topics
        h.clock.open_gate(3600)  # the keep-alive     # the keep-alive runs: the client logs on again by itself
        await h.queue.wait_for(lambda ev: "reconnected" in states(ev))
        h.broker.publish_os_message(h.hmc, "PART2", 8, "after")
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [7, 8])
        await h.stop()

    h = run(scenario)
    assert h.hmc.sessions == 2
    last = h.broker.live if not h.broker.receivers[-1].closed else h.broker.receivers[-1]
    assert (last.userid, last.password) == ("sid-2", "cred-2")
    assert sorted(last.topics) == sorted(["obj.2", "job.2", "os.2.p1", "os.2.p2"])
    assert states(h.queue.events) == ["connected", "disconnected", "relogon", "reconnected"]
    assert len(h.calls("open_os_message_channel")) == 4, "both channels opened again"


def test_session_expired_while_disconnected_is_renewed_once_the_hmc_answers():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.hmc.down = True
        h.broker.down = True
        h.hmc.expire()
        h.broker.live.lose()
        await asyncio.sleep(0.05)
        h.hmc.down = False
        h.broker.down = False
        await h.queue.wait_for(lambda ev: "reconnected" in states(ev))
        await h.stop()

    h = run(scenario)
    assert h.hmc.sessions == 2
    assert states(h.queue.events) == ["connected", "disconnected", "relogon", "reconnected"]
    last = h.broker.receivers[-1]
    assert (last.userid, last.password) == ("sid-2", "cred-2")


def test_unknown_topic_error_for_an_own_topic_logs_on_again():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.hmc.expire()
        h.broker.error_frame("remote addConsumer failed because the specified destination, "
                             "'topic://os.1.p1', is not a known or approved topic.")
        await h.queue.wait_for(lambda ev: "reconnected" in states(ev))
        await h.stop()

    h = run(scenario)
    assert h.calls("logon") and h.hmc.sessions == 2
    assert "os.2.p1" in h.broker.receivers[-1].topics


def test_unknown_user_topic_is_dropped_with_an_error_event():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.error_frame("remote addConsumer failed because the specified destination, "
                             "'topic://nosuch', is not a known or approved topic.")
        await h.queue.wait_for(lambda ev: "reconnected" in states(ev))
        await h.stop()

    h = run(scenario, topics=["nosuch"])
    assert "nosuch" in h.broker.receivers[0].topics
    assert "nosuch" not in h.broker.receivers[-1].topics
    errors = [e["hmc"]["status"] for e in h.queue.events
              if e["hmc"].get("status", {}).get("state") == "error"]
    assert errors == [{"state": "error", "reason": "unknown topic", "topic": "nosuch"}]
    assert h.hmc.sessions == 1


def test_a_given_session_that_expires_ends_the_source_with_a_clear_error():
    async def scenario(h: Harness) -> None:
        h.hmc._new_session()  # the caller's session
        h.hmc.can_relogon = False
        await h.start()
        h.hmc.expire()
        h.clock.open_gate(3600)  # the keep-alive
        assert h.task is not None
        with pytest.raises(SourceAuthError, match="cannot be renewed without hmc_auth.password"):
            await h.task

    h = run(scenario, hmc_auth={"session_id": "sid-1", "session_credential": "cred-1"})
    assert not h.calls("logon")


# ----------------------------------------------------------------------------- control

def test_control_request_during_recovery_is_subscribed_by_the_reconnect():
    async def scenario(h: Harness) -> None:
        await h.start()
        h.broker.down = True
        h.broker.live.lose()
        await asyncio.sleep(0.02)
        answer = await h.source.commands.subscribe("extra", False, Deadline.within(25))
        assert answer["changed"] is True
        h.broker.down = False
        await h.queue.wait_for(lambda ev: "reconnected" in states(ev))
        await h.stop()

    h = run(scenario)
    assert "extra" in h.broker.receivers[-1].topics


def test_control_open_channel_that_cannot_finish_in_time_changes_nothing():
    async def scenario(h: Harness) -> None:
        await h.start()
        before = h.source.watch.public_list()
        from ansible_collections.zhmc.eda.plugins.module_utils.control_protocol import ControlBusy
        with pytest.raises(ControlBusy):
            # 5 s left: less than the time kept back for the change itself
            await h.source.commands.subscribe("late", False, Deadline.within(5))
        assert h.source.watch.public_list() == before
        await h.stop()

    h = run(scenario)
    assert all("late" not in r.topics for r in h.broker.receivers)


# ----------------------------------------------------------------------------- job status

def test_a_hanging_job_lookup_does_not_hold_up_other_events():
    async def scenario(h: Harness) -> None:
        gate = threading.Event()
        h.hmc.job_gate = gate
        await h.start()
        h.broker.publish("job.1", {"notification-type": "job-completion",
                                   "job-uri": "/api/jobs/j1"}, None)
        h.broker.publish_os_message(h.hmc, "PART1", 1, "after the job")
        await h.queue.wait_for(lambda ev: os_seqs(ev) == [1])
        assert not [e for e in h.queue.events if e["hmc"].get("job")]
        gate.set()
        await h.queue.wait_for(lambda ev: [e for e in ev if e["hmc"].get("job")])
        await h.stop()

    h = run(scenario)
    job = [e["hmc"]["job"] for e in h.queue.events if e["hmc"].get("job")][0]
    assert job["status"] == "complete" and job["job_status_code"] == 204


# ----------------------------------------------------------------------------- cancellation

@pytest.mark.parametrize("stage", ["logon", "backoff", "put", "idle", "connect"])
def test_cancellation_wins_at_every_stage_and_cleans_up(stage):
    async def scenario(h: Harness) -> None:
        gate = threading.Event()
        if stage == "logon":
            h.hmc.logon = lambda: gate.wait(30)  # type: ignore[assignment]
            h.task = asyncio.ensure_future(h.source.run())
            await asyncio.sleep(0.05)
        else:
            await h.start()
        if stage == "backoff":
            h.broker.down = True
            h.broker.live.lose()
            await asyncio.sleep(0.05)
        elif stage == "put":
            h.queue.blocked = asyncio.Event()
            h.broker.publish_os_message(h.hmc, "PART1", 1, "stuck in put")
            await asyncio.sleep(0.05)
        elif stage == "connect":
            original = h.broker.__call__

            def hanging(*args: Any, **kwargs: Any) -> Any:
                receiver = original(*args, **kwargs)
                receiver.connect = lambda: gate.wait(30)  # type: ignore[assignment]
                return receiver

            h.source.stream._factory = hanging  # type: ignore[assignment]
            h.broker.live.lose()
            await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await h.stop()
        gate.set()
        assert loop.time() - started < 2.5

    h = run(scenario)
    assert all(r.closed for r in h.broker.receivers if r.connected)


def test_an_activation_started_during_an_hmc_outage_waits_for_it():
    """connect_retries -1: the start is retried until the HMC answers, with status events."""
    async def scenario(h: Harness) -> None:
        h.hmc.down = True
        h.task = asyncio.ensure_future(h.source.run())
        await h.queue.wait_for(lambda ev: states(ev).count("waiting") >= 3)
        h.hmc.down = False
        await h.queue.wait_for(lambda ev: "connected" in states(ev))
        await h.stop()

    h = run(scenario, stomp_retry_timeout_config={"connect_retries": -1})
    waiting = [e["hmc"]["status"] for e in h.queue.events
               if e["hmc"].get("status", {}).get("state") == "waiting"]
    assert waiting[0]["step"] == "log on to the HMC Web Services API"
    assert [w["attempt"] for w in waiting[:3]] == [1, 2, 3]
    assert "connection refused" in waiting[0]["reason"]


def test_a_wrong_password_at_start_fails_at_once_even_when_waiting_for_the_hmc():
    from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCAuthError

    async def scenario(h: Harness) -> None:
        def refuse(avoid: Any = None) -> None:
            raise HMCAuthError(403, 0, "logon failed", "POST", "/api/sessions")

        h.hmc.logon = refuse  # type: ignore[assignment]
        with pytest.raises(HMCAuthError):
            await h.source.run()

    h = run(scenario, stomp_retry_timeout_config={"connect_retries": -1})
    assert "waiting" not in states(h.queue.events)
