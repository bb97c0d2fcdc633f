"""Control channel: real Unix sockets, a real second uid, real threads."""
import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.zhmc.eda.plugins.module_utils.control import (
    MAX_REQUEST_BYTES,
    ControlClient,
    ControlError,
    ControlRequestError,
    ControlServer,
    validate_request,
)
from tests.support import paths
from tests.support.requirements import require

NOBODY_UID = 65534


class RecordingHandler:
    """Answers like a source would and records every call (thread-safe enough for tests)."""

    def __init__(self):
        self.calls = []
        self.fail_with = None

    def _record(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        if self.fail_with is not None:
            raise self.fail_with

    def list(self):
        self._record("list")
        return {"changed": False, "subscriptions": [
            {"topic": "hmcuser.1", "topic_type": "object-notification", "object_uri": None,
             "origin": "logon"}]}

    def subscribe(self, topic, check_mode):
        self._record("subscribe", topic, check_mode)
        return {"changed": not check_mode, "subscriptions": [{"topic": topic}]}

    def unsubscribe(self, topic, check_mode):
        self._record("unsubscribe", topic, check_mode)
        return {"changed": True, "subscriptions": []}

    def open_os_message_channel(self, cpc, partition=None, lpar=None, subscribe=True,
                                check_mode=False):
        self._record("open", cpc, partition=partition, lpar=lpar, subscribe=subscribe,
                     check_mode=check_mode)
        return {"changed": True, "topic": "t.osm", "status": "opened"}

    def close_os_message_channel(self, cpc, partition=None, lpar=None, check_mode=False):
        self._record("close", cpc, partition=partition, lpar=lpar, check_mode=check_mode)
        return {"changed": False}


@pytest.fixture
def sock_dir(tmp_state_dir):
    return tmp_state_dir


@pytest.fixture
def server(sock_dir):
    handler = RecordingHandler()
    srv = ControlServer(os.path.join(sock_dir, "control.sock"), handler)
    srv.start()
    yield srv
    srv.close()


def raw_exchange(path, payload, shutdown=True):
    """Send raw bytes, return the decoded response line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(payload)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode())


# --- round trips -------------------------------------------------------------------------

def test_every_op_reaches_the_handler_with_its_arguments(server):
    client = ControlClient(server.path)
    handler = server.handler

    assert client.request("list")["subscriptions"][0]["topic"] == "hmcuser.1"
    assert client.request("subscribe", topic="a.b") == {
        "ok": True, "changed": True, "subscriptions": [{"topic": "a.b"}]}
    assert client.request("subscribe", topic="a.b", check_mode=True)["changed"] is False
    client.request("unsubscribe", topic="a.b")
    response = client.request("open_os_message_channel", cpc="CPC1", partition="PART1")
    assert response["topic"] == "t.osm" and response["ok"] is True
    client.request("open_os_message_channel", cpc="CPC2", lpar="LPAR1", subscribe=False,
                   check_mode=True)
    client.request("close_os_message_channel", cpc="CPC2", lpar="LPAR1", partition=None)

    assert handler.calls == [
        ("list", (), {}),
        ("subscribe", ("a.b", False), {}),
        ("subscribe", ("a.b", True), {}),
        ("unsubscribe", ("a.b", False), {}),
        ("open", ("CPC1",), {"partition": "PART1", "lpar": None, "subscribe": True,
                             "check_mode": False}),
        ("open", ("CPC2",), {"partition": None, "lpar": "LPAR1", "subscribe": False,
                             "check_mode": True}),
        ("close", ("CPC2",), {"partition": None, "lpar": "LPAR1", "check_mode": False}),
    ]
    assert server.request_count == 7


def test_handler_exception_becomes_ok_false_and_client_raises_its_text(server):
    server.handler.fail_with = RuntimeError("CPC 'CPCX' not found on HMC 127.0.0.1")
    with pytest.raises(ControlError) as info:
        ControlClient(server.path).request("open_os_message_channel", cpc="CPCX",
                                           partition="P")
    assert str(info.value) == "CPC 'CPCX' not found on HMC 127.0.0.1"
    assert info.value.server_error is True
    # the raw answer is the documented shape
    server.handler.fail_with = KeyError
    assert raw_exchange(server.path, b'{"op": "list"}\n') == {"ok": False, "error": "KeyError"}


def test_handler_returning_a_non_dict_is_an_error(server):
    server.handler.list = lambda: ["not", "a", "dict"]
    with pytest.raises(ControlError, match=r"list\(\) returned list, not a dict"):
        ControlClient(server.path).request("list")


def test_concurrent_requests_are_all_answered(server):
    results = []

    def worker(n):
        results.append(ControlClient(server.path).request("subscribe", topic="t%d" % n))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(r["subscriptions"][0]["topic"] for r in results) == sorted(
        "t%d" % n for n in range(12))


# --- malformed requests on the wire --------------------------------------------------------

@pytest.mark.parametrize("payload, expected", [
    (b"{not json\n", "control request is not valid JSON"),
    (b"\xff\xfe\n", "control request is not valid JSON"),
    (b"[1, 2]\n", "must be a JSON object, got list"),
    (b'{"topic": "x"}\n', "missing the field 'op'"),
    (b'{"op": "frobnicate"}\n', "field 'op' has the unknown value 'frobnicate'"),
    (b'{"op": "subscribe"}\n', "missing the required field 'topic'"),
    (b'{"op": "subscribe", "topic": ""}\n', "field 'topic' must be a non-empty string"),
    (b'{"op": "subscribe", "topic": 5}\n', "field 'topic' must be a non-empty string, got 5"),
    (b'{"op": "subscribe", "topic": "t", "check_mode": "yes"}\n',
     "field 'check_mode' must be true or false, got 'yes'"),
    (b'{"op": "open_os_message_channel", "cpc": "C", "partiton": "P"}\n',
     "does not take the field(s) 'partiton'"),
    (b'{"op": "open_os_message_channel", "cpc": "C"}\n', "got neither"),
    (b'{"op": "close_os_message_channel", "cpc": "C", "partition": "P", "lpar": "L"}\n',
     "got both"),
    (b'{"op": "close_os_message_channel", "cpc": "C", "lpar": "L", "subscribe": true}\n',
     "does not take the field(s) 'subscribe'"),
])
def test_bad_requests_get_an_error_naming_the_problem(server, payload, expected):
    response = raw_exchange(server.path, payload)
    assert response["ok"] is False
    assert expected in response["error"]
    assert server.handler.calls == []


def test_request_without_newline_is_taken_at_eof(server):
    assert raw_exchange(server.path, b'{"op": "list"}')["ok"] is True


def test_oversized_request_is_refused(server):
    payload = b'{"op": "subscribe", "topic": "' + b"x" * (MAX_REQUEST_BYTES + 10) + b'"}\n'
    response = raw_exchange(server.path, payload)
    assert response == {"ok": False,
                        "error": "control request is larger than %d bytes" % MAX_REQUEST_BYTES}
    assert server.handler.calls == []


def test_silent_peer_times_out_and_server_stays_usable(sock_dir):
    handler = RecordingHandler()
    with ControlServer(os.path.join(sock_dir, "c.sock"), handler, io_timeout=0.3) as srv:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
            idle.settimeout(5)
            idle.connect(srv.path)
            started = time.monotonic()
            answer = json.loads(idle.recv(65536).decode())
            assert time.monotonic() - started < 3
        assert answer["ok"] is False and "within 0.3 s" in answer["error"]
        assert ControlClient(srv.path).request("list")["ok"] is True


def test_client_validates_before_sending(server):
    with pytest.raises(ControlRequestError, match="missing the required field 'cpc'"):
        ControlClient(server.path).request("open_os_message_channel", partition="P")
    with pytest.raises(ValueError, match="unknown value 'lst'"):
        ControlClient(server.path).request("lst")
    assert server.request_count == 0


def test_validate_request_normalizes_defaults():
    assert validate_request({"op": "open_os_message_channel", "cpc": "C", "lpar": "L"}) == {
        "op": "open_os_message_channel", "cpc": "C", "lpar": "L", "partition": None,
        "subscribe": True, "check_mode": False}
    assert validate_request({"op": "list", "check_mode": True}) == {
        "op": "list", "check_mode": True}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=10), children, max_size=3),
    max_leaves=8)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(
    st.sampled_from(["op", "topic", "cpc", "partition", "lpar", "subscribe", "check_mode", "x"]),
    st.sampled_from(["list", "subscribe", "unsubscribe", "open_os_message_channel",
                     "close_os_message_channel"]) | json_values,
    max_size=6))
def test_validate_request_accepts_or_names_the_problem(request_dict):
    try:
        normalized = validate_request(request_dict)
    except ControlRequestError as exc:
        assert str(exc).startswith(("control request", "a control request"))
        return
    assert normalized["op"] == request_dict["op"]
    assert isinstance(normalized["check_mode"], bool)


# --- socket file life cycle ----------------------------------------------------------------

def test_socket_mode_is_0600_and_close_removes_it_quickly(sock_dir):
    path = os.path.join(sock_dir, "life.sock")
    server = ControlServer(path, RecordingHandler())
    server.start()
    info = os.stat(path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert server.listening
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1.0
    assert not os.path.exists(path)
    assert not server.listening
    server.close()  # idempotent


def test_stale_socket_file_is_replaced(sock_dir):
    path = os.path.join(sock_dir, "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens
    assert os.path.exists(path)
    with pytest.raises(ControlError, match="nothing listens on the control socket"):
        ControlClient(path).request("list")
    with ControlServer(path, RecordingHandler()) as srv:
        assert ControlClient(path).request("list")["ok"] is True
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not srv.listening


def test_live_socket_is_not_taken_over(server):
    with pytest.raises(ControlError, match="another process is listening on it"):
        ControlServer(server.path, RecordingHandler()).start()
    assert ControlClient(server.path).request("list")["ok"] is True


def test_non_socket_path_is_refused_and_kept(sock_dir):
    path = os.path.join(sock_dir, "regular")
    with open(path, "w") as handle:
        handle.write("keep me")
    with pytest.raises(ControlError, match="exists and is not a socket"):
        ControlServer(path, RecordingHandler()).start()
    with open(path) as handle:
        assert handle.read() == "keep me"


def test_close_does_not_remove_a_successors_socket(sock_dir):
    path = os.path.join(sock_dir, "succ.sock")
    first = ControlServer(path, RecordingHandler())
    first.start()
    os.unlink(path)  # someone removed it and a new source took the path over
    with ControlServer(path, RecordingHandler()):
        first.close()
        assert ControlClient(path).request("list")["ok"] is True


def test_bad_paths_get_clear_errors(sock_dir):
    with pytest.raises(ControlError, match="directory .*/missing does not exist"):
        ControlServer(os.path.join(sock_dir, "missing", "c.sock"), RecordingHandler()).start()
    long_path = os.path.join(sock_dir, "x" * 120)
    with pytest.raises(ControlError, match="bytes long; Unix sockets allow at most 107"):
        ControlServer(long_path, RecordingHandler()).start()
    with pytest.raises(ControlError, match="bytes long"):
        ControlClient(long_path).request("list")
    with pytest.raises(ControlError, match="no control socket at .*nope.sock: is the"):
        ControlClient(os.path.join(sock_dir, "nope.sock")).request("list")


def test_client_times_out_on_a_server_that_never_answers(sock_dir):
    path = os.path.join(sock_dir, "mute.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    try:
        started = time.monotonic()
        with pytest.raises(ControlError, match="no answer from the control socket .* within 0.3 s"):
            ControlClient(path, timeout=0.3).request("list")
        assert time.monotonic() - started < 3
    finally:
        listener.close()


# --- another uid: file mode first, then SO_PEERCRED ----------------------------------------

CHILD_SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, sys.argv[2])
    from ansible_collections.zhmc.eda.plugins.module_utils.control import (
        ControlClient, ControlError)
    try:
        ControlClient(sys.argv[1], timeout=5).request("list")
        print(json.dumps({"uid": os.getuid(), "result": "ok"}))
    except ControlError as exc:
        print(json.dumps({"uid": os.getuid(), "result": "error", "message": str(exc),
                          "server_error": exc.server_error}))
""")


def usable_by_others(path):
    """True when every directory up to `path` and the file itself are world-executable."""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def python_for_nobody():
    """A Python 3 interpreter that uid 65534 can run (a venv under /root may not be)."""
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if candidate and os.path.exists(candidate) and usable_by_others(candidate):
            return candidate
    return None


def run_client_as_nobody(path):
    def drop_privileges():
        os.setgid(NOBODY_UID)
        os.setuid(NOBODY_UID)

    interpreter = python_for_nobody()
    require(interpreter is not None, "a Python 3 interpreter that uid 65534 may execute")
    proc = subprocess.run(
        [interpreter, "-c", CHILD_SCRIPT, path, paths.collections_path()],
        preexec_fn=drop_privileges, capture_output=True, text=True, timeout=60, cwd="/", check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_other_uid_is_refused_by_mode_then_by_peer_credentials(sock_dir, caplog):
    require(os.getuid() == 0, "root, to run a client as another uid")
    os.chmod(sock_dir, 0o711)  # the directory is traversable; only the socket guards access
    handler = RecordingHandler()
    with ControlServer(os.path.join(sock_dir, "uid.sock"), handler) as srv:
        # layer 1: mode 0600 -> connect() fails with EACCES for another uid
        result = run_client_as_nobody(srv.path)
        assert result["uid"] == NOBODY_UID
        assert result["result"] == "error" and result["server_error"] is False
        assert "permission denied on the control socket %s" % srv.path in result["message"]
        assert srv.refused_peer_count == 0

        # layer 2: even with the mode widened, SO_PEERCRED refuses the peer
        os.chmod(srv.path, 0o666)
        with caplog.at_level(logging.WARNING, logger="zhmc.eda.control"):
            result = run_client_as_nobody(srv.path)
        assert result["result"] == "error" and result["server_error"] is True
        assert result["message"] == (
            "permission denied: uid 65534 may not use the control socket %s "
            "(it belongs to uid 0)" % srv.path)
        assert srv.refused_peer_count == 1
        assert handler.calls == []
        assert any("refused a connection from uid 65534" in r.getMessage()
                   for r in caplog.records)
        # our own uid still gets through
        assert ControlClient(srv.path).request("list")["ok"] is True
