"""`python -m hmcsim` as a subprocess, and external-broker mode against a real ActiveMQ."""
import json
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest
import requests
import stomp

from tests.support import paths
from tests.support.fixtures_hmcsim import ws_logon
from tests.support.requirements import require


def hmcsim_root():
    """The directory holding the hmcsim package under test (installed collection first)."""
    installed = paths.collection_root()
    if os.path.isdir(os.path.join(installed, "hmcsim")):
        return installed
    return paths.REPO_ROOT


def start_cli(state_dir, *args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=hmcsim_root())
    env.update(env_extra or {})
    command = [sys.executable, "-m", "hmcsim", "--state-dir", str(state_dir)] + list(args)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,  # noqa: S603 - our own interpreter
                            cwd=str(state_dir))


def wait_ready(proc, state_dir, timeout=20):
    path = os.path.join(str(state_dir), "hmcsim.json")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        if proc.poll() is not None:
            raise AssertionError("hmcsim exited with %s: %s" % (proc.returncode, proc.stderr.read().decode()))
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("hmcsim.json did not appear within %d s" % timeout)


def stop_cli(proc, timeout=10):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError("hmcsim did not stop within %d s of SIGTERM" % timeout)
    return code, proc.stderr.read().decode()


class _Info:
    """Attribute view of hmcsim.json for the shared helpers."""

    def __init__(self, info):
        self.__dict__.update(info)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_start_use_and_sigterm(tmp_path):
    proc = start_cli(tmp_path, "--heartbeat-ms", "1000", "--job-delay", "0.1", "--log-level", "DEBUG")
    try:
        info = wait_ready(proc, tmp_path)
        mode = stat.S_IMODE(os.stat(tmp_path / "hmcsim.json").st_mode)
        assert mode == 0o600
        for key in ("ws_port", "stomp_port", "admin_port", "ca_file", "userid", "password"):
            assert info[key], key
        assert os.path.isfile(info["ca_file"]) and info["pid"] == proc.pid
        sim = _Info(info)
        session, logon = ws_logon(sim)
        assert requests.get("http://127.0.0.1:%d/info" % info["admin_port"], timeout=10).json()["result"][
            "ws_port"] == info["ws_port"]
        conn = stomp.Connection12([("127.0.0.1", info["stomp_port"])], reconnect_attempts_max=1, timeout=5)
        conn.set_ssl(for_hosts=[("127.0.0.1", info["stomp_port"])], ca_certs=info["ca_file"])
        conn.connect(logon["api-session"], logon["session-credential"], wait=True)
        assert conn.is_connected()
        conn.disconnect()
    finally:
        code, stderr = stop_cli(proc)
    assert code == 0, stderr
    assert "hmcsim ready" in stderr and "hmcsim stopped" in stderr
    for secret in (info["password"], logon["api-session"], logon["session-credential"]):
        assert secret not in stderr
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", info["ws_port"]), timeout=2).close()


def test_cli_fixed_ports_config_and_scenario(tmp_path):
    config = tmp_path / "hmc.yaml"
    config.write_text("hmc_name: TESTHMC\nusers: [{userid: ops}]\n"
                      "cpcs: [{name: Z1, dpm: true, partitions: [{name: P1}]}]\n")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("- emit_os_messages: {cpc: Z1, name: P1, messages: [\"from the scenario\\n\"]}\n")
    ports = [free_port(), free_port(), free_port()]
    proc = start_cli(tmp_path, "--config", str(config), "--scenario", str(scenario), "--ws-port", str(ports[0]),
                     "--stomp-port", str(ports[1]), "--admin-port", str(ports[2]))
    try:
        info = wait_ready(proc, tmp_path)
        assert [info["ws_port"], info["stomp_port"], info["admin_port"]] == ports
        assert info["userid"] == "ops" and info["hmc_name"] == "TESTHMC"
        session, _ = ws_logon(_Info(info))
        uri = info["cpcs"][0]["partitions"][0]["object-uri"]
        url = "https://127.0.0.1:%d%s/operations/list-os-messages" % (info["ws_port"], uri)
        deadline = time.monotonic() + 5
        while True:
            msgs = session.get(url, timeout=10).json()["os-messages"]
            if msgs or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [m["message-text"] for m in msgs] == ["from the scenario\n"]
    finally:
        code, stderr = stop_cli(proc)
    assert code == 0, stderr


def test_cli_generated_estate_and_shared_config(tmp_path):
    shared = tmp_path / "twins.json"
    proc = start_cli(tmp_path, "--estate", "2x3", "--estate-seed", "7", "--shared-config", str(shared),
                     "--hmc-name", "HMC1")
    try:
        info = wait_ready(proc, tmp_path)
        assert info["hmc_name"] == "HMC1" and [c["name"] for c in info["cpcs"]] == ["CPC01", "CPC02"]
        assert [len(c.get("partitions", c.get("lpars"))) for c in info["cpcs"]] == [3, 3]
        assert json.loads(shared.read_text())["config"]["users"][0]["password"] == info["password"]
    finally:
        code, stderr = stop_cli(proc)
    assert code == 0, stderr


@pytest.mark.parametrize("args, env, expected", [
    (["--config", "CONFIG"], None, "cpcs[0].dpm"),
    (["--ws-port", "70000"], None, "--ws-port"),
    (["--external-broker", "127.0.0.1:61613", "--broker-user", "u", "--broker-password-env", "HMCSIM_NO_SUCH_VAR"],
     None, "HMCSIM_NO_SUCH_VAR"),
    (["--broker-user", "u"], None, "--broker-user needs --external-broker"),
    (["--scenario", "MISSING"], None, "does not exist"),
    (["--estate", "ten"], None, "--estate must be CPCSxPARTITIONS"),
    (["--estate", "200x1"], None, "estate.cpcs"),
])
def test_cli_bad_arguments_exit_2(tmp_path, args, env, expected):
    config = tmp_path / "bad.yaml"
    config.write_text("cpcs: [{name: X}]\n")
    args = [str(config) if a == "CONFIG" else str(tmp_path / "missing.yaml") if a == "MISSING" else a for a in args]
    proc = start_cli(tmp_path, *args, env_extra=env)
    code = proc.wait(20)
    stderr = proc.stderr.read().decode()
    assert code == 2, stderr
    assert expected in stderr
    assert not os.path.exists(tmp_path / "hmcsim.json")


def test_external_broker_mode_publishes_hmc_shaped_traffic(tmp_path, request):
    try:
        broker = request.getfixturevalue("activemq")
    except pytest.FixtureLookupError:
        broker = None
    require(broker is not None, "the activemq fixture (tests/support/fixtures_activemq.py)")
    env = {"HMCSIM_TEST_BROKER_PASSWORD": broker.password}
    proc = start_cli(tmp_path, "--external-broker", "%s:%d" % (broker.host, broker.stomp_ssl_port),
                     "--broker-user", broker.userid, "--broker-password-env", "HMCSIM_TEST_BROKER_PASSWORD",
                     "--broker-ca", broker.ca_file, "--job-delay", "0.2", "--log-level", "DEBUG", env_extra=env)
    received = []
    receipts = queue.Queue()

    class Listener(stomp.ConnectionListener):
        def on_message(self, frame):
            received.append((frame.headers, frame.body))

        def on_receipt(self, frame):
            receipts.put(frame.headers["receipt-id"])

    def subscribe(topic, sub_id):
        conn.subscribe("/topic/" + topic, id=sub_id, ack="auto", headers={"receipt": sub_id})
        assert receipts.get(timeout=10) == sub_id

    conn = None
    try:
        info = wait_ready(proc, tmp_path)
        assert info["external_broker"]["port"] == broker.stomp_ssl_port
        assert info["stomp_port"] == broker.stomp_ssl_port
        session, logon = ws_logon(_Info(info))
        conn = stomp.Connection12([(broker.host, broker.stomp_ssl_port)], reconnect_attempts_max=1, timeout=10)
        conn.set_ssl(for_hosts=[(broker.host, broker.stomp_ssl_port)], ca_certs=broker.ca_file)
        conn.set_listener("l", Listener())
        conn.connect(broker.userid, broker.password, wait=True)
        subscribe(logon["notification-topic"], "obj")
        subscribe(logon["job-notification-topic"], "job")
        part = [p for p in info["cpcs"][0]["partitions"] if p["name"] == "PART1"][0]["object-uri"]
        # Refresh messages: published ~1 s after the channel is opened (no SUBSCRIBE hook here).
        requests.post("http://127.0.0.1:%d/emit_os_messages" % info["admin_port"], timeout=10,
                      json={"cpc": "CPC1", "name": "PART1", "messages": ["buffered\n"]}).raise_for_status()
        osm_topic = session.post("https://127.0.0.1:%d%s/operations/open-os-message-channel"
                                 % (info["ws_port"], part), timeout=10).json()["topic-name"]
        subscribe(osm_topic, "osm")
        url = "https://127.0.0.1:%d%s/operations/stop" % (info["ws_port"], part)
        job_uri = session.post(url, timeout=10).json()["job-uri"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not {"job-completion", "os-message"} <= {
                h.get("notification-type") for h, _ in received}:
            time.sleep(0.05)
        types = [h.get("notification-type") for h, _ in received]
        assert types.count("status-change") == 2 and "job-completion" in types, types
        status = [(h, b) for h, b in received if h["notification-type"] == "status-change"][0]
        headers = status[0]
        for name in ("session-sequence-nr", "global-sequence-nr", "object-uri", "object-id", "class", "name",
                     "timestamp"):
            assert isinstance(headers[name], str) and headers[name], name
        assert headers["object-uri"] == part and headers["class"] == "partition"
        assert json.loads(status[1])["change-reports"][0]["new-status"] == "stopping"
        osm = [(h, b) for h, b in received if h["notification-type"] == "os-message"]
        assert osm, types
        refreshed = json.loads(osm[0][1])["os-messages"]
        assert refreshed[0]["message-text"] == "buffered\n" and refreshed[0]["is-refresh"] is True
        assert osm[0][0]["destination"] == "/topic/" + osm_topic
        job = [(h, b) for h, b in received if h["notification-type"] == "job-completion"][0]
        assert job[0]["job-uri"] == job_uri and job[1] == ""
    finally:
        if conn is not None:
            conn.disconnect()
        code, stderr = stop_cli(proc)
    assert code == 0, stderr
    assert "sending frame" in stderr            # stomp.py's debug log is on ...
    assert broker.password not in stderr         # ... and the password is blanked out of it
