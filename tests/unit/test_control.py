"""Control channel: real Unix sockets, a real second uid, real threads."""
import json
import logging
import os
import select
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
    ANSWER_GRACE_SECONDS,
    CLIENT_TIMEOUT_SECONDS,
    HANDLER_BUDGET_SECONDS,
    MAX_REQUEST_BYTES,
    ControlBusy,
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
    """Answers like a source would and records every call (thread-safe enough for tests).

    The deadline each call gets is kept apart, in `deadlines` (time left when called)."""

    def __init__(self):
        self.calls = []
        self.deadlines = []
        self.fail_with = None
        self.delay = 0.0

    def _record(self, name, *args, deadline, **kwargs):
        self.deadlines.append(deadline - time.monotonic())
        self.calls.append((name, args, kwargs))
        time.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with

    def list(self, deadline):
        self._record("list", deadline=deadline)
        return {"changed": False, "subscriptions": [
            {"topic": "hmcuser.1", "topic_type": "object-notification", "object_uri": None,
             "origin": "logon"}]}

    def subscribe(self, topic, check_mode, deadline):
        self._record("subscribe", topic, check_mode, deadline=deadline)
        return {"changed": not check_mode, "subscriptions": [{"topic": topic}]}

    def unsubscribe(self, topic, check_mode, deadline):
        self._record("unsubscribe", topic, check_mode, deadline=deadline)
        return {"changed": True, "subscriptions": []}

    def open_os_message_channel(self, cpc, partition=None, lpar=None, subscribe=True,
                                check_mode=False, *, deadline):
        self._record("open", cpc, partition=partition, lpar=lpar, subscribe=subscribe,
                     check_mode=check_mode, deadline=deadline)
        return {"changed": True, "topic": "t.osm", "status": "opened"}

    def close_os_message_channel(self, cpc, partition=None, lpar=None, check_mode=False, *,
                                 deadline):
        self._record("close", cpc, partition=partition, lpar=lpar, check_mode=check_mode,
                     deadline=deadline)
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
    server.handler.list = lambda deadline: ["not", "a", "dict"]
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
    with ControlServer(os.path.join(sock_dir, "c.sock"), handler, read_seconds=0.3) as srv:
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


# --- hostile peers and bad values at the door (issue 16) ------------------------------------

@pytest.mark.parametrize("payload, expected", [
    ({"op": "subscribe", "topic": "hmc1.audit\n"}, "field 'topic': must not contain blanks"),
    ({"op": "subscribe", "topic": "a b"}, "field 'topic': must not contain blanks"),
    ({"op": "unsubscribe", "topic": "a\x01b"}, "field 'topic': must not contain blanks"),
    ({"op": "subscribe", "topic": "t" * 257}, "field 'topic': longer than 256 characters"),
    ({"op": "open_os_message_channel", "cpc": "CPC1\n", "partition": "P"},
     "field 'cpc': must not contain control characters"),
    ({"op": "open_os_message_channel", "cpc": "C", "partition": " P"},
     "field 'partition': must not begin or end with a blank"),
    ({"op": "close_os_message_channel", "cpc": "C", "lpar": "L" * 65},
     "field 'lpar': longer than 64 characters"),
])
def test_what_the_receiver_would_refuse_is_refused_at_the_door(server, payload, expected):
    """Issue 16.2: a topic with a blank passed, was answered ok, and later ended the rulebook."""
    response = raw_exchange(server.path, json.dumps(payload).encode() + b"\n")
    assert response["ok"] is False and expected in response["error"], response
    params = dict(payload)
    op = params.pop("op")
    with pytest.raises(ControlRequestError, match=expected.replace("(", r"\(")):
        ControlClient(server.path).request(op, **params)
    assert server.handler.calls == [] and server.request_count == 0


@pytest.mark.parametrize("payload", [
    b"[" * 60000 + b"\n",
    b'{"a": ' * 30000 + b"\n",
    b'{"op": "subscribe", "topic": ' + b"[" * 900 + b"]" * 900 + b"}\n",
    b'{"op": ' + b"[" * 990 + b"]" * 990 + b"}\n",
])
def test_recursion_bombs_get_a_clean_answer_and_the_server_goes_on(server, payload):
    response = raw_exchange(server.path, payload)
    assert response["ok"] is False
    assert "control request" in response["error"] and len(response["error"]) < 300
    assert server.handler.calls == []
    assert ControlClient(server.path).request("list")["ok"] is True


def test_trickling_peers_do_not_keep_the_channel_busy(sock_dir):
    """16 peers sending one byte every 0.1 s: each is cut off at the total read deadline."""
    handler = RecordingHandler()
    answers = []
    stop = threading.Event()

    def trickle():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(srv.path)
            while not stop.is_set():
                if select.select([sock], [], [], 0.1)[0]:
                    answers.append(sock.recv(65536))
                    return
                try:
                    sock.sendall(b" ")
                except OSError:
                    pass  # the server has answered and closed: read the answer next round

    with ControlServer(os.path.join(sock_dir, "slow.sock"), handler, read_seconds=0.5) as srv:
        peers = [threading.Thread(target=trickle) for _ in range(16)]
        for peer in peers:
            peer.start()
        try:
            time.sleep(0.2)  # all 16 slots are taken now
            started = time.monotonic()
            response = None
            while time.monotonic() - started < 5:
                try:
                    response = ControlClient(srv.path, timeout=5).request("list")
                    break
                except ControlError as exc:
                    assert exc.server_error and "busy" in str(exc)
                    time.sleep(0.1)
            waited = time.monotonic() - started
        finally:
            stop.set()
            for peer in peers:
                peer.join(5)
    assert response is not None and response["ok"] is True, "the channel stayed busy"
    assert waited < 2.0
    assert len(answers) == 16
    assert all(b"no complete control request line within 0.5 s" in answer for answer in answers)


def test_nul_in_the_socket_path_is_a_clear_error(sock_dir):
    path = os.path.join(sock_dir, "a\0b.sock")
    with pytest.raises(ControlRequestError, match="must not contain a NUL character"):
        ControlClient(path)
    with pytest.raises(ControlRequestError, match="must not contain a NUL character"):
        ControlServer(path, RecordingHandler())


# --- the request's time line: one owner, the client outlasts the server --------------------

def test_the_client_waits_longer_than_the_server_may_take(sock_dir):
    """Issue 11.8: the module gave up after 10 s while the source could work on for 98 s."""
    server = ControlServer(os.path.join(sock_dir, "t.sock"), RecordingHandler())
    client = ControlClient(server.path)
    assert client.timeout > server.read_seconds + server.handler_budget + ANSWER_GRACE_SECONDS
    assert client.timeout == CLIENT_TIMEOUT_SECONDS


def test_the_handler_gets_its_deadline(server):
    ControlClient(server.path).request("subscribe", topic="a.b")
    (time_left,) = server.handler.deadlines
    assert HANDLER_BUDGET_SECONDS - 1 < time_left <= HANDLER_BUDGET_SECONDS


def test_a_busy_handler_is_answered_busy_and_nothing_changed(server):
    server.handler.fail_with = ControlBusy("the source is reconnecting to the HMC; try again")
    with pytest.raises(ControlBusy) as info:
        ControlClient(server.path).request("subscribe", topic="a.b")
    assert str(info.value) == ("the source is reconnecting to the HMC; try again "
                               "(nothing was changed)")
    assert info.value.server_error is True
    assert raw_exchange(server.path, b'{"op": "list"}\n') == {
        "ok": False, "busy": True, "changed": False,
        "error": "the source is reconnecting to the HMC; try again (nothing was changed)"}


def test_a_handler_that_overruns_is_answered_within_the_budget(sock_dir, caplog):
    handler = RecordingHandler()
    handler.delay = 0.3 + ANSWER_GRACE_SECONDS + 1.0
    with ControlServer(os.path.join(sock_dir, "o.sock"), handler, handler_budget=0.3) as srv:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="zhmc.eda.control"):
            with pytest.raises(ControlError, match="did not finish the subscribe request within "
                                                   "0.3 s; it may still take effect"):
                ControlClient(srv.path).request("subscribe", topic="a.b")
        answered = time.monotonic() - started
        assert 0.3 + ANSWER_GRACE_SECONDS - 0.1 < answered < 0.3 + ANSWER_GRACE_SECONDS + 0.5
        assert any("overran its 0.3 s budget" in r.getMessage() for r in caplog.records)
        handler.delay = 0
        assert ControlClient(srv.path).request("list")["ok"] is True


# --- the socket's directory: nobody else may replace the socket ------------------------------

def test_a_directory_others_can_write_without_sticky_bit_is_refused(sock_dir):
    shared = os.path.join(sock_dir, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    with pytest.raises(ControlError, match=r"directory .*/shared is writable by other users "
                                           r"\(mode 777, no sticky bit\)"):
        ControlServer(os.path.join(shared, "c.sock"), RecordingHandler()).start()
    os.chmod(shared, 0o770)
    with pytest.raises(ControlError, match="mode 770, no sticky bit"):
        ControlServer(os.path.join(shared, "c.sock"), RecordingHandler()).start()
    assert os.listdir(shared) == []


def test_a_sticky_shared_directory_is_used_with_a_warning(sock_dir, caplog):
    shared = os.path.join(sock_dir, "tmp")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    with caplog.at_level(logging.WARNING, logger="zhmc.eda.control"):
        with ControlServer(os.path.join(shared, "c.sock"), RecordingHandler()) as srv:
            assert ControlClient(srv.path).request("list")["ok"] is True
    assert any("is shared with other users (mode 1777)" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="zhmc.eda.control"):
        with ControlServer(os.path.join(sock_dir, "private.sock"), RecordingHandler()):
            pass
    assert not caplog.records


def test_a_directory_of_another_user_is_refused(sock_dir):
    require(os.getuid() == 0, "root, to hand a directory to another uid")
    theirs = os.path.join(sock_dir, "theirs")
    os.mkdir(theirs, 0o700)
    os.chown(theirs, NOBODY_UID, NOBODY_UID)
    with pytest.raises(ControlError, match="directory .*/theirs belongs to uid 65534"):
        ControlServer(os.path.join(theirs, "c.sock"), RecordingHandler()).start()


# --- another uid: file mode first, then SO_PEERCRED, on both sides ----------------------------

CHILD_SCRIPT = textwrap.dedent("""
    import json, os, socket, sys
    sys.path.insert(0, sys.argv[3])
    from ansible_collections.zhmc.eda.plugins.module_utils.control import (
        ControlClient, ControlError)
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "client":  # the module's client
        try:
            ControlClient(path, timeout=5).request("list")
            print(json.dumps({"uid": os.getuid(), "result": "ok"}))
        except ControlError as exc:
            print(json.dumps({"uid": os.getuid(), "result": "error", "message": str(exc),
                              "server_error": exc.server_error}))
    elif mode == "raw":  # a bare peer that reads what the server says at once
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            answer = json.loads(sock.makefile("rb").readline())
        print(json.dumps({"uid": os.getuid(), "result": "error" if not answer["ok"] else "ok",
                          "message": answer.get("error"), "server_error": True}))
    else:  # "serve": a hostile server that records what it gets and forges a success
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(path)
            os.chmod(path, 0o666)
            sock.listen(1)
            sock.settimeout(20)
            conn = sock.accept()[0]
            conn.settimeout(2)
            received = b""
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except (socket.timeout, OSError):
                pass
            try:
                conn.sendall(b'{"ok": true, "changed": true}\\n')
            except OSError:
                pass
            conn.close()
        print(json.dumps({"uid": os.getuid(), "received": received.decode("latin-1")}))
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


def _drop_privileges():
    os.setgid(NOBODY_UID)
    os.setuid(NOBODY_UID)


def start_as_nobody(mode, path):
    """The child script in `mode` as uid 65534 (a Popen; its stdout is one JSON line)."""
    require(os.getuid() == 0, "root, to run a peer as another uid")
    interpreter = python_for_nobody()
    require(interpreter is not None, "a Python 3 interpreter that uid 65534 may execute")
    return subprocess.Popen(
        [interpreter, "-c", CHILD_SCRIPT, mode, path, paths.collections_path()],
        preexec_fn=_drop_privileges, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd="/")


def finish(proc):
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return json.loads(stdout)


def run_as_nobody(mode, path):
    return finish(start_as_nobody(mode, path))


def test_other_uid_is_refused_by_mode_then_by_peer_credentials(sock_dir, caplog):
    require(os.getuid() == 0, "root, to run a client as another uid")
    os.chmod(sock_dir, 0o711)  # the directory is traversable; only the socket guards access
    handler = RecordingHandler()
    with ControlServer(os.path.join(sock_dir, "uid.sock"), handler) as srv:
        # layer 1: mode 0600 -> connect() fails with EACCES for another uid
        result = run_as_nobody("client", srv.path)
        assert result["uid"] == NOBODY_UID
        assert result["result"] == "error" and result["server_error"] is False
        assert "permission denied on the control socket %s" % srv.path in result["message"]
        assert srv.refused_peer_count == 0

        # layer 2: even with the mode widened, SO_PEERCRED refuses the peer
        os.chmod(srv.path, 0o666)
        with caplog.at_level(logging.WARNING, logger="zhmc.eda.control"):
            result = run_as_nobody("raw", srv.path)
        assert result["result"] == "error" and result["server_error"] is True
        assert result["message"] == (
            "permission denied: uid 65534 may not use the control socket %s "
            "(it belongs to uid 0)" % srv.path)
        assert srv.refused_peer_count == 1
        assert handler.calls == []
        assert any("refused a connection from uid 65534" in r.getMessage()
                   for r in caplog.records)

        # layer 3: the other uid's client does not talk to our server either
        result = run_as_nobody("client", srv.path)
        assert result["result"] == "error" and result["server_error"] is False
        assert "it is served by uid 0" in result["message"]
        assert handler.calls == []
        # our own uid still gets through
        assert ControlClient(srv.path).request("list")["ok"] is True


@pytest.fixture
def nobody_socket():
    """(path, process): a hostile server of uid 65534 listening in a directory like /tmp
    (mode 1777, owned by root); it serves one connection and reports what it received."""
    import tempfile

    directory = tempfile.mkdtemp(prefix="zeda-shared-", dir="/tmp")
    os.chmod(directory, 0o1777)
    path = os.path.join(directory, "control.sock")
    try:
        hostile = start_as_nobody("serve", path)
        deadline = time.monotonic() + 20
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield path, hostile
        if hostile.poll() is None:
            hostile.kill()
            hostile.wait(10)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_client_refuses_a_server_of_another_uid_before_sending(nobody_socket):
    """Issue 16.5: another user binds the path first; the module must not trust its answers."""
    path, hostile = nobody_socket
    with pytest.raises(ControlError) as info:
        ControlClient(path, timeout=5).request("subscribe", topic="hmc1.audit")
    assert "refusing to use the control socket %s: it is served by uid 65534" % path \
        in str(info.value)
    assert "nothing was sent" in str(info.value)
    assert info.value.server_error is False
    seen = finish(hostile)
    assert seen["uid"] == NOBODY_UID and seen["received"] == ""


def test_another_uids_socket_is_never_removed_even_as_root(nobody_socket):
    path, hostile = nobody_socket
    with pytest.raises(ControlError, match="another process is listening on it .socket file of "
                                           "uid 65534"):
        ControlServer(path, RecordingHandler()).start()
    assert finish(hostile)["received"] == ""  # the server's probe sent nothing either
    # now nothing listens: a stale file of uid 65534, still not ours to remove
    with pytest.raises(ControlError, match="a stale socket file of uid 65534 is there; it is "
                                           "not ours to remove"):
        ControlServer(path, RecordingHandler()).start()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert os.lstat(path).st_uid == NOBODY_UID
