"""The collection's example rulebook zhmc.eda.watch_active_partitions, end to end.

ansible-rulebook runs the rulebook by FQCN from the installed collection against hmcsim. A
partition that is stopped at start is watched once it becomes active: the source follows it
by itself (no playbook, no control socket), and the OS messages hmcsim then emits arrive as
events. The same running source (started with a control socket, which the rulebook offers
on the command line) then serves the control-socket paths of the modules
(notification_subscription, os_message_channel): normal path, idempotency, check mode,
errors.
"""
import json
import os
import shutil
import tempfile
import time
import uuid

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlClient
from tests.support.playbook import run_playbook, write_playbook
from tests.support.requirements import require
from tests.support.rulebook import RulebookRun

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

CONNECTED_LINE = r"zhmc\.eda\.notifications connected to"
PASSWORD_ENV = "HMC_PASSWORD"


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="zeda-rb-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _java_available():
    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


def _wait(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %s s waiting for %s" % (timeout, what))


def _source_topics(sock):
    return {sub["topic"]: sub for sub in ControlClient(sock).request("list")["subscriptions"]}


def _channel_topic_of(sim, sock, cpc, name):
    """The source's subscribed channel topic of an object (None when not subscribed)."""
    uri = sim.uri(cpc, name)
    for topic, sub in _source_topics(sock).items():
        if sub.get("object_uri") and sub["object_uri"].rsplit("/", 1)[-1] == uri.rsplit("/", 1)[-1]:
            return topic
    return None


def _os_texts(run, start=0):
    return [((ev.get("hmc") or {}).get("os_message") or {}).get("text", "")
            for ev in run.printed_events(start)]


def test_watch_active_partitions_rulebook_and_control_modules(hmcsim, collections_path, workdir):
    require(_java_available(), "a JDK >= 17 for ansible-rulebook")
    sim = hmcsim
    sock = os.path.join(workdir, "control.sock")
    variables = {
        "hmc_host": sim.host, "hmc_userid": sim.userid, "hmc_ca_certs": sim.ca_file,
        "hmc_ws_port": sim.ws_port, "hmc_stomp_port": sim.stomp_port,
        "cpc_name": "CPC1", "control_socket": sock,
    }
    run = RulebookRun("zhmc.eda.watch_active_partitions", workdir, collections_path,
                      variables=variables, env_vars={PASSWORD_ENV: sim.password}, verbosity=1)
    # PART2 is stopped when the rulebook starts: its channel is unavailable until it runs
    sim.set_status("CPC1", "PART2", "stopped")
    with run:
        run.wait_for(CONNECTED_LINE, timeout=90)
        _wait(lambda: os.path.exists(sock), 30, "the control socket")
        assert _channel_topic_of(sim, sock, "CPC1", "PART2") is None
        run.wait_for(r"OS message channel of PART2 on CPC CPC1: unavailable", timeout=30)

        # 1. the partition becomes active: the source opens and subscribes its channel
        sim.set_status("CPC1", "PART2", "active")
        topic = _wait(lambda: _channel_topic_of(sim, sock, "CPC1", "PART2"), 20,
                      "the source to subscribe PART2's channel")
        opened = [c for c in sim.open_channels() if c["name"] == "PART2"]
        assert [c["topic-name"] for c in opened] == [topic]
        run.wait_for(r"OS message channel of PART2 on CPC CPC1: started", timeout=30)

        # 2. the new topic's notifications arrive as events
        marker = "E2E-%s" % uuid.uuid4().hex[:8]
        start = len(run.lines)
        sim.emit_os_messages("CPC1", "PART2", [marker + " first", marker + " second"])
        events = run.wait_for_events(
            lambda evs: sum(1 for ev in evs if marker in json.dumps(ev)) >= 2, timeout=30, start=start)
        texts = [t for t in _os_texts(run, start) if marker in t]
        assert [t.strip() for t in texts] == [marker + " first", marker + " second"]
        mine = [ev for ev in events if marker in json.dumps(ev)]
        assert all(ev["hmc"]["topic"] == topic and ev["hmc"]["object"]["name"] == "PART2" for ev in mine)
        assert all(ev["hmc"]["object"]["cpc_name"] == "CPC1" for ev in mine)

        # 4. the modules' control-socket paths, on the same running source
        control_module_checks(sim, sock, collections_path, workdir)

    assert sim.password not in run.output


def control_module_checks(sim, sock, collections_path, workdir):
    audit = sim.info["audit_topic"]

    def sub(name, **args):
        task = {"name": name, "zhmc.eda.notification_subscription": dict(control_socket=sock, **args),
                "ignore_errors": True}
        return task

    def chan(name, **args):
        return {"name": name, "zhmc.eda.os_message_channel": dict(control_socket=sock, **args),
                "ignore_errors": True}

    def check(task):
        task["check_mode"] = True
        return task

    tasks = [
        sub("List"),
        check(sub("Subscribe audit (check mode)", topic=audit)),
        sub("List after check mode"),
        sub("Subscribe audit", topic=audit),
        sub("Subscribe audit again", topic=audit),
        check(sub("Unsubscribe audit (check mode)", topic=audit, state="absent")),
        sub("Unsubscribe audit", topic=audit, state="absent"),
        sub("Unsubscribe audit again", topic=audit, state="absent"),
        check(chan("Open LPAR1 (check mode)", cpc_name="CPC2", lpar_name="LPAR1")),
        chan("Open LPAR1", cpc_name="CPC2", lpar_name="LPAR1"),
        chan("Open LPAR1 again", cpc_name="CPC2", lpar_name="LPAR1"),
        chan("Open LPAR3 (no OS messages)", cpc_name="CPC2", lpar_name="LPAR3"),
        chan("Open LPAR3 strictly", cpc_name="CPC2", lpar_name="LPAR3", fail_on_unsupported=True),
        chan("Open an unknown LPAR", cpc_name="CPC2", lpar_name="NOLPAR"),
        sub("Unwatch LPAR1", os_message_channel={"cpc_name": "CPC2", "lpar_name": "LPAR1"}, state="absent"),
        sub("Unwatch LPAR1 again", os_message_channel={"cpc_name": "CPC2", "lpar_name": "LPAR1"},
            state="absent"),
        sub("Watch LPAR2", os_message_channel={"cpc_name": "CPC2", "lpar_name": "LPAR2"}),
        sub("Watch LPAR2 again", os_message_channel={"cpc_name": "CPC2", "lpar_name": "LPAR2"}),
        sub("Watch LPAR3 (no OS messages)", os_message_channel={"cpc_name": "CPC2", "lpar_name": "LPAR3"}),
        sub("Watch LPAR3 strictly", os_message_channel={"cpc_name": "CPC2", "lpar_name": "LPAR3"},
            fail_on_unsupported=True),
        sub("Unsubscribe without a target", state="absent"),
    ]
    path = write_playbook(workdir, "control.yml", [{
        "name": "control socket", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    pb = run_playbook(collections_path, workdir, path, verbosity=2)
    assert pb.rc == 0, pb.output[-5000:]

    def topics(name):
        return {s["topic"] for s in pb.result(name)["subscriptions"]}

    assert pb.status("List") == "ok" and audit not in topics("List")
    assert pb.status("Subscribe audit (check mode)") == "changed"
    assert audit not in topics("List after check mode")
    assert pb.status("Subscribe audit") == "changed" and audit in topics("Subscribe audit")
    assert pb.status("Subscribe audit again") == "ok"
    assert pb.status("Unsubscribe audit (check mode)") == "changed"
    assert pb.status("Unsubscribe audit") == "changed" and audit not in topics("Unsubscribe audit")
    assert pb.status("Unsubscribe audit again") == "ok"

    check = pb.result("Open LPAR1 (check mode)")
    assert pb.status("Open LPAR1 (check mode)") == "changed" and check["status"] == "opened"
    opened = pb.result("Open LPAR1")
    assert pb.status("Open LPAR1") == "changed" and opened["status"] == "opened"
    assert opened["topic_name"] and opened["subscribed"] is True
    again = pb.result("Open LPAR1 again")
    assert pb.status("Open LPAR1 again") == "ok" and again["status"] == "existing"
    assert again["topic_name"] == opened["topic_name"]
    unsupported = pb.result("Open LPAR3 (no OS messages)")
    assert pb.status("Open LPAR3 (no OS messages)") == "ok" and unsupported["status"] == "unsupported"
    assert pb.status("Open LPAR3 strictly") == "failed"
    assert "409 reason 332" in pb.result("Open LPAR3 strictly")["msg"]
    assert pb.status("Open an unknown LPAR") == "failed"
    assert "NOLPAR" in pb.result("Open an unknown LPAR")["msg"]

    assert pb.status("Unwatch LPAR1") == "changed"
    assert opened["topic_name"] not in topics("Unwatch LPAR1")
    assert pb.status("Unwatch LPAR1 again") == "ok"
    watched = pb.result("Watch LPAR2")
    assert pb.status("Watch LPAR2") == "changed" and watched["topic_name"] in topics("Watch LPAR2")
    assert pb.status("Watch LPAR2 again") == "ok"
    unwatchable = pb.result("Watch LPAR3 (no OS messages)")
    assert pb.status("Watch LPAR3 (no OS messages)") == "ok" and unwatchable["status"] == "unsupported"
    assert "topic_name" not in unwatchable
    assert pb.status("Watch LPAR3 strictly") == "failed"
    strict = pb.result("Watch LPAR3 strictly")
    assert "409 reason 332" in strict["msg"] and "LPAR3" in strict["msg"] and strict["status"] == "unsupported"
    assert pb.status("Unsubscribe without a target") == "failed"
    assert "needs topic or os_message_channel" in pb.result("Unsubscribe without a target")["msg"]
    # what the modules reported is what the source holds
    assert watched["topic_name"] in _source_topics(sock)


def _rulebook_vars(sim, **extra):
    data = {"hmc_host": sim.host, "hmc_userid": sim.userid, "hmc_ca_certs": sim.ca_file,
            "hmc_ws_port": sim.ws_port, "hmc_stomp_port": sim.stomp_port}
    data.update(extra)
    return data


@pytest.mark.rulebook_lines
def test_os_message_reply_rulebook(hmcsim, collections_path, workdir):
    """A message matching the pattern is answered with Send OS Command; the OS echoes it."""
    require(_java_available(), "a JDK >= 17 for ansible-rulebook")
    sim = hmcsim
    reply = "R 12,YES-%s" % uuid.uuid4().hex[:6]
    variables = _rulebook_vars(sim, cpc_name="CPC1", partition_pattern="PART1",
                               message_pattern="^IEF238D", reply_command=reply)
    run = RulebookRun("zhmc.eda.os_message_reply", workdir, collections_path, variables=variables,
                      env_vars={PASSWORD_ENV: sim.password}, verbosity=1)
    with run:
        index, _ = run.wait_for(CONNECTED_LINE, timeout=90)
        sim.emit_os_messages("CPC1", "PART1", ["IEF238D JOB1 - REPLY DEVICE NAME OR 'CANCEL'."])
        run.wait_for(r"Replied %s to 'IEF238D JOB1" % reply, timeout=60, start=index)
        # hmcsim echoes a received command on the console, as an OS would
        run.wait_for(r"PART1: %s" % reply, timeout=30, start=index)
    assert sim.password not in run.output


def test_partition_not_operating_rulebook(hmcsim, collections_path, workdir):
    require(_java_available(), "a JDK >= 17 for ansible-rulebook")
    sim = hmcsim
    run = RulebookRun("zhmc.eda.partition_not_operating", workdir, collections_path,
                      variables=_rulebook_vars(sim), env_vars={PASSWORD_ENV: sim.password}, verbosity=1)
    with run:
        index, _ = run.wait_for(CONNECTED_LINE, timeout=90)
        sim.set_status("CPC2", "LPAR2", "operating")  # an operating state: no reaction
        sim.set_status("CPC2", "LPAR2", "not-operating")
        _, match = run.wait_for(r"logical-partition LPAR2 changed status from ([a-z-]+) to ([a-z-]+)",
                                timeout=60, start=index)
        assert match.groups() == ("operating", "not-operating")
        sim.set_status("CPC2", "LPAR2", "operating")
    assert sim.password not in run.output
    assert "changed status from not-operating to operating" not in run.output
