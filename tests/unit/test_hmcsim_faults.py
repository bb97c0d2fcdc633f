"""hmcsim fault injection, the admin endpoint and scenarios, over real sockets."""
import json
import socket
import time

import pytest
import requests

from tests.support.fixtures_hmcsim import RawStomp, ws_logon, ws_url
from tests.unit.test_hmcsim_stomp import stomp_connect


def raw_subscribed(sim, topic, login=None, passcode=None, heart_beat="0,0"):
    raw = RawStomp(sim)
    frame = raw.connect(login or sim.userid, passcode or sim.password, heart_beat=heart_beat)
    assert frame.command == "CONNECTED"
    raw.send("SUBSCRIBE", {"id": "1", "destination": "/topic/" + topic, "receipt": "sub"})
    frame = raw.next_frame()
    assert frame.command == "RECEIPT", (frame.command, frame.headers)
    return raw


def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("%s not reached within %.1f s" % (what, timeout))


def admin(sim, method, **kwargs):
    return requests.post("http://127.0.0.1:%d/%s" % (sim.admin_port, method), json=kwargs, timeout=10)


def test_drop_stomp_connections(fresh_hmcsim):
    sim = fresh_hmcsim
    raw = raw_subscribed(sim, sim.info["audit_topic"])
    conn, listener = stomp_connect(sim, sim.userid, sim.password, heartbeats=(1000, 1000))
    try:
        wait_for(lambda: sim.stomp_connection_count() == 2, what="two connections")
        assert sim.drop_stomp_connections() == 2
        assert raw.wait_closed() == []          # no frame, just a closed socket
        listener.disconnected.get(timeout=6)
        assert sim.stomp_connection_count() == 0
        # The endpoint still accepts new connections.
        raw2 = raw_subscribed(sim, sim.info["audit_topic"])
        raw2.close()
    finally:
        raw.close()
        conn.disconnect()


def test_stall_heartbeats_keeps_socket_open_and_silent(fresh_hmcsim):
    sim = fresh_hmcsim
    raw = raw_subscribed(sim, sim.info["audit_topic"], heart_beat="0,1000")
    try:
        with pytest.raises(OSError):
            raw.next_frame(timeout=1.5)
        assert raw.heartbeats >= 1
        sim.stall_heartbeats(True)
        time.sleep(0.2)               # a heart-beat in flight may still land
        raw.heartbeats = 0
        ws_logon(sim)                 # publishes log-entries, held back while stalled
        with pytest.raises(OSError):
            raw.next_frame(timeout=2.5)
        assert raw.heartbeats == 0 and not raw.closed
        assert sim.stomp_connection_count() == 1
        sim.stall_heartbeats(False)
        frame = raw.next_frame(timeout=3)
        assert frame.command == "MESSAGE" and frame.headers["notification-type"] == "log-entry"
    finally:
        raw.close()


def test_stall_is_detected_by_stomppy_heartbeats(fresh_hmcsim):
    sim = fresh_hmcsim
    conn, listener = stomp_connect(sim, sim.userid, sim.password, heartbeats=(1000, 1000))
    try:
        sim.stall_heartbeats(True)
        start = time.monotonic()
        listener.disconnected.get(timeout=8)
        assert time.monotonic() - start < 8
    finally:
        sim.stall_heartbeats(False)
        conn.disconnect()


def test_expire_session(fresh_hmcsim):
    sim = fresh_hmcsim
    session, logon = ws_logon(sim)
    other, other_logon = ws_logon(sim)
    uri = sim.uri("CPC1", "PART1")
    osm_topic = session.post(ws_url(sim, uri + "/operations/open-os-message-channel"), timeout=10).json()[
        "topic-name"]
    raw = raw_subscribed(sim, logon["notification-topic"], logon["api-session"], logon["session-credential"])
    other_raw = raw_subscribed(sim, other_logon["notification-topic"])
    try:
        assert sim.expire_session(logon["api-session"]) == 1
        resp = session.get(ws_url(sim, "/api/cpcs"), timeout=10)
        assert resp.status_code == 403 and resp.json()["reason"] == 5
        assert other.get(ws_url(sim, "/api/cpcs"), timeout=10).status_code == 200
        assert logon["api-session"] not in sim.session_ids()
        # The old session's topics are gone: no more messages, and subscribing fails.
        sim.set_status("CPC1", "PART1", "degraded")
        frame = other_raw.next_frame()
        assert frame.headers["notification-type"] == "status-change"
        with pytest.raises(OSError):
            raw.next_frame(timeout=0.4)
        for topic in (logon["notification-topic"], logon["job-notification-topic"], osm_topic):
            probe = RawStomp(sim)
            probe.connect(sim.userid, sim.password)
            probe.send("SUBSCRIBE", {"id": "1", "destination": "/topic/" + topic})
            frame = probe.next_frame()
            assert frame.command == "ERROR" and "'topic://%s'" % topic in frame.headers["message"]
            probe.close()
        # Its credentials no longer log in to STOMP.
        probe = RawStomp(sim)
        assert probe.connect(logon["api-session"], logon["session-credential"]).command == "ERROR"
        probe.close()
        assert sim.expire_session() == 1      # all remaining sessions
        assert other.get(ws_url(sim, "/api/cpcs"), timeout=10).json()["reason"] == 5
    finally:
        raw.close()
        other_raw.close()


def test_restart_invalidates_everything_but_os_message_buffer(fresh_hmcsim):
    sim = fresh_hmcsim
    session, logon = ws_logon(sim)
    uri = sim.uri("CPC2", "LPAR1")
    old_topic = session.post(ws_url(sim, uri + "/operations/open-os-message-channel"), timeout=10).json()[
        "topic-name"]
    seqs = sim.emit_os_messages("CPC2", "LPAR1", ["before restart\n"])
    raw = raw_subscribed(sim, logon["notification-topic"])
    try:
        sim.restart()
        # The HMC announces the restart on the object topics before the connections drop.
        notice = raw.wait_closed()
        assert [f.headers["notification-type"] for f in notice] == ["console-shutting-down"]
        assert notice[0].headers["object-uri"] == "/api/console" and notice[0].headers["class"] == "console"
        assert json.loads(notice[0].body) == {"console-type": "hmc", "invoker": "user", "reason": "firmware-update",
                                              "shutdown-type": "restart", "component": "firmware-management"}
        assert sim.session_ids() == [] and sim.open_channels() == []
        assert session.get(ws_url(sim, "/api/cpcs"), timeout=10).json()["reason"] == 5
        new_session, new_logon = ws_logon(sim)
        assert new_logon["notification-topic"] != logon["notification-topic"]
        # The buffer survived; numbering continues, so backfill by sequence number works.
        listed = new_session.get(ws_url(sim, uri + "/operations/list-os-messages"),
                                 params={"begin-sequence-number": seqs[0]}, timeout=10).json()["os-messages"]
        assert [m["message-text"] for m in listed] == ["before restart\n"]
        assert sim.emit_os_messages("CPC2", "LPAR1", ["after\n"]) == [seqs[0] + 1]
        new_topic = new_session.post(ws_url(sim, uri + "/operations/open-os-message-channel"),
                                     timeout=10).json()["topic-name"]
        assert new_topic != old_topic
        probe = RawStomp(sim)
        probe.connect(sim.userid, sim.password)
        probe.send("SUBSCRIBE", {"id": "1", "destination": "/topic/" + old_topic})
        assert probe.next_frame().command == "ERROR"
        probe.close()
        # HMC-wide topics keep their names.
        raw_subscribed(sim, sim.info["audit_topic"]).close()
    finally:
        raw.close()


@pytest.mark.parametrize("body, expected", [("{not json", b"{not json"), (None, b""), ("", b"")])
def test_publish_raw_malformed_and_empty_bodies(hmcsim, body, expected):
    _, logon = ws_logon(hmcsim)
    raw = raw_subscribed(hmcsim, logon["notification-topic"])
    try:
        hmcsim.publish_raw(logon["notification-topic"], {"notification-type": "property-change"}, body)
        frame = raw.next_frame()
        assert frame.command == "MESSAGE" and frame.body == expected
        assert frame.headers["notification-type"] == "property-change"
    finally:
        raw.close()


def test_send_error_frame(fresh_hmcsim):
    sim = fresh_hmcsim
    raw = raw_subscribed(sim, sim.info["audit_topic"])
    try:
        assert sim.send_error_frame("broker is going down") == 1
        frame = raw.next_frame()
        assert frame.command == "ERROR" and frame.headers["message"] == "broker is going down"
        assert raw.wait_closed() == []
    finally:
        raw.close()


def test_delivery_delay(fresh_hmcsim):
    sim = fresh_hmcsim
    raw = raw_subscribed(sim, sim.info["audit_topic"])
    try:
        sim.set_delivery_delay(0.6)
        start = time.monotonic()
        sim.publish_raw(sim.info["audit_topic"], {"notification-type": "log-entry"}, '{"log-entries": []}')
        assert raw.next_frame().command == "MESSAGE"
        assert time.monotonic() - start >= 0.55
        sim.set_delivery_delay(0)
        start = time.monotonic()
        sim.publish_raw(sim.info["audit_topic"], {"notification-type": "log-entry"}, '{"log-entries": []}')
        assert raw.next_frame().command == "MESSAGE"
        assert time.monotonic() - start < 0.5
        with pytest.raises(ValueError, match="seconds"):
            sim.set_delivery_delay(-1)
    finally:
        raw.close()


def test_ws_delay_and_capacity(fresh_hmcsim):
    """A slow HMC (set_ws_delay) and a busy one (set_ws_capacity: 503 with an HTML page)."""
    sim = fresh_hmcsim
    session, _ = ws_logon(sim)
    sim.set_ws_delay(0.3)
    start = time.monotonic()
    assert session.get(ws_url(sim, "/api/version"), timeout=10).status_code == 200
    assert time.monotonic() - start >= 0.25
    sim.set_ws_capacity(0)  # every request is one too many
    before = sim.ws_stats()
    resp = session.post(ws_url(sim, "/api/cpcs"), json={"a": 1}, timeout=10)
    assert resp.status_code == 503 and resp.headers["Content-Type"].startswith("text/html")
    assert "busy" in resp.text
    sim.set_ws_delay(0)
    sim.set_ws_capacity(None)
    # the same keep-alive connection still works (the refused request's body was read)
    assert session.get(ws_url(sim, "/api/version"), timeout=10).status_code == 200
    after = sim.ws_stats()
    assert after["requests"] - before["requests"] == 2 and after["busy"] - before["busy"] == 1
    assert after["most_in_flight"] >= 1
    with pytest.raises(ValueError, match="requests"):
        sim.set_ws_capacity(-1)
    with pytest.raises(ValueError, match="seconds"):
        sim.set_ws_delay(-1)


def test_refuse_stomp(fresh_hmcsim):
    sim = fresh_hmcsim
    raw = raw_subscribed(sim, sim.info["audit_topic"])
    try:
        sim.refuse_stomp(1.0)
        assert raw.wait_closed() == []
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", sim.stomp_port), timeout=2).close()
        deadline = time.monotonic() + 5
        while True:
            try:
                raw_subscribed(sim, sim.info["audit_topic"]).close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "STOMP port still refuses after the window"
                time.sleep(0.1)
    finally:
        raw.close()


def test_admin_endpoint(fresh_hmcsim):
    sim = fresh_hmcsim
    session, logon = ws_logon(sim)
    uri = sim.uri("CPC1", "PART2")
    session.post(ws_url(sim, uri + "/operations/open-os-message-channel"),
                 json={"include-refresh-messages": False}, timeout=10)
    info = requests.get("http://127.0.0.1:%d/info" % sim.admin_port, timeout=10).json()["result"]
    assert info["ws_port"] == sim.ws_port and info["stomp_port"] == sim.stomp_port
    resp = admin(sim, "emit_os_messages", cpc="CPC1", name="PART2",
                 messages=[{"message-text": "held\n", "is-held": True}])
    assert resp.status_code == 200 and len(resp.json()["result"]) == 1
    channels = admin(sim, "open_channels").json()["result"]
    assert [c["name"] for c in channels] == ["PART2"]
    assert admin(sim, "session_ids").json()["result"] == [logon["api-session"]]
    assert admin(sim, "set_status", cpc="CPC1", name="PART2", status="paused").status_code == 200
    assert session.get(ws_url(sim, uri), timeout=10).json()["status"] == "paused"
    bad = admin(sim, "set_status", cpc="CPC1", name="PART2", status="flying")
    assert bad.status_code == 400 and "status must be one of" in bad.json()["error"]
    assert admin(sim, "set_status", cpc="NOPE", name="X", status="active").status_code == 400
    assert admin(sim, "emit_os_messages", cpc="CPC1").status_code == 400        # missing arguments
    assert admin(sim, "stop").status_code == 404                                # not exposed
    assert admin(sim, "expire_session").json()["result"] == 1
    assert session.get(ws_url(sim, "/api/cpcs"), timeout=10).json()["reason"] == 5
    assert sim.admin.httpd.server_address[0] == "127.0.0.1"


def test_scenario_file(fresh_hmcsim, tmp_path):
    sim = fresh_hmcsim
    _, logon = ws_logon(sim)
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "steps:\n"
        "  - set_status: {cpc: CPC1, name: PART1, status: degraded}\n"
        "  - wait: 0.3\n"
        "    publish_raw: {topic_name: %s, headers: {notification-type: x}, body: 'oops'}\n"
        "  - at: 0.5\n"
        "    set_status: {cpc: CPC1, name: PART1, status: active}\n" % logon["notification-topic"])
    raw = raw_subscribed(sim, logon["notification-topic"])
    try:
        start = time.monotonic()
        assert admin(sim, "run_scenario", path_or_steps=str(path), background=True).status_code == 200
        seen = []
        while len(seen) < 3:
            frame = raw.next_frame()
            seen.append((frame.headers["notification-type"], round(time.monotonic() - start, 1)))
        assert [s[0] for s in seen] == ["status-change", "x", "status-change"]
        assert seen[1][1] >= 0.25 and seen[2][1] >= 0.45
    finally:
        raw.close()
    bad = admin(sim, "run_scenario", path_or_steps=[{"fly": {}}])
    assert bad.status_code == 400 and "unknown action 'fly'" in bad.json()["error"]
    with pytest.raises(ValueError, match="step 1"):
        sim.run_scenario([{"set_status": {"cpc": "CPC1", "name": "PART1", "status": "nope"}}])


def test_message_id_is_one_per_publication(hmcsim):
    _, logon = ws_logon(hmcsim)
    first = raw_subscribed(hmcsim, logon["notification-topic"])
    second = raw_subscribed(hmcsim, logon["notification-topic"])
    try:
        hmcsim.emit_inventory_change("CPC1", "PART1")
        hmcsim.emit_inventory_change("CPC1", "PART2")
        ids = [[raw.next_frame().headers["message-id"] for _ in range(2)] for raw in (first, second)]
        assert ids[0] == ids[1] and ids[0][0] != ids[0][1]
        assert all(i.startswith("ID:") for i in ids[0])
    finally:
        first.close()
        second.close()


def test_life_cycle_admin_methods(fresh_hmcsim):
    sim = fresh_hmcsim
    session, logon = ws_logon(sim)
    raw = raw_subscribed(sim, logon["notification-topic"])
    try:
        uri = admin(sim, "add_partition", cpc="CPC1", name="PART9", status="active").json()["result"]
        frame = raw.next_frame()
        assert (frame.headers["notification-type"], frame.headers["action"], frame.headers["object-uri"]) == (
            "inventory-change", "add", uri)
        assert frame.body == b"" and frame.headers["name"] == "PART9" and frame.headers["class"] == "partition"
        assert sim.uri("CPC1", "PART9") == uri and "PART9" in json.dumps(sim.info)
        topic = session.post(ws_url(sim, uri + "/operations/open-os-message-channel"), timeout=10).json()[
            "topic-name"]
        assert [c["name"] for c in sim.open_channels()] == ["PART9"]
        sim.delete_partition("CPC1", "PART9")
        frame = raw.next_frame()
        assert (frame.headers["action"], frame.headers["object-uri"]) == ("remove", uri)
        assert sim.open_channels() == [] and not sim.hmc.topic_known(topic)
        assert session.get(ws_url(sim, uri), timeout=10).status_code == 404
        # Created again under the same name it is a new object with a new URI.
        assert sim.add_partition("CPC1", "PART9") != uri
        raw.next_frame()
        lpar = sim.add_lpar("CPC2", "LPAR9", os_type="z/OS")
        assert session.get(ws_url(sim, lpar), timeout=10).json()["status"] == "not-activated"
        raw.next_frame()
        sim.set_status("CPC2", "LPAR9", "operating")
        assert raw.next_frame().headers["notification-type"] == "status-change"
        with pytest.raises(ValueError, match="add_partition"):
            sim.add_lpar("CPC1", "X")
        with pytest.raises(ValueError, match="duplicate"):
            sim.add_lpar("CPC2", "LPAR9")
        assert admin(sim, "add_partition", cpc="CPC1", name="P", status="on").status_code == 400
        sim.run_scenario([{"delete_lpar": {"cpc": "CPC2", "name": "LPAR9"}}])
        assert raw.next_frame().headers["action"] == "remove"
    finally:
        raw.close()


def test_factory_with_config_and_no_heartbeats(hmcsim_factory):
    sim = hmcsim_factory(heartbeat_ms=0, config={"cpcs": [{"name": "Z", "dpm": True, "partitions": [{"name": "P"}]}]})
    raw = RawStomp(sim)
    try:
        frame = raw.connect(sim.userid, sim.password, heart_beat="1000,1000")
        assert frame.headers["heart-beat"] == "0,0"
        with pytest.raises(OSError):         # no heart-beats either way, and no drop
            raw.next_frame(timeout=2.2)
        assert raw.heartbeats == 0 and not raw.closed
        assert sim.uri("Z", "P").startswith("/api/partitions/")
    finally:
        raw.close()


def test_config_errors_name_the_key(tmp_path):
    from hmcsim import ConfigError, HmcSim

    with pytest.raises(ConfigError, match=r"cpcs\[0\]\.dpm"):
        HmcSim(str(tmp_path), config={"cpcs": [{"name": "X"}]})
    with pytest.raises(ConfigError, match=r"cpcs\[0\]\.partitions\[0\]\.status"):
        HmcSim(str(tmp_path), config={"cpcs": [{"name": "X", "dpm": True,
                                                "partitions": [{"name": "P", "status": "on"}]}]})
    sim = HmcSim(str(tmp_path), config={"users": [{"userid": "ops", "password": "s3cret-test"}],
                                        "cpcs": [{"name": "Z", "dpm": False, "lpars": [{"name": "L"}]}]})
    with sim:
        session, logon = ws_logon(sim)
        assert sim.userid == "ops"
        assert json.loads(open(tmp_path / "hmcsim.json").read())["cpcs"][0]["lpars"][0]["name"] == "L"


def test_restart_with_downtime(fresh_hmcsim):
    sim = fresh_hmcsim
    session, _ = ws_logon(sim)
    sim.restart(down_seconds=1.0)
    resp = session.get(ws_url(sim, "/api/version"), timeout=10)
    assert resp.status_code == 503 and resp.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.stomp_port), timeout=2).close()
    wait_for(lambda: session.get(ws_url(sim, "/api/version"), timeout=10).status_code == 200, what="WS API back")
    assert session.get(ws_url(sim, "/api/cpcs"), timeout=10).json()["reason"] == 5
    new_session, logon = ws_logon(sim)
    deadline = time.monotonic() + 5
    while True:
        try:
            raw = raw_subscribed(sim, logon["notification-topic"], logon["api-session"], logon["session-credential"])
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "STOMP port still refuses"
            time.sleep(0.1)
    raw.close()
