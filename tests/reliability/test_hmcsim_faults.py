"""The source against hmcsim's faults: stalled heart-beats, expired session, HMC restart,
ERROR frame for an expired topic, STOMP port refusing connections.

The source runs in-process (harness.InProcessSource: ansible-rulebook's queue of size 1)
with 1 s heart-beats and fast reconnects. OS messages are emitted before, during and after
each fault; after recovery every one of them must have been emitted exactly once (live,
refresh or backfill), and the source must still be running.
"""
import time

import pytest

from tests.reliability import harness

CPC, PART = "CPC1", "PART1"
RECOVERY_TIMEOUT = 30.0


def _start(sources, sim, **extra):
    recorder = sources.record_hmcsim(sim)
    source = sources.start(harness.hmcsim_args(sim, **extra))
    source.wait_status("connected", 60)
    return source, recorder


def _emit(sim, label, count):
    return sim.emit_os_messages(CPC, PART, ["%s %d" % (label, index) for index in range(count)])


def _wait_os_messages(source, sim, sequence_numbers, timeout=RECOVERY_TIMEOUT):
    uri = sim.uri(CPC, PART)
    wanted = set((uri, seq) for seq in sequence_numbers)
    source.wait_for(lambda evs: wanted <= set(harness.os_message_key(e) for e in evs), timeout,
                    what="OS messages %s" % sorted(sequence_numbers))


def _lost_duplicated(source, sim, sequence_numbers):
    """Wait until every emitted OS message arrived, then count what was lost and duplicated."""
    _wait_os_messages(source, sim, sequence_numbers)
    time.sleep(0.5)   # late duplicates (refresh replays, backfill) would arrive now
    uri = sim.uri(CPC, PART)
    seen = [key[1] for key in (harness.os_message_key(e) for e in source.events()) if key and key[0] == uri]
    return harness.lost_and_duplicated(list(sequence_numbers), seen)


def _loss_bound():
    config = harness.FAST_RETRY_CONFIG
    return config["heartbeat_receive_cycle"] * (1 + config["heartbeat_receive_check"]) + 1.0


def test_stalled_heartbeats_detected_and_recovered(fresh_hmcsim, sources):
    sim = fresh_hmcsim
    source, _ = _start(sources, sim)
    before = _emit(sim, "before stall", 3)
    _wait_os_messages(source, sim, before)
    mark = source.mark()
    stalled_at = time.monotonic()
    sim.stall_heartbeats(True)
    during = _emit(sim, "during stall", 3)
    _, detected_at = source.wait_status("disconnected", 30, start=mark)
    sim.stall_heartbeats(False)
    unstalled_at = time.monotonic()
    _, reconnected_at = source.wait_status("reconnected", RECOVERY_TIMEOUT, start=mark)
    after = _emit(sim, "after stall", 3)
    lost, duplicated = _lost_duplicated(source, sim, before + during + after)
    detection = detected_at - stalled_at
    harness.report("heartbeat_stall", detection_s=detection, bound_s=_loss_bound(),
                   recovery_s=reconnected_at - unstalled_at, lost=len(lost), duplicated=len(duplicated))
    source.assert_running()
    assert detection <= _loss_bound(), "silent loss detected after %.2f s, bound %.1f s" % (
        detection, _loss_bound())
    assert not lost and not duplicated, (lost, duplicated)


def test_session_expired_is_noticed_and_renewed(fresh_hmcsim, sources):
    sim = fresh_hmcsim
    # the keep-alive request is what notices an expired session on a quiet stream (every
    # 300 s by default); 1 s here so the test does not wait five minutes
    source, recorder = _start(sources, sim, keepalive_interval=1)
    before = _emit(sim, "before expiry", 2)
    _wait_os_messages(source, sim, before)
    mark = source.mark()
    expired_at = time.monotonic()
    sim.expire_session()
    gap = _emit(sim, "while expired", 3)      # the channel topic is gone: only backfill can bring them
    _, relogon_at = source.wait_status("relogon", RECOVERY_TIMEOUT, start=mark)
    source.wait_status("reconnected", RECOVERY_TIMEOUT, start=mark)
    after = _emit(sim, "after renewal", 2)
    lost, duplicated = _lost_duplicated(source, sim, before + gap + after)
    harness.report("session_expired", recovery_s=relogon_at - expired_at, sessions=len(recorder.sessions),
                   lost=len(lost), duplicated=len(duplicated))
    source.assert_running()
    assert len(recorder.sessions) >= 2, "no new session was logged on"
    assert any(channel["name"] == PART for channel in sim.open_channels()), "channel not re-opened"
    assert not lost and not duplicated, (lost, duplicated)


def test_session_expired_while_disconnected(fresh_hmcsim, sources):
    sim = fresh_hmcsim
    source, recorder = _start(sources, sim)
    before = _emit(sim, "before", 2)
    _wait_os_messages(source, sim, before)
    mark = source.mark()
    started = time.monotonic()
    sim.expire_session()
    sim.drop_stomp_connections()
    gap = _emit(sim, "gap", 3)
    _, reconnected_at = source.wait_status("reconnected", RECOVERY_TIMEOUT, start=mark)
    after = _emit(sim, "after", 2)
    lost, duplicated = _lost_duplicated(source, sim, before + gap + after)
    harness.report("session_expired_while_disconnected", recovery_s=reconnected_at - started,
                   sessions=len(recorder.sessions), lost=len(lost), duplicated=len(duplicated))
    source.assert_running()
    assert len(recorder.sessions) >= 2
    assert not lost and not duplicated, (lost, duplicated)


def test_hmc_restart_relogon_reopen_and_backfill(fresh_hmcsim, sources):
    sim = fresh_hmcsim
    source, recorder = _start(sources, sim, topic_types=["object", "job"])
    before = _emit(sim, "before restart", 3)
    _wait_os_messages(source, sim, before)
    mark = source.mark()
    restarted_at = time.monotonic()
    sim.restart()
    gap = _emit(sim, "while restarting", 4)
    source.wait_status("relogon", RECOVERY_TIMEOUT, start=mark)
    _, reconnected_at = source.wait_status("reconnected", RECOVERY_TIMEOUT, start=mark)
    after = _emit(sim, "after restart", 3)
    lost, duplicated = _lost_duplicated(source, sim, before + gap + after)
    # session topics work again: a status change arrives on the new object topic
    status_mark = source.mark()
    sim.set_status(CPC, "PART2", "stopped")
    source.wait_for(lambda evs: any(harness.hmc_part(e).get("notification_type") == "status-change"
                                    for e in evs), 15, start=status_mark, what="status-change event")
    harness.report("hmc_restart", recovery_s=reconnected_at - restarted_at, sessions=len(recorder.sessions),
                   backfilled=len(gap), lost=len(lost), duplicated=len(duplicated))
    source.assert_running()
    assert len(recorder.sessions) >= 2
    assert any(channel["name"] == PART for channel in sim.open_channels())
    assert not lost and not duplicated, (lost, duplicated)


def test_error_frame_for_an_expired_topic(fresh_hmcsim, sources):
    sim = fresh_hmcsim
    source, recorder = _start(sources, sim)
    before = _emit(sim, "before error", 2)
    _wait_os_messages(source, sim, before)
    topic = [channel["topic-name"] for channel in sim.open_channels() if channel["name"] == PART][0]
    mark = source.mark()
    started = time.monotonic()
    # what ActiveMQ on the HMC sends when a topic no longer exists (hmc-notifications.md 6.4 #5)
    sim.expire_session()
    sim.send_error_frame(
        message="remote addConsumer failed because the specified destination, 'topic://%s', is not a "
                "known or approved topic." % topic,
        body="java.lang.SecurityException: topic://%s is not a known or approved topic" % topic)
    gap = _emit(sim, "after error frame", 2)
    _, reconnected_at = source.wait_status("reconnected", RECOVERY_TIMEOUT, start=mark)
    after = _emit(sim, "after recovery", 2)
    lost, duplicated = _lost_duplicated(source, sim, before + gap + after)
    harness.report("error_frame_expired_topic", recovery_s=reconnected_at - started,
                   sessions=len(recorder.sessions), lost=len(lost), duplicated=len(duplicated))
    source.assert_running()
    assert len(recorder.sessions) >= 2, "the topic is gone: a new session and channel are needed"
    assert not lost and not duplicated, (lost, duplicated)


@pytest.mark.parametrize("refuse_seconds", [3.0])
def test_stomp_port_refusing_connections(fresh_hmcsim, sources, refuse_seconds):
    sim = fresh_hmcsim
    source, _ = _start(sources, sim)
    before = _emit(sim, "before refusal", 2)
    _wait_os_messages(source, sim, before)
    mark = source.mark()
    refused_at = time.monotonic()
    sim.refuse_stomp(refuse_seconds)
    during = _emit(sim, "during refusal", 3)
    _, reconnected_at = source.wait_status("reconnected", RECOVERY_TIMEOUT + refuse_seconds, start=mark)
    after = _emit(sim, "after refusal", 2)
    lost, duplicated = _lost_duplicated(source, sim, before + during + after)
    recovery = reconnected_at - (refused_at + refuse_seconds)
    harness.report("stomp_refusing", refused_s=refuse_seconds, recovery_after_refusal_s=recovery,
                   lost=len(lost), duplicated=len(duplicated))
    source.assert_running()
    # capped back-off (max 1 s + jitter) plus a connect: recovered soon after the port is back
    assert recovery <= harness.FAST_RETRY_CONFIG["reconnect_sleep_max"] * 1.1 + 3.0
    assert not lost and not duplicated, (lost, duplicated)
