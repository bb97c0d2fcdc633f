"""zhmc.eda modules run by ansible-playbook (installed collection) against hmcsim.

Few playbook launches, many tasks each: every task's result is recorded by a callback (after
no_log censoring) and asserted on here. The password lives only in a 0600 extra-vars file.
"""
import json
import os
import shutil
import tempfile

import pytest

from tests.support.ibm_zhmc import ibm_zhmc_errors
from tests.support.playbook import run_playbook, write_playbook

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="zeda-pb-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def hmc_vars(sim, **extra):
    data = {
        "hmc_host": "127.0.0.1:%d" % sim.ws_port,
        "hmc_userid": sim.userid,
        "hmc_password": sim.password,
        "hmc_ca_certs": sim.ca_file,
        "admin_url": "http://127.0.0.1:%d" % sim.admin_port,
    }
    data.update(extra)
    return data


LOGON = {
    "name": "Log on",
    "zhmc.eda.session": {
        "hmc_host": "{{ hmc_host }}",
        "hmc_auth": {"userid": "{{ hmc_userid }}", "password": "{{ hmc_password }}",
                     "ca_certs": "{{ hmc_ca_certs }}"},
    },
    "register": "session",
}

REUSE = {"hmc_host": "{{ session.hmc_host }}", "hmc_auth": "{{ session.hmc_auth }}"}


def task(name, module, args, **more):
    item = {"name": name, module: args}
    item.update(more)
    return item


def channel(name, cpc, check=False, fail=False, **kind):
    args = dict(REUSE, cpc_name=cpc, **kind)
    extra = {"register": "r", "ignore_errors": fail}
    if check:
        extra["check_mode"] = True
    return task(name, "zhmc.eda.os_message_channel", args, **extra)


def open_channels_task(name):
    """Ask hmcsim's admin endpoint which channels are open (the truth, not the module's word)."""
    return task(name, "ansible.builtin.uri", {
        "url": "{{ admin_url }}/open_channels", "method": "POST", "body_format": "json",
        "body": {}, "return_content": True})


def play(tasks):
    return [{"name": "zhmc.eda modules", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def _channels_in(run, name):
    return run.result(name)["json"]["result"]


def test_session_channels_topics_and_commands(hmcsim, collections_path, workdir):
    sim = hmcsim
    tasks = [
        LOGON,
        task("Check the session", "zhmc.eda.session", dict(REUSE), register="again"),
        task("Keep the secrets for the test", "ansible.builtin.copy", {
            "content": "{{ session.hmc_auth | combine({'session_credential': session.session_credential})"
                       " | to_json }}", "dest": workdir + "/secrets.json", "mode": "0600"}),
        task("Keep the session for the interop check", "ansible.builtin.copy", {
            "content": "{{ {'hmc_host': session.hmc_host, 'hmc_auth': session.hmc_auth} | to_json }}",
            "dest": workdir + "/session.json", "mode": "0600"}),
        task("List topics in a session shaped by ibm.ibm_zhmc", "zhmc.eda.notification_topics_info", {
            "hmc_host": "{{ session.hmc_host }}",
            "hmc_auth": {"session_id": "{{ session.hmc_auth.session_id }}", "verify": True,
                         "ca_certs": "{{ hmc_ca_certs }}"}}),
        task("List topics without verifying the certificate", "zhmc.eda.notification_topics_info", {
            "hmc_host": "{{ session.hmc_host }}",
            "hmc_auth": {"session_id": "{{ session.hmc_auth.session_id }}", "verify": False}}),
        channel("Open PART1 (check mode)", "CPC1", check=True, partition_name="PART1"),
        open_channels_task("Channels after check mode"),
        channel("Open PART1", "CPC1", partition_name="PART1"),
        channel("Open PART1 again", "CPC1", partition_name="PART1"),
        channel("Open PART1 again (check mode)", "CPC1", check=True, partition_name="PART1"),
        channel("Open LPAR1", "CPC2", lpar_name="LPAR1"),
        channel("Open PART3 (no OS messages)", "CPC1", partition_name="PART3"),
        task("Open PART3 strictly", "zhmc.eda.os_message_channel",
             dict(REUSE, cpc_name="CPC1", partition_name="PART3", fail_on_unsupported=True),
             ignore_errors=True),
        channel("Open on an unknown CPC", "NOCPC", fail=True, partition_name="PART1"),
        channel("Open an unknown partition", "CPC1", fail=True, partition_name="NOPART"),
        channel("Open a partition on a classic CPC", "CPC2", fail=True, partition_name="LPAR1"),
        task("Open with userid and password only", "zhmc.eda.os_message_channel", {
            "hmc_host": "{{ hmc_host }}", "cpc_name": "CPC1", "partition_name": "PART2",
            "hmc_auth": {"userid": "{{ hmc_userid }}", "password": "{{ hmc_password }}",
                         "ca_certs": "{{ hmc_ca_certs }}"}}, ignore_errors=True),
        open_channels_task("Channels in the end"),
        task("List topics", "zhmc.eda.notification_topics_info", dict(REUSE)),
        task("List OS-message topics", "zhmc.eda.notification_topics_info",
             dict(REUSE, topic_types=["os-message-notification"])),
        task("Send a command (check mode)", "zhmc.eda.os_command",
             dict(REUSE, cpc_name="CPC1", partition_name="PART1", command="echo check"), check_mode=True),
        task("Send a command", "zhmc.eda.os_command",
             dict(REUSE, cpc_name="CPC1", partition_name="PART1", command="echo hello")),
        task("Send a command to a stopped partition", "zhmc.eda.os_command",
             dict(REUSE, cpc_name="CPC1", partition_name="PART3", command="echo x"), ignore_errors=True),
        task("Send a too long command", "zhmc.eda.os_command",
             dict(REUSE, cpc_name="CPC1", partition_name="PART1", command="x" * 201), ignore_errors=True),
        task("Log off (check mode)", "zhmc.eda.session", dict(REUSE, state="absent"), check_mode=True),
        task("Log off", "zhmc.eda.session", dict(REUSE, state="absent")),
        task("Log off again", "zhmc.eda.session", dict(REUSE, state="absent")),
    ]
    path = write_playbook(workdir, "play.yml", play(tasks))
    sessions_before = set(sim.session_ids())
    run = run_playbook(collections_path, workdir, path, extra_vars=hmc_vars(sim), verbosity=3)
    assert run.rc == 0, run.output[-6000:]

    # session: logged on, result hidden, reusable, logged off at the end (and only then)
    assert run.status("Log on") == "ok"
    assert run.result("Log on").get("censored"), "the session result must be no_log"
    assert run.status("Check the session") == "ok"
    assert run.status("Log off (check mode)") == "changed"
    assert run.status("Log off") == "changed"
    assert run.status("Log off again") == "ok"
    assert "already logged off" in run.result("Log off again")["msg"]
    assert set(sim.session_ids()) == sessions_before

    # check mode: reported, nothing opened
    check = run.result("Open PART1 (check mode)")
    assert check["changed"] is True and check["status"] == "opened" and check["topic_name"] is None
    assert not [c for c in _channels_in(run, "Channels after check mode") if c["name"] == "PART1"]

    # normal path and idempotency
    opened = run.result("Open PART1")
    assert opened["changed"] is True and opened["status"] == "opened" and opened["topic_name"]
    assert opened["object_uri"] == sim.uri("CPC1", "PART1")
    again = run.result("Open PART1 again")
    assert again["changed"] is False and again["status"] == "existing"
    assert again["topic_name"] == opened["topic_name"]
    check_again = run.result("Open PART1 again (check mode)")
    assert check_again["changed"] is False and check_again["topic_name"] == opened["topic_name"]
    lpar = run.result("Open LPAR1")
    assert lpar["changed"] is True and lpar["status"] == "opened"
    in_sim = {c["name"]: c["topic-name"] for c in _channels_in(run, "Channels in the end")}
    assert in_sim.get("PART1") == opened["topic_name"]
    assert in_sim.get("LPAR1") == lpar["topic_name"]
    assert "PART2" not in in_sim  # the refused userid/password call opened nothing

    # 409/332 and the errors
    unsupported = run.result("Open PART3 (no OS messages)")
    assert unsupported["changed"] is False and unsupported["status"] == "unsupported"
    assert unsupported["topic_name"] is None
    strict = run.result("Open PART3 strictly")
    assert run.status("Open PART3 strictly") == "failed" and "409 reason 332" in strict["msg"] and "PART3" in strict["msg"]
    assert "CPC 'NOCPC' not found" in run.result("Open on an unknown CPC")["msg"]
    assert "partition 'NOPART' not found in CPC 'CPC1'" in run.result("Open an unknown partition")["msg"]
    assert "classic mode: use lpar_name" in run.result("Open a partition on a classic CPC")["msg"]
    refused = run.result("Open with userid and password only")
    assert run.status("Open with userid and password only") == "failed" and "dead topic" in refused["msg"] and "session_id" in refused["msg"]

    # sessions interoperate with ibm.ibm_zhmc both ways (tests/support/ibm_zhmc.py)
    with open(os.path.join(workdir, "session.json")) as handle:
        assert ibm_zhmc_errors(json.load(handle)) == []
    assert run.status("List topics in a session shaped by ibm.ibm_zhmc") == "ok"
    assert run.result("List topics in a session shaped by ibm.ibm_zhmc")["topics"]
    # verify: false works, with an Ansible warning
    assert run.status("List topics without verifying the certificate") == "ok"
    assert "[WARNING]: hmc_auth.verify is false" in run.output

    # topics info
    topics = run.result("List topics")["topics"]
    types = {t["topic_type"] for t in topics}
    assert types == {"object-notification", "job-notification", "audit-notification",
                     "security-notification", "os-message-notification"}
    os_topics = run.result("List OS-message topics")["topics"]
    assert {t["topic_name"] for t in os_topics} == {opened["topic_name"], lpar["topic_name"]}
    assert all(t["object_uri"] and t["include_refresh_messages"] is True for t in os_topics)

    # os_command
    assert run.status("Send a command (check mode)") == "changed"
    sent = run.result("Send a command")
    assert sent["changed"] is True and sent["object_uri"] == sim.uri("CPC1", "PART1")
    stopped = run.result("Send a command to a stopped partition")
    assert run.status("Send a command to a stopped partition") == "failed" and "HTTP 409 reason 332" in stopped["msg"]
    assert stopped["http_status"] == 409 and stopped["reason"] == 332
    assert "1 to 200 characters" in run.result("Send a too long command")["msg"]

    # secrets: never in the output, even at -vvv
    with open(os.path.join(workdir, "secrets.json")) as handle:
        secrets = json.load(handle)
    assert secrets["session_id"] and secrets["session_credential"]
    for secret in (sim.password, secrets["session_id"], secrets["session_credential"]):
        assert secret not in run.output
        assert secret not in json.dumps(run.records)


def test_bad_credentials_and_missing_source(hmcsim, collections_path, workdir):
    sim = hmcsim
    wrong = {"userid": "{{ hmc_userid }}", "password": "{{ wrong_password }}", "ca_certs": "{{ hmc_ca_certs }}"}
    right = {"userid": "{{ hmc_userid }}", "password": "{{ hmc_password }}", "ca_certs": "{{ hmc_ca_certs }}"}
    tasks = [
        task("Log on with a wrong password", "zhmc.eda.session",
             {"hmc_host": "{{ hmc_host }}", "hmc_auth": wrong}, ignore_errors=True),
        task("List topics with a wrong password", "zhmc.eda.notification_topics_info",
             {"hmc_host": "{{ hmc_host }}", "hmc_auth": wrong}, ignore_errors=True),
        task("Use an expired session", "zhmc.eda.notification_topics_info",
             {"hmc_host": "{{ hmc_host }}", "hmc_auth": {"session_id": "{{ fake_session }}",
                                                         "ca_certs": "{{ hmc_ca_certs }}"}},
             ignore_errors=True),
        task("Log on without verifying against the CA", "zhmc.eda.session",
             {"hmc_host": "{{ hmc_host }}", "hmc_auth": {"userid": "{{ hmc_userid }}",
                                                         "password": "{{ hmc_password }}"}},
             ignore_errors=True),
        task("Log on to a bad host value", "zhmc.eda.session",
             {"hmc_host": "127.0.0.1:99999", "hmc_auth": wrong}, ignore_errors=True),
        task("Subscribe without a source", "zhmc.eda.notification_subscription",
             {"control_socket": "{{ missing_socket }}", "topic": "x.audit"}, ignore_errors=True),
        task("Open a channel without a source", "zhmc.eda.os_message_channel",
             {"control_socket": "{{ missing_socket }}", "cpc_name": "CPC1", "partition_name": "PART1"},
             ignore_errors=True),
        task("Give both partition and LPAR", "zhmc.eda.notification_subscription",
             {"control_socket": "{{ missing_socket }}",
              "os_message_channel": {"cpc_name": "CPC1", "partition_name": "P", "lpar_name": "L"}},
             ignore_errors=True),
        task("Log on to a host with a user name in it", "zhmc.eda.session",
             {"hmc_host": "localhost\\@{{ hmc_host }}", "hmc_auth": right}, ignore_errors=True),
        task("Subscribe a topic with a trailing newline", "zhmc.eda.notification_subscription",
             {"control_socket": "{{ missing_socket }}", "topic": "x.audit\n"}, ignore_errors=True),
        task("Send a command to a CPC name with a control character", "zhmc.eda.os_command",
             {"hmc_host": "{{ hmc_host }}", "hmc_auth": right, "cpc_name": "CPC1\x07",
              "partition_name": "PART1", "command": "echo x"}, ignore_errors=True),
        task("Watch through a socket path with a NUL", "zhmc.eda.notification_subscription",
             {"control_socket": "{{ missing_socket }}\x00x", "topic": "x.audit"}, ignore_errors=True),
    ]
    path = write_playbook(workdir, "play.yml", play(tasks))
    wrong_password = "Wrong-" + sim.password[::-1]
    fake_session = "f" * 32
    missing_socket = os.path.join(workdir, "no-source.sock")
    sessions_before = set(sim.session_ids())
    run = run_playbook(collections_path, workdir, path, verbosity=3, extra_vars=hmc_vars(
        sim, wrong_password=wrong_password, fake_session=fake_session, missing_socket=missing_socket))
    assert run.rc == 0, run.output[-6000:]

    logon = run.result("Log on with a wrong password")
    assert run.status("Log on with a wrong password") == "failed" and "HTTP 403" in logon["msg"] and logon["http_status"] == 403
    assert logon["reason"] is not None and ("reason %s" % logon["reason"]) in logon["msg"]
    listing = run.result("List topics with a wrong password")
    assert run.status("List topics with a wrong password") == "failed" and "HTTP 403" in listing["msg"]
    expired = run.result("Use an expired session")
    assert run.status("Use an expired session") == "failed" and "HTTP 403 reason 5" in expired["msg"]
    untrusted = run.result("Log on without verifying against the CA")
    assert run.status("Log on without verifying against the CA") == "failed" and "certificate" in untrusted["msg"].lower()
    assert "hmc_auth.ca_certs" in untrusted["msg"] and "verify_cert" not in untrusted["msg"]
    assert "invalid port" in run.result("Log on to a bad host value")["msg"]
    for name in ("Subscribe without a source", "Open a channel without a source"):
        result = run.result(name)
        assert run.status(name) == "failed" and missing_socket in result["msg"], result
    both = run.result("Give both partition and LPAR")
    assert run.status("Give both partition and LPAR") == "failed" and "partition_name" in both["msg"] and "lpar_name" in both["msg"]

    # refused at the door, naming the option or field; nothing reached the HMC or a socket
    for name, expected in (
            ("Log on to a host with a user name in it", "hmc_host entry 'localhost\\\\@127.0.0.1:"),
            ("Subscribe a topic with a trailing newline",
             "control request field 'topic': must not contain blanks or control characters"),
            ("Send a command to a CPC name with a control character",
             "cpc_name 'CPC1\\x07': must not contain control characters"),
            ("Watch through a socket path with a NUL", "must not contain a NUL character")):
        assert run.status(name) == "failed", name
        assert expected in run.result(name)["msg"], (name, run.result(name)["msg"])
    assert "no-source.sock: is the" not in run.result("Subscribe a topic with a trailing newline")["msg"]
    assert set(sim.session_ids()) == sessions_before

    for secret in (sim.password, wrong_password, fake_session):
        assert secret not in run.output
        assert secret not in json.dumps(run.records)
