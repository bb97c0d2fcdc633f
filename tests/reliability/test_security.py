"""Security under fire: no secret in any log or event of a whole run, certificates verified
by default, the control socket refuses other users.

- End to end: ansible-rulebook at -vv (DEBUG: the source's, stomp.py's and urllib3's logs)
  runs the source against hmcsim through logon, OS channels, a control-socket request,
  session expiry, an HMC restart and shutdown. The whole output and every printed event is
  searched for the HMC password and every session id and session credential hmcsim handed
  out: 0 hits. (The in-process tests of this suite get the same scan from conftest.py.)
- A broker or HMC certificate from an unknown CA is refused when no CA is configured.
- A peer with another uid is refused by the control socket, even if the file mode let it in.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from tests.reliability import harness
from tests.support.rulebook import RulebookRun, write_rulebook

CPC, PART = "CPC1", "PART1"


def _rulebook(sim, control_socket):
    return [{
        "name": "zhmc.eda security scan",
        "hosts": "all",
        "sources": [{
            "zhmc.eda.notifications": {
                "hmc_host": sim.host,
                "ws_port": sim.ws_port,
                "stomp_port": sim.stomp_port,
                "hmc_auth": {"userid": sim.userid, "password": "{{ ZEDA_HMC_PASSWORD }}",
                             "ca_certs": sim.ca_file},
                "topic_types": ["object", "job", "audit", "security"],
                "os_message_channels": [{"cpc": CPC, "partition": PART}],
                "status_events": True,
                "control_socket": control_socket,
                "stomp_retry_timeout_config": dict(harness.FAST_RETRY_CONFIG),
            },
        }],
        "rules": [{"name": "print every event", "condition": "event.hmc is defined",
                   "action": {"print_event": {}}}],
    }]


def _states(events):
    return [harness.status_state(event) for event in events if harness.is_status(event)]


@pytest.mark.jdk
@pytest.mark.slow
def test_no_secret_in_a_whole_rulebook_run(fresh_hmcsim, collections_path, sources):
    from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlClient

    sim = fresh_hmcsim
    recorder = sources.record_hmcsim(sim)
    workdir = tempfile.mkdtemp(prefix="zeda-sec-", dir="/tmp")
    control_socket = os.path.join(workdir, "control.sock")
    run = RulebookRun(write_rulebook(workdir, _rulebook(sim, control_socket)), workdir, collections_path,
                      env_vars={"ZEDA_HMC_PASSWORD": sim.password}, verbosity=2)
    with run:
        run.wait_for_events(lambda evs: "connected" in _states(evs), 120)
        seqs = sim.emit_os_messages(CPC, PART, ["hello 1", "hello 2"])
        sim.set_status(CPC, "PART2", "stopped")
        run.wait_for_events(lambda evs: sum(1 for e in evs if harness.os_message_key(e)) >= len(seqs), 30)
        listing = ControlClient(control_socket, timeout=10).request("list")
        assert listing["ok"] is True and listing["subscriptions"]
        # session expired while the connection drops: re-logon with a new session
        sim.expire_session()
        sim.drop_stomp_connections()
        run.wait_for_events(lambda evs: "relogon" in _states(evs), 60)
        # HMC restart: everything gone, re-logon again
        sim.restart()
        run.wait_for_events(lambda evs: _states(evs).count("relogon") >= 2, 60)
        sim.emit_os_messages(CPC, PART, ["after restart"])
        run.wait_for_events(lambda evs: any((harness.hmc_part(e).get("os_message") or {}).get("text")
                                            == "after restart" for e in evs), 30)
        code, shutdown_seconds = run.terminate(timeout=30)
        output = run.output
        events = run.printed_events()
    secrets = recorder.secrets()
    texts = output.splitlines() + harness.event_texts(events)
    hits = harness.find_secrets(texts, secrets)
    harness.report("secret_scan_rulebook", lines=len(output.splitlines()), events=len(events),
                   sessions=len(recorder.sessions), secrets=len(secrets), hits=len(hits),
                   shutdown_s=shutdown_seconds, exit_code=code)
    assert len(recorder.sessions) >= 3, "expected logon + 2 re-logons, got %d" % len(recorder.sessions)
    assert "DEBUG" in output, "the run was not at debug level; the scan would prove little"
    assert not hits, hits[:5]


@pytest.mark.activemq
def test_untrusted_broker_certificate_is_refused_by_default(activemq_running, sources, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    broker = activemq_running
    args = harness.activemq_args(broker, ["zeda-untrusted"])
    del args["hmc_auth"]["ca_certs"]            # default: verify against the usual CA bundle
    args["stomp_retry_timeout_config"]["connect_retries"] = 1
    source = sources.start(args)
    assert source.done.wait(90), "the source kept running with an untrusted broker certificate"
    error = "%s: %s" % (type(source.error).__name__, source.error)
    states = [harness.status_state(e) for e in source.events()]
    harness.report("untrusted_broker_certificate", refused=source.error is not None,
                   connected_events=states.count("connected"), error=json.dumps(error[:160]))
    assert source.error is not None
    assert "connected" not in states
    assert any(word in error.lower() for word in ("certificate", "verify", "ssl", "tls")), error


def test_untrusted_hmc_certificate_is_refused_by_default(fresh_hmcsim, sources, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    sim = fresh_hmcsim
    sources.record_hmcsim(sim)
    args = harness.hmcsim_args(sim)
    del args["hmc_auth"]["ca_certs"]
    args["stomp_retry_timeout_config"]["connect_retries"] = 1
    source = sources.start(args)
    assert source.done.wait(90), "the source kept running with an untrusted HMC certificate"
    error = "%s: %s" % (type(source.error).__name__, source.error)
    harness.report("untrusted_hmc_certificate", refused=source.error is not None,
                   sessions=len(sim.session_ids()), error=json.dumps(error[:160]))
    assert source.error is not None
    assert not sim.session_ids(), "a session was created over an unverified connection"
    assert any(word in error.lower() for word in ("certificate", "verify", "ssl", "tls")), error


_OTHER_USER_CLIENT = r"""
import json, socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
try:
    sock.connect(sys.argv[1])
    # the server may refuse right after accept, without reading: look for that answer first
    # (writing a request it never reads would make its close a reset that eats the answer)
    sock.settimeout(2)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        sock.settimeout(10)
        sock.sendall(b'{"op": "list"}\n')
        data = sock.recv(65536)
    while data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    result = {"outcome": "answer", "detail": data.decode("utf-8", "replace")}
except PermissionError as exc:
    result = {"outcome": "denied-by-file-mode", "detail": str(exc)}
except OSError as exc:
    result = {"outcome": "error", "detail": str(exc)}
print(json.dumps(result))
"""


def _runnable_by_others(path):
    """True when every directory up to `path` is world-searchable and the file world-executable."""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    for index in range(2, len(parts)):
        if not os.stat(os.sep.join(parts[:index])).st_mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & 0o001)


def _python_for_other_users():
    """A stdlib-only Python another uid can start (the venv's may live under /root)."""
    import shutil

    for candidate in (sys.executable, shutil.which("python3", path="/usr/bin:/bin"),
                      "/usr/local/bin/python3"):
        if candidate and os.path.exists(candidate) and _runnable_by_others(candidate):
            return candidate
    return None


def _request_as(uid, path):
    """Run a tiny client as `uid` that sends a list request on `path`; return (outcome, detail)."""
    result = subprocess.run([_python_for_other_users(), "-I", "-c", _OTHER_USER_CLIENT, path], user=uid, group=uid,
                            capture_output=True, text=True, timeout=30, check=False, cwd="/")
    if result.returncode != 0:
        return "client-failed", result.stderr[-500:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["outcome"], answer["detail"]


@pytest.mark.activemq
def test_control_socket_refuses_another_uid(activemq_running, sources):
    from tests.support.requirements import require

    require(os.geteuid() == 0, "root (to act as another uid)")
    require(_python_for_other_users() is not None, "a Python interpreter another uid may run")
    broker = activemq_running
    directory = tempfile.mkdtemp(prefix="zeda-ctl-", dir="/tmp")
    path = os.path.join(directory, "control.sock")
    source = sources.start(harness.activemq_args(broker, ["zeda-control"], control_socket=path))
    source.wait_status("connected", 60)
    deadline = time.monotonic() + 10
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    mode = os.stat(path).st_mode & 0o777
    other_uid = 65534
    # 1. as created: the file mode alone keeps the other user out
    os.chmod(directory, 0o755)
    first, first_detail = _request_as(other_uid, path)
    # 2. even with the file opened up (a careless chmod), the server checks the peer's uid
    os.chmod(path, 0o666)
    second, second_detail = _request_as(other_uid, path)
    own = None
    from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlClient
    own = ControlClient(path, timeout=10).request("list")
    harness.report("control_socket_other_uid", socket_mode=oct(mode), as_created=first,
                   opened_up=second, own_uid_ok=own.get("ok"))
    assert mode == 0o600
    assert first == "denied-by-file-mode", (first, first_detail)
    assert second == "answer", (second, second_detail)
    answer = json.loads(second_detail.strip().splitlines()[0])
    assert answer["ok"] is False and "permission denied" in answer["error"], answer
    assert own["ok"] is True
    source.assert_running()
