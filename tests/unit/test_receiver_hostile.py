"""The receiver against a hostile STOMP endpoint (tests/support/hostile_stomp.py).

A frame that never ends abandons the connection, with and without heart-beats, quickly and
with memory bounded; a broker echoing the login (a session id) never gets it into a log or
an error; an ERROR-frame storm writes one log line per cause. Runs with stomp.py 8 and 9.
"""
import logging
import secrets
import shutil
import tempfile
import threading
import time

import psutil
import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.receiver import (
    DEFAULT_MAX_FRAME_BYTES, NotificationConnectionError, NotificationJMSError,
    NotificationLoginError, NotificationReceiver)
from hmcsim.certs import Certificates
from tests.support.hostile_stomp import HostileStomp
from tests.unit.test_receiver_support import FAST_RT_CONFIG, poll_items

TOPIC = "hmcuser.12osm.0a1b2c"
MIB = 1024 * 1024
# What stomp.py may hold for one frame at the limit (about three copies) plus slack for
# the interpreter; the hostile peer streams up to 128 MiB, which an unbounded receiver
# would keep.
RSS_GROWTH_LIMIT = 64 * MIB


@pytest.fixture(scope="module")
def certs():
    state_dir = tempfile.mkdtemp(prefix="zeda-hostile-", dir="/tmp")
    yield Certificates(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def hostile(certs):
    servers = []

    def start(behaviour, **kwargs):
        server = HostileStomp(behaviour, certs, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def receivers():
    created = []

    def make(server, login="hmcuser", password="pw", **kwargs):
        kwargs.setdefault("stomp_rt_config", FAST_RT_CONFIG)
        receiver = NotificationReceiver(TOPIC, server.host, login, password, port=server.port,
                                        verify_cert=server.ca_file, **kwargs)
        created.append(receiver)
        return receiver

    yield make
    for receiver in created:
        receiver.close()


class PeakRss:
    """Samples this process's RSS every few milliseconds; ``growth`` is the peak over start."""

    def __init__(self):
        self._process = psutil.Process()
        self.start = self._process.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak - self.start


def wait_for_loss(receiver, timeout):
    """poll() until it raises NotificationConnectionError; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            receiver.poll(timeout=0.1)
        except NotificationConnectionError as exc:
            return exc
    pytest.fail("no NotificationConnectionError within %.0f s" % timeout)


# ----------------------------------------------------------------------------- frame size

@pytest.mark.parametrize("behaviour, heartbeats, limit", [
    ("endless-body", "0,0", DEFAULT_MAX_FRAME_BYTES),
    ("endless-body", "1000,1000", DEFAULT_MAX_FRAME_BYTES),
    ("endless-header", "0,0", DEFAULT_MAX_FRAME_BYTES),
    ("no-nul", "0,0", DEFAULT_MAX_FRAME_BYTES),
    # NULs inside: stomp.py copies its whole buffer on every read (quadratic; up to 2 s of
    # CPU at 4 MiB on stomp.py 8, which reads 1 KiB at a time), so a smaller limit here
    ("content-length", "0,0", 1024 * 1024),
])
def test_frame_that_never_ends_abandons_the_connection(hostile, receivers, behaviour,
                                                       heartbeats, limit):
    """Heart-beats off (no watchdog at all) or on (the limit must come first): the consumer
    gets a loss naming max_frame_bytes within a second or two, the peer could not send much
    past the limit, and this process's memory stayed bounded."""
    server = hostile(behaviour, heartbeats=heartbeats)
    kwargs = {} if limit == DEFAULT_MAX_FRAME_BYTES else {"max_frame_bytes": limit}
    receiver = receivers(server, **kwargs)
    receiver.connect()
    assert receiver.negotiated_heartbeats == ((1000, 1000) if heartbeats != "0,0" else (0, 0))
    rss = PeakRss()
    start = time.monotonic()
    try:
        error = wait_for_loss(receiver, timeout=10)
    finally:
        growth = rss.stop()
    elapsed = time.monotonic() - start
    message = str(error)
    assert "max_frame_bytes (%d)" % limit in message, message
    assert elapsed < 2.0, "the loss came after %.2f s" % elapsed
    assert growth < RSS_GROWTH_LIMIT, "RSS grew by %.0f MiB" % (growth / MIB)
    assert server.stream_done.wait(5)
    assert server.sent_bytes < 4 * limit + 8 * MIB   # what socket buffers hold besides
    assert not receiver.is_connected()


def test_max_frame_bytes_is_the_limit(hostile, receivers):
    server = hostile("endless-body")
    receiver = receivers(server, max_frame_bytes=64 * 1024)
    assert receiver.max_frame_bytes == 64 * 1024
    receiver.connect()
    error = wait_for_loss(receiver, timeout=10)
    assert "max_frame_bytes (65536)" in str(error)
    assert server.stream_done.wait(5) and server.sent_bytes < 16 * MIB


# ----------------------------------------------------------------------------- secrets

def test_echoed_session_id_is_masked_at_debug(hostile, receivers, caplog):
    """The login is an HMC session id; the broker echoes it when refusing a login, in a
    MESSAGE header and body, and in an ERROR frame. Everything at DEBUG, stomp.py's frame
    dumps included: the session id and the credential appear in no log line and no error."""
    session_id = "SID" + secrets.token_hex(12)
    credential = secrets.token_hex(16)
    caplog.set_level(logging.DEBUG)
    for name in ("stomp.py", "zhmc.eda.receiver", "zhmc.eda.receiver.frames"):
        caplog.set_level(logging.DEBUG, logger=name)
    server = hostile("echo-login", passcode=credential)

    refused = receivers(server, login=session_id, password="not-" + credential)
    with pytest.raises(NotificationLoginError) as login_info:
        refused.connect()
    receiver = receivers(server, login=session_id, password=credential)
    receiver.connect()
    items = poll_items(receiver, 1)
    with pytest.raises(NotificationJMSError) as jms_info:
        poll_items(receiver, 1, timeout=5)

    assert items[0][0]["x-session"] == session_id   # what the consumer is given is untouched
    error = jms_info.value
    carried = [str(error), repr(error), error.jms_message] + list(error.jms_headers.values())
    assert error.jms_headers["message"].startswith("session ********")
    assert TOPIC in error.jms_headers["message"]      # our topic name stays readable
    assert all(session_id not in text for text in carried), carried
    assert "login refused" in str(login_info.value)
    text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert any(r.name == "stomp.py" and "received frame" in r.getMessage()
               for r in caplog.records), "stomp.py's frame dumps were not captured"
    for secret in (session_id, credential):
        assert secret not in text
        assert secret not in str(login_info.value)


def test_userid_login_keeps_topic_names_readable(hostile, receivers):
    """A userid login (not a secret) is blanked in broker text except inside our topic
    names, which start with it."""
    server = hostile("echo-login", passcode="pw")
    receiver = receivers(server, login="hmcuser", password="pw")
    receiver.connect()
    poll_items(receiver, 1)
    with pytest.raises(NotificationJMSError) as info:
        poll_items(receiver, 1, timeout=5)
    assert str(info.value) == "session ******** may not read /topic/%s" % TOPIC


# ----------------------------------------------------------------------------- log volume

def test_error_frame_storm_logs_one_line_per_cause(hostile, receivers, caplog):
    """2,000 ERROR frames with 3 distinct messages: 3 WARNING lines, and every error is
    still handed to the consumer, in order, before the message that followed them."""
    caplog.set_level(logging.WARNING, logger="zhmc.eda.receiver")
    server = hostile("error-storm", storm_count=2000, storm_causes=3)
    receiver = receivers(server)
    receiver.connect()
    errors = []
    items = []
    deadline = time.monotonic() + 30
    while not items:
        assert time.monotonic() < deadline, "only %d errors, no message" % len(errors)
        try:
            items = receiver.poll(timeout=0.5)
        except NotificationJMSError as exc:
            errors.append(exc)
    assert len(errors) == 2000
    assert [str(exc) for exc in errors[:4]] == [
        "storm cause 0", "storm cause 1", "storm cause 2", "storm cause 0"]
    assert items[0][0]["test-seq"] == "last"
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "zhmc.eda.receiver" and "JMS error" in r.getMessage()]
    assert sorted(warnings) == ["JMS error from 127.0.0.1:%d: storm cause %d" % (server.port, n)
                                for n in range(3)]
