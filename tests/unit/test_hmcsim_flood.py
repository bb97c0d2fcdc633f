"""hmcsim's flood (one notification as fast as a subscriber takes it) and its frame observer."""
import time

from tests.support.fixtures_hmcsim import RawStomp
from tests.unit.test_hmcsim_faults import raw_subscribed, wait_for


def _messages(raw, seconds):
    """MESSAGE frames read for `seconds` (or until none comes for 0.5 s)."""
    frames = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frame = raw.next_frame(timeout=0.5)
        except OSError:
            break
        if frame is None:
            break
        frames.append(frame)
    return [f for f in frames if f.command == "MESSAGE"]


def test_flood_goes_as_fast_as_the_subscriber_reads_and_loses_nothing(fresh_hmcsim):
    sim = fresh_hmcsim
    topic = sim.info["audit_topic"]
    raw = raw_subscribed(sim, topic)
    try:
        sim.flood(topic, {"notification-type": "log-entry", "x-test": "flood"}, '{"n": 1}')
        first = _messages(raw, 0.5)
        # the subscriber stops reading: once the socket buffers are full, the flood waits
        counts = [sim.flooded()]
        while len(counts) < 4 or counts[-1] != counts[-4]:
            assert len(counts) < 100, "the flood did not stop growing: %s" % counts[-5:]
            time.sleep(0.1)
            counts.append(sim.flooded())
        sent = sim.stop_flood()
        received = first + _messages(raw, 10)
        assert len(first) > 1000, "only %d notifications in 0.5 s" % len(first)
        assert len(received) == sent   # every one sent arrived, none was dropped
        assert {f.headers["x-test"] for f in received} == {"flood"}
        assert {f.body for f in received} == {b'{"n": 1}'}
        assert len({f.headers["message-id"] for f in received}) == len(received)
        assert sim.stop_flood() == sent                # stopping again changes nothing
    finally:
        raw.close()


def test_frame_observer_sees_what_clients_send_without_the_passcode(fresh_hmcsim):
    sim = fresh_hmcsim
    seen = []
    sim.add_frame_observer(lambda number, command, headers: seen.append((number, command, headers)))
    topic = sim.info["audit_topic"]
    raw = RawStomp(sim)
    try:
        assert raw.connect(sim.userid, sim.password).command == "CONNECTED"
        raw.send("SUBSCRIBE", {"id": "7", "destination": "/topic/" + topic})
        raw.send("UNSUBSCRIBE", {"id": "7"})
        raw.send("DISCONNECT", {"receipt": "bye"})
        assert raw.next_frame().command == "RECEIPT"
        wait_for(lambda: len(seen) == 4, what="four frames observed")
    finally:
        raw.close()
    assert [command for _n, command, _h in seen] == ["CONNECT", "SUBSCRIBE", "UNSUBSCRIBE",
                                                      "DISCONNECT"]
    assert len({number for number, _c, _h in seen}) == 1
    connect_headers = seen[0][2]
    assert connect_headers["login"] == sim.userid and "passcode" not in connect_headers
    assert seen[1][2]["destination"] == "/topic/" + topic and seen[2][2]["id"] == "7"
    assert sim.password not in repr(seen)
