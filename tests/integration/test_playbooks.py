"""The collection's playbooks and roles, run by FQCN from the installed collection.

hmcsim is started by the zhmc.eda.hmcsim role itself (as users' CI would), then the session
logon/logoff pair and the channel-opening playbook run against it; everything is checked
through hmcsim's admin endpoint, not through what the playbooks say.
"""
import json
import os
import shutil
import socket
import stat
import tempfile
import urllib.request

import pytest
import yaml

from tests.support.playbook import run_playbook

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="zeda-pbk-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def admin(info, method, **kwargs):
    """Call hmcsim's admin endpoint (loopback HTTP) and return its result."""
    request = urllib.request.Request(
        "http://127.0.0.1:%d/%s" % (info["admin_port"], method), data=json.dumps(kwargs).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["result"]


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_hmcsim_role_session_playbooks_and_channels(collections_path, workdir):
    state_dir = os.path.join(workdir, "sim")
    sim_vars = {"hmcsim_state_dir": state_dir, "hmcsim_heartbeat_ms": 1000}
    started = False
    outputs = []
    try:
        # --- check mode starts nothing
        checked = run_playbook(collections_path, workdir, "zhmc.eda.hmcsim", extra_vars=sim_vars, check=True)
        assert checked.rc == 0, checked.output[-3000:]
        assert not os.path.exists(os.path.join(state_dir, "hmcsim.pid"))

        # --- the hmcsim role starts the simulator shipped in the collection
        run = run_playbook(collections_path, workdir, "zhmc.eda.hmcsim", extra_vars=sim_vars, verbosity=2)
        outputs.append(run.output)
        assert run.rc == 0, run.output[-5000:]
        started = True
        start_task = "Start hmcsim in the background unless it runs already"
        assert run.status(start_task) == "changed"
        with open(os.path.join(state_dir, "hmcsim.json")) as handle:
            info = json.load(handle)
        with open(os.path.join(state_dir, "hmcsim.pid")) as handle:
            pid = int(handle.read())
        assert pid_alive(pid)
        socket.create_connection(("127.0.0.1", info["ws_port"]), timeout=5).close()
        assert "WS API port %d" % info["ws_port"] in run.output

        again = run_playbook(collections_path, workdir, "zhmc.eda.hmcsim", extra_vars=sim_vars)
        outputs.append(again.output)
        assert again.rc == 0 and again.status(start_task) == "ok", again.output[-3000:]

        # --- session logon playbook: session saved in a 0600 file, alive on the HMC
        session_file = os.path.join(workdir, "state", "session.yml")
        hmc = {"hmc_host": "127.0.0.1:%d" % info["ws_port"], "hmc_userid": info["userid"],
               "hmc_password": info["password"], "hmc_ca_certs": info["ca_file"]}
        logon = run_playbook(collections_path, workdir, "zhmc.eda.session_logon",
                             extra_vars=dict(hmc, session_file=session_file), verbosity=3)
        outputs.append(logon.output)
        assert logon.rc == 0, logon.output[-5000:]
        assert stat.S_IMODE(os.stat(session_file).st_mode) == 0o600
        with open(session_file) as handle:
            saved = yaml.safe_load(handle)
        session_id = saved["hmc_auth"]["session_id"]
        credential = saved["session_credential"]
        assert session_id in admin(info, "session_ids")
        assert saved["hmc_host"] == hmc["hmc_host"]

        # --- open the channels of the partitions matching a pattern, in the saved session
        opened = run_playbook(collections_path, workdir, "zhmc.eda.open_os_message_channels",
                              extra_vars=dict(hmc, session_file=session_file, cpc_pattern="CPC1",
                                              partition_pattern="PART[13]"), verbosity=3)
        outputs.append(opened.output)
        assert opened.rc == 0, opened.output[-5000:]
        channels = {c["name"]: c["topic-name"] for c in admin(info, "open_channels")}
        assert set(channels) == {"PART1"}  # PART3 has no OS messages
        printed = opened.result("Print the topics")["msg"]
        assert sorted(printed) == ["CPC1 PART1 opened %s" % channels["PART1"], "CPC1 PART3 unsupported -"]

        # without a place for the channels to live, the playbook refuses
        refused = run_playbook(collections_path, workdir, "zhmc.eda.open_os_message_channels",
                               extra_vars=hmc)
        outputs.append(refused.output)
        assert refused.rc != 0
        assert "would be dead at once" in refused.result("Check where the channels are to live")["msg"]

        # --- log off: the session and its channel are gone, the file too
        logoff = run_playbook(collections_path, workdir, "zhmc.eda.session_logoff",
                              extra_vars={"session_file": session_file}, verbosity=3)
        outputs.append(logoff.output)
        assert logoff.rc == 0, logoff.output[-5000:]
        assert logoff.status("Log the session off") == "changed"
        assert session_id not in admin(info, "session_ids")
        assert admin(info, "open_channels") == []
        assert not os.path.exists(session_file)

        # --- stop (check mode first: nothing stops), and stop again
        stop_vars = dict(sim_vars, hmcsim_state="stopped")
        checked = run_playbook(collections_path, workdir, "zhmc.eda.hmcsim", extra_vars=stop_vars, check=True)
        assert checked.rc == 0 and pid_alive(pid), checked.output[-3000:]
        stopped = run_playbook(collections_path, workdir, "zhmc.eda.hmcsim", extra_vars=stop_vars)
        outputs.append(stopped.output)
        stop_task = "Stop hmcsim by the pid in its state directory"
        assert stopped.rc == 0 and stopped.status(stop_task) == "changed", stopped.output[-3000:]
        assert not pid_alive(pid)
        started = False
        stopped_again = run_playbook(collections_path, workdir, "zhmc.eda.hmcsim", extra_vars=stop_vars)
        outputs.append(stopped_again.output)
        assert stopped_again.rc == 0 and stopped_again.status(stop_task) == "ok"

        for secret in (info["password"], session_id, credential):
            for output in outputs:
                assert secret not in output
    finally:
        if started:
            run_playbook(collections_path, workdir, "zhmc.eda.hmcsim",
                         extra_vars=dict(sim_vars, hmcsim_state="stopped"))


def test_role_argument_specs_reject_bad_input(collections_path, workdir):
    def rescued(task):
        return {"name": "Try: " + task["name"], "block": [task],
                "rescue": [{"name": "Rescued: " + task["name"], "ansible.builtin.debug": {"msg": "rescued"}}]}

    plays = [{"name": "bad role input", "hosts": "localhost", "gather_facts": False, "tasks": [
        rescued({"name": "Watch with a target lacking cpc_name", "ansible.builtin.include_role": {
            "name": "zhmc.eda.watch_os_messages"},
            "vars": {"watch_os_messages_control_socket": "/tmp/x.sock",
                     "watch_os_messages_targets": [{"partition_name": "PART1"}]}}),
        rescued({"name": "hmcsim with a bad state", "ansible.builtin.include_role": {"name": "zhmc.eda.hmcsim"},
                 "vars": {"hmcsim_state_dir": "/tmp/x", "hmcsim_state": "running"}}),
    ]}]
    path = os.path.join(workdir, "bad.yml")
    with open(path, "w") as handle:
        yaml.safe_dump(plays, handle)
    run = run_playbook(collections_path, workdir, path)
    assert run.rc == 0, run.output[-3000:]
    failures = [rec for rec in run.records if rec["status"] == "failed"]
    messages = " ".join(str(rec["result"].get("msg")) for rec in failures)
    assert len(failures) == 2, run.output[-3000:]
    assert "cpc_name" in messages and "running" in messages
