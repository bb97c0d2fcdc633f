"""End to end: ansible-rulebook runs zhmc.eda.notifications (from the collection under test)
against hmcsim. Several checks share one ansible-rulebook launch to keep the suite short.

Events are read back from the rulebook's `print_event` output; hmcsim is driven through its
Python API and admin endpoint; a second HMC session (the "operator") starts jobs.
"""
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.request

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlClient
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClient
from tests.support.rulebook import RulebookRun, write_rulebook

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

CONNECTED_LINE = r"zhmc\.eda\.notifications connected to"
STOPPED_LINE = r"zhmc\.eda\.notifications stopped"
PASSWORD_ENV = "ZHMC_TEST_PASSWORD"

# Short heart-beats and retries so that fault tests run in seconds.
FAST_RT_CONFIG = {
    "connect_timeout": 5,
    "connect_retries": 2,
    "reconnect_sleep_initial": 0.1,
    "reconnect_sleep_increase": 0.5,
    "reconnect_sleep_max": 1.0,
    "reconnect_sleep_jitter": 0.1,
    "heartbeat_send_cycle": 1.0,
    "heartbeat_receive_cycle": 1.0,
    "heartbeat_receive_check": 0.5,
}

KEEPALIVE_INTERVAL = 2

PRINT_ALL_RULE = {
    "name": "print every HMC event",
    "condition": "event.hmc is defined",
    "action": {"print_event": {}},
}


# ------------------------------------------------------------------------ helpers


def rulebook(source_args, rules=None):
    return [{
        "name": "zhmc.eda end-to-end",
        "hosts": "all",
        "gather_facts": False,
        "sources": [{"name": "hmc", "zhmc.eda.notifications": source_args}],
        "rules": rules or [PRINT_ALL_RULE],
    }]


def source_args(sim, **overrides):
    """Source options for an hmcsim; the password arrives through -E PASSWORD_ENV."""
    args = {
        "hmc_host": sim.host,
        "hmc_auth": {
            "userid": sim.userid,
            "password": "{{ %s }}" % PASSWORD_ENV,
            "ca_certs": sim.ca_file,
        },
        "ws_port": sim.ws_port,
        "stomp_port": sim.stomp_port,
        "stomp_retry_timeout_config": dict(FAST_RT_CONFIG),
    }
    args.update(overrides)
    return args


def start_rulebook(workdir, collections_path, sim, args, rules=None, verbosity=1,
                   password=None):
    path = write_rulebook(workdir, rulebook(args, rules))
    run = RulebookRun(path, workdir, collections_path, variables={},
                      env_vars={PASSWORD_ENV: sim.password if password is None else password},
                      verbosity=verbosity)
    return run.start()


def hmc(event):
    return event.get("hmc") or {}


def of_type(events, notification_type):
    return [e for e in events if hmc(e).get("notification_type") == notification_type]


def os_events(events, name=None):
    return [e for e in of_type(events, "os-message")
            if hmc(e).get("os_message") and (name is None or hmc(e)["object"]["name"] == name)]


def os_seqs(events, name=None):
    return [hmc(e)["os_message"]["sequence_number"] for e in os_events(events, name)]


def os_texts(events, name=None):
    return [hmc(e)["os_message"]["text"] for e in os_events(events, name)]


def states(events):
    return [hmc(e)["status"]["state"] for e in events if hmc(e).get("status")]


def admin(sim, method, **kwargs):
    """Drive hmcsim through its admin HTTP endpoint (as the demo does)."""
    request = urllib.request.Request(
        "http://127.0.0.1:%d/%s" % (sim.admin_port, method),
        data=json.dumps(kwargs).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["result"]


def operator_session(sim):
    """A second HMC session, as a playbook that starts a partition would have."""
    client = HMCClient(sim.host, userid=sim.userid, password=sim.password, port=sim.ws_port,
                       verify_cert=sim.ca_file)
    client.logon()
    return client


def assert_no_duplicates(values, what):
    duplicates = sorted(set(v for v in values if values.count(v) > 1))
    assert not duplicates, "%s emitted more than once: %s" % (what, duplicates)


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="zeda-rb-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------ tests


@pytest.mark.rulebook_lines
def test_events_job_status_control_filters_secrets_and_shutdown(
        fresh_hmcsim, collections_path, workdir):
    """One launch at -vv: OS messages split (held one included), a partition start's job
    completion with its status (job topic subscribed at runtime over the control socket),
    a status change, a malformed body; no secret in the output;
    SIGTERM ends it within 2 s with our session logged off."""
    sim = fresh_hmcsim
    socket_path = os.path.join(workdir, "ctl.sock")
    args = source_args(
        sim,
        topic_types=["object", "job", "audit"],
        os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}],
        job_status=True,
        status_events=True,
        control_socket=socket_path,
    )
    run = start_rulebook(workdir, collections_path, sim, args, verbosity=2)
    operator = None
    with run:
        run.wait_for(CONNECTED_LINE, timeout=60)
        assert oct(os.stat(socket_path).st_mode & 0o777) == "0o600"
        control = ControlClient(socket_path)
        listed = control.request("list")["subscriptions"]
        by_type = {s["topic_type"]: s for s in listed}
        assert set(by_type) == {"object-notification", "job-notification",
                                "audit-notification", "os-message-notification"}
        assert set(s["origin"] for s in listed) == {"config"}
        object_topic = by_type["object-notification"]["topic"]

        seqs = sim.emit_os_messages("CPC1", "PART1", [
            "IEE001I first message",
            {"message-text": "IEE002A reply needed", "is-held": True, "prompt-text": "R 01"},
        ])
        events = run.wait_for_events(lambda evs: len(os_events(evs)) >= 2, timeout=30)
        held = [e for e in os_events(events) if hmc(e)["os_message"]["is_held"]]
        assert [hmc(e)["os_message"]["text"] for e in held] == ["IEE002A reply needed"]
        assert sorted(os_seqs(events)) == sorted(seqs)
        uuids = [e["meta"]["uuid"] for e in os_events(events)]
        assert len(set(uuids)) == 2

        # a partition start in another session: its job topic is subscribed at runtime
        operator = operator_session(sim)
        answer = control.request("subscribe", topic=operator.job_topic)
        assert answer["changed"] is True
        assert {"topic": operator.job_topic, "origin": "runtime"}.items() <= \
            [s for s in answer["subscriptions"] if s["topic"] == operator.job_topic][0].items()
        # the operator's logon is in the HMC-wide audit log
        events = run.wait_for_events(lambda evs: of_type(evs, "log-entry"), timeout=30)
        entry = of_type(events, "log-entry")[0]
        assert hmc(entry)["topic_type"] == "audit-notification"
        assert hmc(entry)["log_entries"][0]["event-name"] == "Web Services API logon"
        job_uri = operator.post(sim.uri("CPC1", "PART3") + "/operations/start")["job-uri"]
        events = run.wait_for_events(lambda evs: of_type(evs, "job-completion"), timeout=30)
        job_event = of_type(events, "job-completion")[0]
        assert hmc(job_event)["job"]["uri"] == job_uri
        assert hmc(job_event)["job"]["status"] == "complete"
        assert hmc(job_event)["job"]["job_status_code"] == 200
        events = run.wait_for_events(
            lambda evs: any(hmc(e).get("object", {}).get("name") == "PART3"
                            for e in of_type(evs, "status-change")), timeout=30)

        # a status change driven through the admin endpoint, a bad body
        admin(sim, "set_status", cpc="CPC1", name="PART2", status="stopped")
        sim.publish_raw(object_topic, {"notification-type": "status-change",
                                       "object-uri": sim.uri("CPC1", "PART1"),
                                       "class": "partition", "name": "PART1"},
                        "{this is not json")
        events = run.wait_for_events(lambda evs: [e for e in evs if hmc(e).get("parse_error")],
                                     timeout=30)
        part2 = [e for e in of_type(events, "status-change")
                 if hmc(e)["object"]["name"] == "PART2"]
        assert part2, "no status-change event for PART2"
        bad = [e for e in events if hmc(e).get("parse_error")][0]
        assert hmc(bad)["raw_body"] == "{this is not json"
        assert "connected" in states(events)

        # secrets: password, session ids and credentials never in the -vv output
        secrets = [sim.password, operator.session_id, operator.session_credential]
        secrets += sim.session_ids()
        secrets += [session.credential for session in list(sim.hmc.sessions.values())]
        output = run.output
        for secret in secrets:
            assert secret not in output

        mark = len(run.lines)
        sent = time.monotonic()
        code, seconds = run.terminate(timeout=15)
        index, _match = run.wait_for(STOPPED_LINE, timeout=1, start=mark)
        cleanup = run.line_times[index] - sent
        print("\nSIGTERM -> source cleaned up (unsubscribed, disconnected, logged off): %.2f s; "
              "-> ansible-rulebook exited: %.2f s (exit code %s)" % (cleanup, seconds, code))
        if seconds > 2.0:
            print("\n".join("%.3f %s" % (t - sent, line[:160]) for t, line in
                            zip(run.line_times[mark:], run.lines[mark:], strict=False)))
        assert code == 0
        assert cleanup <= 2.0, "the source's clean-up took %.2f s" % cleanup
    # only the operator's session is left: the source logged its own off
    assert sim.session_ids() == [operator.session_id]
    operator.logoff()
    assert not os.path.exists(socket_path)


@pytest.mark.rulebook_lines
def test_recovery_drop_stall_error_expiry_restart(fresh_hmcsim, collections_path, workdir):
    """One launch through every fault hmcsim has; OS messages must arrive exactly once.

    - connections dropped: reconnect, the refresh replay is deduplicated;
    - heart-beats stalled: detected within hb x (1 + check) + 1 s;
    - an "unknown topic" ERROR frame: re-logon, channels re-opened;
    - session expired while the STOMP connection stays up: the keep-alive notices, re-logon;
    - HMC restart: re-logon, config and runtime channels re-opened (new topic names),
      messages emitted while down backfilled, nothing duplicated.
    """
    sim = fresh_hmcsim
    socket_path = os.path.join(workdir, "ctl.sock")
    args = source_args(
        sim,
        topic_types=["object"],
        os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}],
        status_events=True,
        control_socket=socket_path,
        keepalive_interval=KEEPALIVE_INTERVAL,
    )
    run = start_rulebook(workdir, collections_path, sim, args)
    emitted = {"PART1": [], "LPAR1": []}

    def emit(name, *texts):
        cpc = "CPC1" if name.startswith("PART") else "CPC2"
        emitted[name] += sim.emit_os_messages(cpc, name, list(texts))

    def wait_state(state, after, timeout=30):
        run.wait_for_events(lambda evs: states(evs[after:]).count(state) >= 1, timeout=timeout)
        return len(run.printed_events())

    def wait_texts(name, count, timeout=30):
        return run.wait_for_events(lambda evs: len(os_events(evs, name)) >= count,
                                   timeout=timeout)

    with run:
        run.wait_for(CONNECTED_LINE, timeout=60)
        # a runtime channel (classic LPAR) opened over the control socket
        answer = ControlClient(socket_path).request(
            "open_os_message_channel", cpc="CPC2", lpar="LPAR1")
        assert answer["changed"] is True
        emit("PART1", "part1 m1", "part1 m2")
        emit("LPAR1", "lpar1 m1")
        wait_texts("PART1", 2)
        wait_texts("LPAR1", 1)

        # 1. dropped connections -> reconnect; the refresh replay brings nothing twice
        mark = len(run.printed_events())
        sim.drop_stomp_connections()
        mark = wait_state("reconnected", mark)
        emit("PART1", "part1 after drop")
        wait_texts("PART1", 3)

        # 2. stalled heart-beats -> detected within hb x (1 + check) + 1 s
        limit = FAST_RT_CONFIG["heartbeat_receive_cycle"] * (
            1 + FAST_RT_CONFIG["heartbeat_receive_check"]) + 1
        stalled_at = time.monotonic()
        sim.stall_heartbeats(True)
        run.wait_for_events(lambda evs: "disconnected" in states(evs[mark:]), timeout=30)
        detected_at = [t for t, e in run.timed_events()[mark:]
                       if hmc(e).get("status", {}).get("state") == "disconnected"][0]
        sim.stall_heartbeats(False)
        detection = detected_at - stalled_at
        print("\nstalled heart-beats detected after %.2f s (limit %.1f s)" % (detection, limit))
        assert detection <= limit + 0.5, detection
        mark = wait_state("reconnected", mark)

        # 3. an ERROR frame naming our OS topic as unknown -> re-logon, channels re-opened
        part1_topic = [s["topic"] for s in ControlClient(socket_path).request("list")[
            "subscriptions"] if s["object_uri"] == sim.uri("CPC1", "PART1")][0]
        message = ("remote addConsumer failed because the specified destination, "
                   "'topic://%s', is not a known or approved topic." % part1_topic)
        sim.send_error_frame(message=message)
        mark = wait_state("relogon", mark)
        emit("PART1", "part1 after error frame")
        wait_texts("PART1", 4)

        # 4. session expired (the broker connection stays up): the keep-alive notices it
        #    within keepalive_interval, then re-logon
        sim.expire_session()
        mark = wait_state("relogon", mark, timeout=KEEPALIVE_INTERVAL + 10)
        emit("LPAR1", "lpar1 after expiry")
        wait_texts("LPAR1", 2)

        # 5. HMC restart; messages emitted while the source is down come by backfill
        sessions_before = set(sim.session_ids())
        sim.refuse_stomp(2)
        sim.restart()
        emit("PART1", "part1 while down 1", "part1 while down 2")
        emit("LPAR1", "lpar1 while down")
        mark = wait_state("relogon", mark)
        emit("PART1", "part1 after restart")
        emit("LPAR1", "lpar1 after restart")
        events = run.wait_for_events(
            lambda evs: len(os_events(evs, "PART1")) >= 7 and len(os_events(evs, "LPAR1")) >= 4,
            timeout=30)
        time.sleep(1.0)  # let any duplicate that would follow arrive
        events = run.printed_events()
        assert set(sim.session_ids()).isdisjoint(sessions_before)
        channels = ControlClient(socket_path).request("list")["subscriptions"]
        origins = {s["object_uri"]: s["origin"] for s in channels if s["object_uri"]}
        assert origins == {sim.uri("CPC1", "PART1"): "config",
                           sim.uri("CPC2", "LPAR1"): "runtime"}
        run.terminate(timeout=15)

    for name in ("PART1", "LPAR1"):
        seqs = os_seqs(events, name)
        assert_no_duplicates(seqs, "%s OS messages" % name)
        assert sorted(seqs) == sorted(emitted[name]), (name, os_texts(events, name))
    backfilled = [hmc(e)["os_message"]["text"] for e in os_events(events)
                  if hmc(e).get("origin") == "backfill" or hmc(e)["os_message"]["is_refresh"]]
    assert "part1 while down 1" in backfilled
    assert "lpar1 while down" in backfilled


def test_backfill_filters_and_unknown_runtime_topic(fresh_hmcsim, collections_path, workdir):
    """Without refresh messages, OS messages emitted while the HMC restarts arrive by
    backfill (List OS Messages), once; notification_types and classes filter before the
    queue; a runtime topic the broker does not know is dropped with an error status (no
    loop); channels opened and closed over the control socket stay so across a re-logon."""
    sim = fresh_hmcsim
    socket_path = os.path.join(workdir, "ctl.sock")
    args = source_args(
        sim,
        topic_types=["object"],
        os_message_channels=[{"cpc": "CPC1", "partition": "PART.*"}],  # PART3: unsupported
        include_refresh_messages=False,
        notification_types=["os-message", "status-change"],
        classes=["partition"],
        status_events=True,
        control_socket=socket_path,
    )
    run = start_rulebook(workdir, collections_path, sim, args)
    with run:
        run.wait_for(CONNECTED_LINE, timeout=60)
        listed = ControlClient(socket_path).request("list")["subscriptions"]
        assert sorted(s["object_uri"] for s in listed if s["object_uri"]) == sorted(
            [sim.uri("CPC1", "PART1"), sim.uri("CPC1", "PART2")])
        first = sim.emit_os_messages("CPC1", "PART2", ["before 1", "before 2"])
        sim.set_status("CPC1", None, "service")               # class cpc: filtered out
        sim.emit_inventory_change("CPC1", "PART1")            # inventory-change: filtered out
        sim.set_status("CPC1", "PART1", "stopped")            # kept
        run.wait_for_events(lambda evs: len(os_events(evs, "PART2")) >= 2
                            and of_type(evs, "status-change"), timeout=30)

        # a runtime topic nobody knows: dropped with an error status, the stream continues
        ControlClient(socket_path).request("subscribe", topic="no.such.topic")
        run.wait_for_events(
            lambda evs: [e for e in evs if hmc(e).get("status", {}).get("state") == "error"
                         and hmc(e)["status"].get("topic") == "no.such.topic"], timeout=30)
        mark = len(run.printed_events())
        run.wait_for_events(lambda evs: "reconnected" in states(evs[mark:]), timeout=30)
        listed = ControlClient(socket_path).request("list")["subscriptions"]
        assert "no.such.topic" not in [s["topic"] for s in listed]

        # control: check mode changes nothing; a closed config channel stays closed and a
        # runtime channel is re-opened after the HMC restart below
        control = ControlClient(socket_path)
        answer = control.request("open_os_message_channel", cpc="CPC2", lpar="LPAR2",
                                 check_mode=True)
        assert answer["changed"] is True
        assert sim.uri("CPC2", "LPAR2") not in [s["object_uri"] for s in answer["subscriptions"]]
        assert control.request("open_os_message_channel", cpc="CPC2", lpar="LPAR2")["changed"]
        assert control.request("close_os_message_channel", cpc="CPC1",
                               partition="PART1")["changed"]
        again = control.request("close_os_message_channel", cpc="CPC1", partition="PART1")
        assert again["changed"] is False

        sim.refuse_stomp(2)
        sim.restart()
        down = sim.emit_os_messages("CPC1", "PART2", ["down 1", "down 2"])
        run.wait_for_events(lambda evs: "relogon" in states(evs[mark:]), timeout=30)
        uris = {s["object_uri"]: s["origin"]
                for s in control.request("list")["subscriptions"] if s["object_uri"]}
        assert uris == {sim.uri("CPC1", "PART2"): "config", sim.uri("CPC2", "LPAR2"): "runtime"}
        after = sim.emit_os_messages("CPC1", "PART2", ["after"])
        events = run.wait_for_events(lambda evs: len(os_events(evs, "PART2")) >= 5, timeout=30)
        time.sleep(1.0)
        events = run.printed_events()
        run.terminate(timeout=15)

    assert sorted(os_seqs(events, "PART2")) == sorted(first + down + after)
    origins = {hmc(e)["os_message"]["text"]: hmc(e)["origin"] for e in os_events(events)}
    assert origins["down 1"] == origins["down 2"] == "backfill"
    assert origins["after"] == "live"
    kinds = set(hmc(e)["notification_type"] for e in events)
    assert kinds == {"os-message", "status", "status-change"}, kinds
    assert set(hmc(e)["object"]["class"] for e in of_type(events, "status-change")) == {"partition"}


@pytest.mark.rulebook_lines
def test_bad_option_and_wrong_password_exit_1(fresh_hmcsim, collections_path, workdir):
    """Configuration and authentication errors at start end the rulebook with exit 1 and
    our message (naming the option); the password is not in the output; an unreachable HMC
    is retried connect_retries times, then the same."""
    sim = fresh_hmcsim
    bad = source_args(sim, topic_types=["object", "jobs"])
    run = start_rulebook(workdir, collections_path, sim, bad)
    with run:
        code = run.wait(timeout=60)
        assert code == 1
        run.wait_for(r"zhmc\.eda\.notifications: .*topic_types", timeout=1)

    wrong = source_args(sim, topic_types=["object"])
    run = start_rulebook(workdir, collections_path, sim, wrong, password="not-the-password")
    with run:
        code = run.wait(timeout=60)
        assert code == 1
        run.wait_for(r"(?i)logon failed|not valid|auth", timeout=1)
        assert "not-the-password" not in run.output
        assert sim.password not in run.output

    # topics only (STOMP alone): the broker refuses the login -> exit 1 at once, no retries
    wrong_stomp = source_args(sim, topics=[sim.info["audit_topic"]])
    run = start_rulebook(workdir, collections_path, sim, wrong_stomp, password="not-the-password")
    with run:
        assert run.wait(timeout=60) == 1
        run.wait_for(r"SourceAuthError.*login failed", timeout=1)
        assert "attempt" not in run.output
        assert "not-the-password" not in run.output

    # an HMC that cannot be reached at start: 1 + connect_retries attempts, then exit 1
    unreachable = source_args(sim, topic_types=["object"], ws_port=closed_port())
    run = start_rulebook(workdir, collections_path, sim, unreachable)
    with run:
        code = run.wait(timeout=60)
        assert code == 1
        run.wait_for(r"could not log on to the HMC Web Services API after %d attempts"
                     % (1 + FAST_RT_CONFIG["connect_retries"]), timeout=1)


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_given_session_is_used_not_logged_off_and_not_renewed(
        fresh_hmcsim, collections_path, workdir):
    """hmc_auth with session_id + session_credential (the MFA way): the source uses that
    session for the WS API and the broker, leaves it logged on at shutdown, and ends with a
    clear error (exit 1) once it expires, since it has no password to log on again."""
    sim = fresh_hmcsim
    operator = operator_session(sim)
    auth = {"session_id": "{{ ZHMC_TEST_SESSION_ID }}",
            "session_credential": "{{ ZHMC_TEST_SESSION_CREDENTIAL }}",
            "ca_certs": sim.ca_file}
    args = source_args(sim, hmc_auth=auth, topic_types=["object"], status_events=True)
    env = {"ZHMC_TEST_SESSION_ID": operator.session_id,
           "ZHMC_TEST_SESSION_CREDENTIAL": operator.session_credential}

    def launch():
        path = write_rulebook(workdir, rulebook(args))
        return RulebookRun(path, workdir, collections_path, variables={}, env_vars=env).start()

    with launch() as run:
        run.wait_for(CONNECTED_LINE, timeout=60)
        sim.set_status("CPC1", "PART1", "stopped")
        events = run.wait_for_events(lambda evs: of_type(evs, "status-change"), timeout=30)
        assert hmc(of_type(events, "status-change")[0])["topic"] == operator.object_topic
        code, _seconds = run.terminate(timeout=15)
        assert code == 0
    assert sim.session_ids() == [operator.session_id]   # not logged off, no other session

    with launch() as run:
        run.wait_for(CONNECTED_LINE, timeout=60)
        sim.expire_session(operator.session_id)
        sim.drop_stomp_connections()
        assert run.wait(timeout=60) == 1
        run.wait_for(r"cannot be renewed without hmc_auth\.password", timeout=1)
        for secret in (operator.session_id, operator.session_credential):
            assert secret not in run.output
    assert sim.session_ids() == []


@pytest.mark.rulebook_lines
def test_digits_only_password_and_templated_ports_are_coerced(collections_path, workdir):
    """ansible-rulebook's native templating turns "{{ VAR }}" with digits into an int: a
    digits-only password and ports from environment variables still work."""
    import secrets as random_secrets

    from hmcsim import HmcSim
    from hmcsim.config import default_config

    password = str(10 ** 11 + random_secrets.randbelow(9 * 10 ** 11))  # 12 digits
    config = default_config()
    config["users"] = [{"userid": "operator1", "password": password}]
    sim = HmcSim(os.path.join(workdir, "sim"), config=config, heartbeat_ms=1000)
    sim.start()
    try:
        args = source_args(sim, topic_types=["object"], ws_port="{{ ZHMC_TEST_WS_PORT }}",
                           stomp_port="{{ ZHMC_TEST_STOMP_PORT }}")
        path = write_rulebook(workdir, rulebook(args))
        env = {PASSWORD_ENV: password, "ZHMC_TEST_WS_PORT": str(sim.ws_port),
               "ZHMC_TEST_STOMP_PORT": str(sim.stomp_port)}
        with RulebookRun(path, workdir, collections_path, variables={}, env_vars=env) as run:
            run.wait_for(CONNECTED_LINE, timeout=60)
            sim.set_status("CPC1", "PART1", "stopped")
            run.wait_for_events(lambda evs: of_type(evs, "status-change"), timeout=30)
            assert password not in run.output
    finally:
        sim.stop()
