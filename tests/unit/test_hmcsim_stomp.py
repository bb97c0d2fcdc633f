"""hmcsim STOMP endpoint over real TLS: stomp.py 9 as the client, plus raw frames."""
import json
import queue
import time

import pytest
import stomp

from tests.support.fixtures_hmcsim import RawStomp, ws_logon, ws_url

OBJECT_HEADERS = ("destination", "subscription", "message-id", "timestamp", "notification-type",
                  "session-sequence-nr", "global-sequence-nr", "object-uri", "object-id", "class", "name")


class Collector(stomp.ConnectionListener):
    def __init__(self):
        self.messages = queue.Queue()
        self.errors = queue.Queue()
        self.disconnected = queue.Queue()
        self.receipts = queue.Queue()

    def on_receipt(self, frame):
        self.receipts.put(frame.headers["receipt-id"])

    def on_message(self, frame):
        self.messages.put((frame.headers, frame.body))

    def on_error(self, frame):
        self.errors.put((frame.headers, frame.body))

    def on_disconnected(self):
        self.disconnected.put(True)

    def next(self, timeout=5.0):
        return self.messages.get(timeout=timeout)

    def next_of(self, ntype, timeout=5.0):
        """The next message of one notification type (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            headers, body = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if headers.get("notification-type") == ntype:
                return headers, body

    def assert_quiet(self, seconds=0.5):
        with pytest.raises(queue.Empty):
            self.messages.get(timeout=seconds)


def stomp_connect(sim, login, passcode, version=11, heartbeats=(0, 0)):
    cls = stomp.Connection11 if version == 11 else stomp.Connection12
    conn = cls([("127.0.0.1", sim.stomp_port)], heartbeats=heartbeats, reconnect_attempts_max=1, timeout=5)
    conn.set_ssl(for_hosts=[("127.0.0.1", sim.stomp_port)], ca_certs=sim.ca_file)
    listener = Collector()
    conn.set_listener("collector", listener)
    conn.connect(login, passcode, wait=True)
    return conn, listener


@pytest.fixture
def logged_on(hmcsim):
    """(requests session, logon dict, stomp connection logged in with the session, listener)."""
    session, logon = ws_logon(hmcsim)
    conn, listener = stomp_connect(hmcsim, logon["api-session"], logon["session-credential"])
    yield session, logon, conn, listener
    conn.disconnect()
    session.delete(ws_url(hmcsim, "/api/sessions/this-session"), timeout=10)


def subscribe(conn, topic, sub_id):
    """Subscribe and wait for the server's RECEIPT, so that later notifications reach us."""
    conn.subscribe("/topic/" + topic, id=sub_id, ack="auto", headers={"receipt": "r-" + sub_id})
    listener = conn.get_listener("collector")
    assert listener.receipts.get(timeout=5) == "r-" + sub_id




def test_status_change_and_property_change_headers(hmcsim, logged_on):
    """status, additional-status and has-unacceptable-status are (sc) properties: they come
    only in status-change; a (pc) property such as description comes in property-change."""
    session, logon, conn, listener = logged_on
    subscribe(conn, logon["notification-topic"], "obj")
    hmcsim.set_status("CPC1", "PART2", "degraded", additional_status="cpu-degraded")
    try:
        headers, body = listener.next()
        assert headers["notification-type"] == "status-change"
        for name in OBJECT_HEADERS:
            assert isinstance(headers.get(name), str) and headers[name], name
        assert headers["destination"] == "/topic/" + logon["notification-topic"]
        assert headers["subscription"] == "obj"
        assert headers["class"] == "partition" and headers["name"] == "PART2"
        assert headers["object-uri"] == hmcsim.uri("CPC1", "PART2")
        assert headers["object-uri"].endswith(headers["object-id"])
        int(headers["timestamp"]), int(headers["global-sequence-nr"])
        report = json.loads(body)["change-reports"][0]
        assert report["new-status"] == "degraded" and report["old-status"] == "active"
        assert report["new-additional-status"] == "cpu-degraded" and report["has-unacceptable-status"] is True
        listener.assert_quiet(0.3)                     # no property-change for a status change
        assert hmcsim.set_status("CPC1", "PART2", "degraded") is False    # no change, no notification
        hmcsim.set_property("CPC1", "PART2", "description", "web tier")
        pheaders, pbody = listener.next()
        assert pheaders["notification-type"] == "property-change"
        assert pheaders["property-names"] == " description "
        assert int(pheaders["session-sequence-nr"]) == int(headers["session-sequence-nr"]) + 1
        changes = json.loads(pbody)["change-reports"]
        assert changes == [{"property-name": "description", "old-value": "hmcsim partition PART2",
                            "new-value": "web tier"}]
        with pytest.raises(ValueError, match="status property"):
            hmcsim.set_property("CPC1", "PART2", "status", "stopped")
    finally:
        hmcsim.set_status("CPC1", "PART2", "active", additional_status="")


def test_login_with_userid_password_and_stomp12(hmcsim):
    conn, listener = stomp_connect(hmcsim, hmcsim.userid, hmcsim.password, version=12)
    try:
        subscribe(conn, hmcsim.info["audit_topic"], "audit")
        session, _ = ws_logon(hmcsim)
        headers, body = listener.next_of("log-entry")
        entry = json.loads(body)["log-entries"][0]
        assert entry["userid"] == hmcsim.userid and entry["event-name"]
        assert {"event-time", "event-id", "event-message", "event-data-items"} <= set(entry)
        assert headers["destination"] == "/topic/" + hmcsim.info["audit_topic"]
        session.delete(ws_url(hmcsim, "/api/sessions/this-session"), timeout=10)
        assert "logged off" in json.loads(listener.next_of("log-entry")[1])["log-entries"][0]["event-message"]
    finally:
        conn.disconnect()


def test_security_topic_reports_failed_logon(hmcsim):
    conn, listener = stomp_connect(hmcsim, hmcsim.userid, hmcsim.password)
    try:
        subscribe(conn, hmcsim.info["security_topic"], "sec")
        from tests.support.fixtures_hmcsim import ws_session
        ws_session(hmcsim).post(ws_url(hmcsim, "/api/sessions"),
                                json={"userid": hmcsim.userid, "password": "nope"}, timeout=10)
        entry = json.loads(listener.next_of("log-entry")[1])["log-entries"][0]
        assert entry["event-name"] == "Logon failed" and "nope" not in json.dumps(entry)
    finally:
        conn.disconnect()


@pytest.mark.parametrize("which", ["password", "credential", "unknown-user"])
def test_bad_login_gets_error_frame_and_close(hmcsim, which):
    session, logon = ws_logon(hmcsim)
    login, passcode = {
        "password": (hmcsim.userid, "wrong"),
        "credential": (logon["api-session"], "wrong"),
        "unknown-user": ("nobody", hmcsim.password),
    }[which]
    raw = RawStomp(hmcsim)
    try:
        frame = raw.connect(login, passcode)
        assert frame.command == "ERROR"
        assert frame.headers["message"] == "login failed"
        assert raw.wait_closed() == []
    finally:
        raw.close()


def test_job_completion_goes_to_starting_session_only(fresh_hmcsim):
    sim = fresh_hmcsim
    session_a, logon_a = ws_logon(sim)
    _, logon_b = ws_logon(sim)
    conn, listener = stomp_connect(sim, sim.userid, sim.password)
    try:
        subscribe(conn, logon_a["job-notification-topic"], "job-a")
        subscribe(conn, logon_b["job-notification-topic"], "job-b")
        subscribe(conn, logon_a["notification-topic"], "obj-a")
        uri = sim.uri("CPC1", "PART1")
        job_uri = session_a.post(ws_url(sim, uri + "/operations/stop"), timeout=10).json()["job-uri"]
        statuses = []
        while len(statuses) < 2:
            headers, body = listener.next_of("status-change")
            statuses.append(json.loads(body)["change-reports"][0]["new-status"])
        assert statuses == ["stopping", "stopped"]
        headers, body = listener.next_of("job-completion")
        assert headers["job-uri"] == job_uri and body == ""
        assert headers["subscription"] == "job-a"
        assert headers["destination"] == "/topic/" + logon_a["job-notification-topic"]
        listener.assert_quiet(0.4)   # nothing on B's job topic
    finally:
        conn.disconnect()


def test_os_messages_live_and_refresh_on_subscribe(hmcsim, logged_on):
    session, logon, conn, listener = logged_on
    uri = hmcsim.uri("CPC2", "LPAR1")
    before = hmcsim.emit_os_messages("CPC2", "LPAR1", ["IEA371I SYS1.IPLPARM ON DEVICE 1234\n"])
    topic = session.post(ws_url(hmcsim, uri + "/operations/open-os-message-channel"),
                         json={"include-refresh-messages": True}, timeout=10).json()["topic-name"]
    subscribe(conn, topic, "osm")
    headers, body = listener.next_of("os-message")
    refreshed = json.loads(body)["os-messages"]
    assert all(m["is-refresh"] is True for m in refreshed)
    assert before[0] in [m["sequence-number"] for m in refreshed]
    assert headers["class"] == "logical-partition" and headers["name"] == "LPAR1" and headers["object-uri"] == uri
    seqs = hmcsim.emit_os_messages("CPC2", "LPAR1", [
        "plain\n",
        {"message-text": "*01 IEE800D REPLY\n", "is-held": True, "is-priority": True, "prompt-text": "R 01,"}])
    headers, body = listener.next_of("os-message")
    live = json.loads(body)["os-messages"]
    assert [m["sequence-number"] for m in live] == seqs
    assert live[0]["is-refresh"] is False and live[0]["message-text"] == "plain\n"
    assert live[1]["is-held"] is True and live[1]["is-priority"] is True and live[1]["prompt-text"] == "R 01,"
    for key in ("message-id", "timestamp", "sound-alarm", "os-name"):
        assert key in live[1]


def test_no_refresh_without_include_refresh_messages(hmcsim, logged_on):
    session, logon, conn, listener = logged_on
    hmcsim.emit_os_messages("CPC1", "PART1", ["old message\n"])
    uri = hmcsim.uri("CPC1", "PART1")
    topic = session.post(ws_url(hmcsim, uri + "/operations/open-os-message-channel"),
                         json={"include-refresh-messages": False}, timeout=10).json()["topic-name"]
    subscribe(conn, topic, "osm")
    listener.assert_quiet(0.3)
    hmcsim.emit_os_messages("CPC1", "PART1", ["new message\n"])
    msgs = json.loads(listener.next_of("os-message")[1])["os-messages"]
    assert [m["message-text"] for m in msgs] == ["new message\n"]


def test_send_os_command_echo_arrives_as_os_message(hmcsim, logged_on):
    session, logon, conn, listener = logged_on
    uri = hmcsim.uri("CPC1", "PART2")
    topic = session.post(ws_url(hmcsim, uri + "/operations/open-os-message-channel"),
                         json={"include-refresh-messages": False}, timeout=10).json()["topic-name"]
    subscribe(conn, topic, "osm")
    resp = session.post(ws_url(hmcsim, uri + "/operations/send-os-cmd"),
                        json={"operating-system-command-text": "uname -a"}, timeout=10)
    assert resp.status_code == 204
    msgs = json.loads(listener.next_of("os-message")[1])["os-messages"]
    assert msgs[0]["message-text"] == "uname -a\n"


def test_inventory_change_has_empty_body_and_action(hmcsim, logged_on):
    session, logon, conn, listener = logged_on
    subscribe(conn, logon["notification-topic"], "obj")
    hmcsim.emit_inventory_change("CPC1", "PART3", action="remove")
    headers, body = listener.next_of("inventory-change")
    assert body == "" and headers["action"] == "remove" and headers["name"] == "PART3"


def test_unknown_topic_gets_activemq_error_frame_and_stays_open(hmcsim):
    raw = RawStomp(hmcsim)
    try:
        assert raw.connect(hmcsim.userid, hmcsim.password).command == "CONNECTED"
        raw.send("SUBSCRIBE", {"id": "1", "destination": "/topic/no.such.topic", "ack": "auto", "receipt": "r1"})
        frame = raw.next_frame()
        assert frame.command == "ERROR"
        assert frame.headers["content-type"] == "text/plain"
        assert frame.headers["receipt-id"] == "r1"
        assert frame.headers["message"] == ("  remote addConsumer failed because the specified destination, "
                                            "'topic://no.such.topic', is not a known or approved topic.")
        assert frame.body.decode().startswith("java.lang.SecurityException: remote addConsumer")
        # ActiveMQ keeps the connection: the next SUBSCRIBE (same id, it was never added) works.
        raw.send("SUBSCRIBE", {"id": "1", "destination": "/topic/" + hmcsim.info["audit_topic"], "receipt": "r2"})
        frame = raw.next_frame()
        assert frame.command == "RECEIPT" and frame.headers["receipt-id"] == "r2"
        raw.send("UNSUBSCRIBE", {"id": "nope", "receipt": "r3"})
        frame = raw.next_frame()
        assert frame.command == "ERROR" and frame.headers["receipt-id"] == "r3"
        raw.send("DISCONNECT", {"receipt": "bye"})
        assert raw.next_frame().headers["receipt-id"] == "bye"
    finally:
        raw.close()


def test_stomppy_sees_unknown_topic_error(hmcsim):
    conn, listener = stomp_connect(hmcsim, hmcsim.userid, hmcsim.password, heartbeats=(1000, 1000))
    try:
        conn.subscribe("/topic/hmcuser.999999osm.deadbeef", id="x", ack="auto")
        headers, body = listener.errors.get(timeout=5)
        assert "'topic://hmcuser.999999osm.deadbeef', is not a known or approved topic." in headers["message"]
        subscribe(conn, hmcsim.info["audit_topic"], "audit")     # still connected
        assert conn.is_connected() and listener.disconnected.empty()
    finally:
        conn.disconnect()


def test_connected_frame_and_heartbeat_negotiation(hmcsim):
    raw = RawStomp(hmcsim)
    try:
        frame = raw.connect(hmcsim.userid, hmcsim.password, heart_beat="800,300", version="1.0,1.1,1.2")
        assert frame.command == "CONNECTED"
        assert frame.headers["version"] == "1.2"
        assert frame.headers["heart-beat"] == "300,800"      # the client's request, reversed (ActiveMQ)
        # The server sends an EOL every 300 ms; we promised one every 800 ms and send nothing,
        # so it drops us after 1.5 x 0.8 s of silence.
        start = time.monotonic()
        assert raw.wait_closed(timeout=5.0) == []
        elapsed = time.monotonic() - start
        assert 1.0 <= elapsed <= 2.0, elapsed
        assert raw.heartbeats >= 2
    finally:
        raw.close()
    raw = RawStomp(hmcsim)
    try:
        frame = raw.connect(hmcsim.userid, hmcsim.password, heart_beat="0,0")
        assert frame.headers["heart-beat"] == "0,0"          # none asked, none given (zhmcclient #572)
    finally:
        raw.close()


def test_client_heartbeats_keep_connection(hmcsim):
    raw = RawStomp(hmcsim)
    try:
        assert raw.connect(hmcsim.userid, hmcsim.password, heart_beat="1000,0").command == "CONNECTED"
        for _ in range(6):
            time.sleep(0.5)
            raw.send_bytes(b"\n")
        raw.send("DISCONNECT", {"receipt": "bye"})
        frame = raw.next_frame()
        assert frame.command == "RECEIPT" and frame.headers["receipt-id"] == "bye"
        assert raw.heartbeats == 0       # the client asked for none
        assert raw.wait_closed() == []
    finally:
        raw.close()


def test_receipts_unsubscribe_and_header_escapes(hmcsim):
    session, logon = ws_logon(hmcsim)
    raw = RawStomp(hmcsim)
    try:
        assert raw.connect(logon["api-session"], logon["session-credential"], version="1.1",
                           command="STOMP").command == "CONNECTED"
        topic = logon["notification-topic"]
        raw.send("SUBSCRIBE", {"id": "s1", "destination": "/topic/" + topic, "receipt": "r1"})
        frame = raw.next_frame()
        assert frame.command == "RECEIPT" and frame.headers["receipt-id"] == "r1"
        hmcsim.publish_raw(topic, {"notification-type": "property-change", "odd": "a:b\nc\\d"}, "{}")
        frame = raw.next_frame()
        assert frame.command == "MESSAGE" and frame.headers["odd"] == "a:b\nc\\d"
        assert frame.headers["subscription"] == "s1" and frame.body == b"{}"
        raw.send("UNSUBSCRIBE", {"id": "s1", "receipt": "r2"})
        assert raw.next_frame().headers["receipt-id"] == "r2"
        hmcsim.publish_raw(topic, {"notification-type": "property-change"}, "{}")
        with pytest.raises(OSError):
            raw.next_frame(timeout=0.4)
    finally:
        raw.close()


def test_stomppy_unescapes_header_values(hmcsim, logged_on):
    session, logon, conn, listener = logged_on
    subscribe(conn, logon["notification-topic"], "obj")
    hmcsim.publish_raw(logon["notification-topic"], {"notification-type": "x", "element-uri": "/api/a:b"}, "{}")
    headers, _ = listener.next_of("x")
    assert headers["element-uri"] == "/api/a:b"


@pytest.mark.parametrize("data, expected", [
    (b"CONNECT\naccept-version:1.0\nlogin:a\npasscode:b\n\n\x00", "Supported protocol versions are 1.1 1.2"),
    (b"hello world\n\n\x00", "Invalid frame"),
    (b"SUBSCRIBE\nid:1\ndestination:/topic/x\n\n\x00", "Not connected"),
    (b"CONNECT\naccept-version:1.2\nheart-beat:x\nlogin:a\npasscode:b\n\n\x00", "Invalid heart-beat"),
])
def test_protocol_errors_get_error_frames(hmcsim, data, expected):
    raw = RawStomp(hmcsim)
    try:
        raw.send_bytes(data)
        frame = raw.next_frame()
        assert frame.command == "ERROR" and frame.headers["message"].startswith(expected), frame.headers
        assert raw.wait_closed() == []
    finally:
        raw.close()


def test_split_frames_and_content_length_bodies(hmcsim):
    raw = RawStomp(hmcsim)
    try:
        frame = b"CONNECT\r\naccept-version:1.2\r\nlogin:%s\r\npasscode:%s\r\n\r\n\x00" % (
            hmcsim.userid.encode(), hmcsim.password.encode())
        for i in range(0, len(frame), 7):       # arrives in small pieces
            raw.send_bytes(frame[i:i + 7])
            time.sleep(0.01)
        assert raw.next_frame().command == "CONNECTED"
        raw.send_bytes(b"\n\r\nACK\nid:1\nreceipt:r\ncontent-length:3\n\na\x00b\x00")
        frame = raw.next_frame()
        assert frame.command == "RECEIPT" and frame.headers["receipt-id"] == "r"
    finally:
        raw.close()


def test_clients_may_not_publish(hmcsim):
    raw = RawStomp(hmcsim)
    try:
        raw.connect(hmcsim.userid, hmcsim.password)
        raw.send("SEND", {"destination": "/topic/" + hmcsim.info["audit_topic"]}, b"{}")
        frame = raw.next_frame()
        assert frame.command == "ERROR" and "not authorized" in frame.headers["message"]
    finally:
        raw.close()
