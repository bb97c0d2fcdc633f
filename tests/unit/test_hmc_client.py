"""HMCClient against the real hmcsim over verified HTTPS (and a few purpose-built servers)."""
import json
import logging
import re
import socket
import ssl
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import (
    HMCAuthError,
    HMCClient,
    HMCConnectionError,
    HMCError,
)


def make_client(sim, **kwargs):
    kwargs.setdefault("userid", sim.userid)
    kwargs.setdefault("password", sim.password)
    kwargs.setdefault("verify_cert", sim.ca_file)
    kwargs.setdefault("timeout", (5, 20))
    return HMCClient(kwargs.pop("hosts", "127.0.0.1"), port=kwargs.pop("port", sim.ws_port),
                     **kwargs)


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def client(hmcsim):
    hmc = make_client(hmcsim)
    yield hmc
    hmc.logoff()
    hmc.close()


# --- logon, logoff, hosts -----------------------------------------------------------------

def test_logon_reads_session_topics_and_version_and_logoff_ends_it(hmcsim):
    hmc = make_client(hmcsim)
    session_id = hmc.logon()
    assert session_id == hmc.session_id and session_id in hmcsim.session_ids()
    assert hmc.session_credential
    assert hmc.host == "127.0.0.1"
    assert hmc.object_topic.endswith("obj") and hmc.job_topic.endswith("job")
    assert hmc.api_version == (4, 40)
    assert hmc.owns_session
    topics = {t["topic-type"]: t["topic-name"] for t in hmc.get_notification_topics()}
    assert topics["object-notification"] == hmc.object_topic
    assert topics["job-notification"] == hmc.job_topic
    assert topics["audit-notification"] == hmcsim.info["audit_topic"]

    hmc.logoff()
    assert session_id not in hmcsim.session_ids()
    assert hmc.session_id is None and hmc.object_topic is None and hmc.job_topic is None
    hmc.logoff()  # nothing to do, no error


def test_first_request_logs_on_by_itself(client, hmcsim):
    assert client.session_id is None
    assert [c["name"] for c in client.list_cpcs()] == ["CPC1", "CPC2"]
    assert client.session_id in hmcsim.session_ids()


def test_wrong_password_is_an_auth_error_without_the_password(hmcsim):
    hmc = make_client(hmcsim, password="not-" + hmcsim.password)
    with pytest.raises(HMCAuthError) as info:
        hmc.logon()
    assert (info.value.http_status, info.value.reason) == (403, 0)
    assert str(info.value).startswith("HTTP 403 reason 0 on POST /api/sessions: Logon failed")
    assert hmcsim.password not in str(info.value)


def test_redundant_hosts_first_reachable_wins(hmcsim):
    # 127.0.0.2 is loopback too, but the simulator listens on 127.0.0.1 only: refused.
    hmc = make_client(hmcsim, hosts=["127.0.0.2", "localhost", "127.0.0.1"])
    hmc.logon()
    assert hmc.host == "localhost"
    assert hmc.session_id in hmcsim.session_ids()
    hmc.logoff()


def test_no_reachable_host_names_every_host_and_port():
    port = closed_port()
    hmc = HMCClient(["127.0.0.1", "127.0.0.2"], "hmcuser", "pw-not-in-texts", port=port, timeout=(2, 2))
    started = time.monotonic()
    with pytest.raises(HMCConnectionError) as info:
        hmc.logon()
    assert time.monotonic() - started < 5
    text = str(info.value)
    assert "HMC 127.0.0.1:%d: POST /api/sessions failed:" % port in text
    assert "HMC 127.0.0.2:%d" % port in text
    assert "refused" in text.lower()


def test_reused_session_is_not_logged_off_unless_forced(hmcsim, client):
    client.logon()
    reuser = make_client(hmcsim, userid=None, password=None, session_id=client.session_id,
                         session_credential=client.session_credential)
    assert not reuser.owns_session
    assert reuser.find_cpcs("CPC1")[0]["name"] == "CPC1"
    assert reuser.host == "127.0.0.1"
    reuser.logoff()
    assert client.session_id in hmcsim.session_ids()
    assert client.get_notification_topics()  # still valid

    forced = make_client(hmcsim, userid=None, password=None, session_id=client.session_id)
    forced.logoff(force=True)
    assert client.session_id not in hmcsim.session_ids()


def test_expired_reused_session_without_password_says_so(fresh_hmcsim):
    owner = make_client(fresh_hmcsim)
    owner.logon()
    reuser = make_client(fresh_hmcsim, userid=None, password=None, session_id=owner.session_id)
    fresh_hmcsim.expire_session()
    with pytest.raises(HMCAuthError) as info:
        reuser.get_notification_topics()
    assert (info.value.http_status, info.value.reason) == (403, 5)
    assert "session has expired or is not valid" in str(info.value)
    assert "no password was given to log on again" in str(info.value)
    assert owner.session_id not in str(info.value)
    assert reuser.relogon_count == 0


def test_reused_session_with_password_logs_on_again_and_then_owns_it(fresh_hmcsim):
    owner = make_client(fresh_hmcsim)
    owner.logon()
    reuser = make_client(fresh_hmcsim, session_id=owner.session_id)
    fresh_hmcsim.expire_session(owner.session_id)
    reuser.get_notification_topics()
    assert reuser.relogon_count == 1 and reuser.owns_session
    new_session = reuser.session_id
    reuser.logoff()
    assert new_session not in fresh_hmcsim.session_ids()


# --- re-logon -------------------------------------------------------------------------------

def test_expired_session_is_renewed_once_and_callbacks_see_new_topics(fresh_hmcsim):
    hmc = make_client(fresh_hmcsim)
    hmc.logon()
    old = (hmc.session_id, hmc.object_topic, hmc.job_topic)
    seen = []
    hmc.on_relogon.append(lambda c: seen.append((c.session_id, c.object_topic, c.job_topic)))
    hmc.on_relogon.append(lambda c: 1 / 0)  # a failing callback does not break the request
    fresh_hmcsim.expire_session()

    topics = hmc.keepalive()
    assert hmc.relogon_count == 1
    assert seen == [(hmc.session_id, hmc.object_topic, hmc.job_topic)]
    assert hmc.session_id != old[0] and hmc.object_topic != old[1] and hmc.job_topic != old[2]
    assert hmc.object_topic in [t["topic-name"] for t in topics]
    assert fresh_hmcsim.session_ids() == [hmc.session_id]
    hmc.keepalive()
    assert hmc.relogon_count == 1 and len(seen) == 1


def test_restart_of_the_hmc_renews_the_session_and_channels_open_anew(fresh_hmcsim):
    hmc = make_client(fresh_hmcsim)
    part1 = hmc.find_partitions("CPC1", "PART1")[0]["uri"]
    first_topic, status = hmc.open_os_message_channel(part1)
    assert status == "opened"
    calls = []
    hmc.on_relogon.append(calls.append)
    old_object_topic = hmc.object_topic

    fresh_hmcsim.restart()
    second_topic, status = hmc.open_os_message_channel(part1)
    assert status == "opened"  # a new session: the channel is new too
    assert second_topic != first_topic
    assert calls == [hmc] and hmc.relogon_count == 1
    assert hmc.object_topic != old_object_topic


def test_concurrent_requests_after_expiry_renew_only_once(fresh_hmcsim):
    hmc = make_client(fresh_hmcsim)
    hmc.logon()
    fresh_hmcsim.expire_session()
    errors = []

    def work():
        try:
            hmc.keepalive()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for dummy in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert hmc.relogon_count == 1
    assert fresh_hmcsim.session_ids() == [hmc.session_id]


# --- TLS ------------------------------------------------------------------------------------

def test_default_trust_refuses_the_simulators_certificate(hmcsim, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    hmc = make_client(hmcsim, verify_cert=True)
    with pytest.raises(HMCConnectionError) as info:
        hmc.logon()
    text = str(info.value)
    assert text.startswith("HMC 127.0.0.1:%d: POST /api/sessions failed: TLS certificate "
                           "verification failed (" % hmcsim.ws_port)
    assert "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text
    assert "give the HMC's CA certificate in hmc_auth.ca_certs (or set hmc_auth.verify: false" in text
    assert "verify_cert" not in text  # not an option anywhere


def test_requests_ca_bundle_is_honoured_for_verify_true(hmcsim, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", hmcsim.ca_file)
    hmc = make_client(hmcsim, verify_cert=True)
    assert hmc.logon()
    hmc.logoff()


def test_explicit_ca_file_wins_over_the_environment(hmcsim, monkeypatch, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    hmc = make_client(hmcsim, verify_cert=hmcsim.ca_file)
    assert hmc.logon()
    hmc.logoff()
    wrong = make_client(hmcsim, verify_cert=str(other_ca))
    with pytest.raises(HMCConnectionError, match="certificate verif"):
        wrong.logon()


def test_verify_false_warns_once_and_silences_urllib3_for_that_host_only(hmcsim, caplog):
    from urllib3.exceptions import InsecureRequestWarning

    def urllib3_warning(host):
        warnings.warn_explicit(
            InsecureRequestWarning("Unverified HTTPS request is being made to host '%s'. "
                                   "Adding certificate verification is strongly advised." % host),
            InsecureRequestWarning, "connectionpool.py", 1, module="urllib3.connectionpool")

    with caplog.at_level(logging.WARNING, logger="zhmc.eda.hmc_client"):
        hmc = make_client(hmcsim, verify_cert=False)
        with warnings.catch_warnings(record=True) as caught:
            hmc.logon()
            hmc.list_cpcs()
            hmc.logoff()
            urllib3_warning("127.0.0.1")
            urllib3_warning("10.0.0.1")  # a host of no client of ours: still warned
    disabled = [r for r in caplog.records if "verification" in r.getMessage()]
    assert len(disabled) == 1 and "is disabled" in disabled[0].getMessage()
    assert [str(w.message) for w in caught if "Unverified" in str(w.message)] == [
        "Unverified HTTPS request is being made to host '10.0.0.1'. "
        "Adding certificate verification is strongly advised."]


def test_missing_ca_file_is_a_clear_value_error(hmcsim, tmp_path):
    with pytest.raises(ValueError, match="verify_cert: the CA file or directory does not exist"):
        make_client(hmcsim, verify_cert=str(tmp_path / "nope.pem"))


# --- lookups -------------------------------------------------------------------------------

def test_find_with_regexes_literal_names_and_no_match(client):
    cpcs = client.find_cpcs("CPC.*")
    assert [(c["name"], c["dpm-enabled"]) for c in cpcs] == [("CPC1", True), ("CPC2", False)]
    assert client.find_cpcs("CPC") == []  # full match, not search

    parts = client.find_partitions("CPC.*", "PART[12]")
    assert [(p["name"], p["class"], p["cpc_name"], p["status"]) for p in parts] == [
        ("PART1", "partition", "CPC1", "active"), ("PART2", "partition", "CPC1", "active")]
    assert parts[0]["uri"].startswith("/api/partitions/")
    assert parts[0]["uri"].endswith("/" + parts[0]["id"])
    assert parts[0]["cpc_uri"] == cpcs[0]["object-uri"]

    assert [p["name"] for p in client.find_partitions("CPC1", re.escape("PART3"))] == ["PART3"]
    # metacharacters travel URL-encoded: comma, braces, alternation, plus, spaces
    assert [p["name"] for p in client.find_partitions("CPC1", "P(ART){1,1}[1-2]")] == [
        "PART1", "PART2"]
    assert [p["name"] for p in client.find_partitions("CPC1", "PART1|PART3")] == [
        "PART1", "PART3"]
    assert [p["name"] for p in client.find_partitions("CPC1", "PAR+T2( x)?")] == ["PART2"]
    assert client.find_partitions("CPC1", "PART") == []
    assert client.find_partitions("CPC2", ".*") == []  # classic CPC: no partitions

    lpars = client.find_lpars("CPC2", "LPAR[13]")
    assert [(lp["name"], lp["class"]) for lp in lpars] == [
        ("LPAR1", "logical-partition"), ("LPAR3", "logical-partition")]
    # the HMC answers an empty LPAR match with 404 reason 1: still just "no match"
    assert client.find_lpars("CPC2", "NOSUCH") == []
    assert client.find_lpars("NOCPC", ".*") == []


def test_find_os_objects_picks_the_kind_per_cpc(client):
    both = client.find_os_objects(".*")
    assert [o["name"] for o in both] == ["PART1", "PART2", "PART3", "LPAR1", "LPAR2", "LPAR3"]
    only_lpars = client.find_os_objects(".*", lpar_regex="LPAR2")
    assert [(o["name"], o["cpc_name"]) for o in only_lpars] == [("LPAR2", "CPC2")]
    mixed = client.find_os_objects("CPC[12]", partition_regex="PART1", lpar_regex="LPAR1")
    assert [o["name"] for o in mixed] == ["PART1", "LPAR1"]


def test_bad_regex_is_a_value_error_naming_it(client):
    with pytest.raises(ValueError, match=r"partition name regex 'PART\[' is not a valid"):
        client.find_partitions("CPC1", "PART[")
    with pytest.raises(ValueError, match="cpc name regex must be a non-empty string"):
        client.find_cpcs("")


def test_get_properties_subset_and_error_format(client, hmcsim):
    uri = hmcsim.uri("CPC1", "PART1")
    props = client.get_properties(uri, ["name", "status"])
    assert props["name"] == "PART1" and props["status"] == "active"
    with pytest.raises(HMCError) as info:
        client.get_properties("/api/partitions/no-such-id")
    assert str(info.value) == ("HTTP 404 reason 1 on GET /api/partitions/no-such-id: "
                               "The object designated by the request URI does not exist.")
    assert not isinstance(info.value, HMCAuthError)
    assert (info.value.http_status, info.value.reason, info.value.method) == (404, 1, "GET")


# --- OS messages ---------------------------------------------------------------------------

def test_open_channel_opened_existing_unsupported(client, hmcsim):
    part1 = hmcsim.uri("CPC1", "PART1")
    topic, status = client.open_os_message_channel(part1)
    assert status == "opened" and topic
    assert client.open_os_message_channel(part1) == (topic, "existing")
    assert client.find_os_message_topic(part1) == topic
    assert client.open_os_message_channel(hmcsim.uri("CPC1", "PART3")) == (None, "unsupported")
    assert client.open_os_message_channel(hmcsim.uri("CPC2", "LPAR3")) == (None, "unsupported")
    lpar_topic, status = client.open_os_message_channel(hmcsim.uri("CPC2", "LPAR1"),
                                                        include_refresh_messages=False)
    assert status == "opened"
    items = {t["topic-name"]: t for t in client.get_notification_topics()}
    assert items[lpar_topic]["include-refresh-messages"] is False
    assert items[topic]["include-refresh-messages"] is True


def test_existing_channel_is_matched_by_object_id_only(client, hmcsim):
    part2 = hmcsim.uri("CPC1", "PART2")
    topic = client.open_os_message_channel(part2)[0]
    bare_id_items = [{"topic-type": "os-message-notification", "topic-name": "other",
                      "object-uri": "/api/partitions/not-it"},
                     {"topic-type": "os-message-notification", "topic-name": topic,
                      "object-uri": part2.rsplit("/", 1)[1]}]
    assert client.find_os_message_topic(part2, topics=bare_id_items) == topic
    assert client.find_os_message_topic("/api/partitions/zzz", topics=bare_id_items) is None


def test_list_os_messages_ranges(client, hmcsim):
    lpar = hmcsim.uri("CPC2", "LPAR2")
    seqs = hmcsim.emit_os_messages("CPC2", "LPAR2", ["m1", "m2", "m3", "m4"])
    everything = client.list_os_messages(lpar)
    assert [m["sequence-number"] for m in everything][-4:] == seqs
    middle = client.list_os_messages(lpar, begin=seqs[1], end=seqs[2])
    assert [m["message-text"] for m in middle] == ["m2", "m3"]
    assert [m["message-text"] for m in client.list_os_messages(lpar, begin=seqs[3])] == ["m4"]
    assert client.list_os_messages(lpar, begin=seqs[3] + 1) == []
    with pytest.raises(ValueError, match="begin must be a sequence number"):
        client.list_os_messages(lpar, begin=-1)
    with pytest.raises(ValueError, match=r"begin \(5\) must not be greater than end \(2\)"):
        client.list_os_messages(lpar, begin=5, end=2)
    with pytest.raises(ValueError, match="object_uri must be a URI starting with"):
        client.list_os_messages("/api/cpcs/x")


def test_send_os_command_is_echoed_and_validated(client, hmcsim):
    part2 = hmcsim.uri("CPC1", "PART2")
    client.send_os_command(part2, "echo hello")
    client.send_os_command(part2, "x" * 200, is_priority=True)
    last_two = client.list_os_messages(part2)[-2:]
    assert [m["message-text"] for m in last_two] == ["echo hello\n", "x" * 200 + "\n"]
    assert [m["is-priority"] for m in last_two] == [False, True]
    for bad, what in (("", "got 0 characters"), ("y" * 201, "got 201 characters"),
                      (None, "got NoneType")):
        with pytest.raises(ValueError, match="OS command text must be a string of 1 to 200 "
                                             "characters, " + what):
            client.send_os_command(part2, bad)
    with pytest.raises(HMCError) as info:
        client.send_os_command(hmcsim.uri("CPC1", "PART3"), "ls")
    assert info.value.http_status == 409
    assert str(info.value).startswith(
        "HTTP 409 reason 332 on POST /api/partitions/%s/operations/send-os-cmd: "
        % hmcsim.uri("CPC1", "PART3").rsplit("/", 1)[1])


# --- jobs ----------------------------------------------------------------------------------

def test_job_status_of_an_operation_started_with_post(fresh_hmcsim):
    hmc = make_client(fresh_hmcsim)
    part1 = fresh_hmcsim.uri("CPC1", "PART1")
    job = hmc.post(part1 + "/operations/stop")["job-uri"]
    assert job.startswith("/api/jobs/")
    assert hmc.query_job_status(job)["status"] in ("running", "complete")
    with pytest.raises(HMCError, match="HTTP 409 reason 1 on POST .*/operations/stop"):
        hmc.post(part1 + "/operations/stop")  # already stopping
    for _ in range(200):
        final = hmc.query_job_status(job)
        if final["status"] == "complete":
            break
        time.sleep(0.05)
    assert final["status"] == "complete" and final["job-status-code"] == 200
    assert hmc.get_properties(part1, ["status"])["status"] == "stopped"
    with pytest.raises(ValueError, match="job_uri must be a URI starting with /api/jobs/"):
        hmc.query_job_status("/api/jobs/")
    with pytest.raises(ValueError, match="uri must be an HMC URI starting with /api/"):
        hmc.post("operations/start")


# --- arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"hosts": []}, "hosts must be a host name or a non-empty list"),
    ({"hosts": ["ok", ""]}, "hosts: '' is not a host name"),
    ({"port": 0}, "port must be an integer from 1 to 65535, got 0"),
    ({"port": "6794"}, "port must be an integer"),
    ({"password": None}, "needs either userid and password or a session_id"),
    ({"userid": None}, "userid must be given together with password"),
    ({"timeout": (1, 0)}, r"timeout must be a positive number or a \(connect, read\) pair"),
    ({"verify_cert": "yes please"}, "verify_cert: the CA file or directory does not exist"),
])
def test_bad_arguments_are_named(kwargs, message):
    args = {"userid": "u", "password": "p"}
    args.update(kwargs)
    hosts = args.pop("hosts", "127.0.0.1")
    with pytest.raises(ValueError, match=message):
        HMCClient(hosts, **args)


# --- secrets -------------------------------------------------------------------------------

def test_no_secret_reaches_any_log_at_debug(fresh_hmcsim, caplog):
    secrets = [fresh_hmcsim.password]
    caplog.set_level(logging.DEBUG)  # root: requests, urllib3, hmcsim, ours
    bad = make_client(fresh_hmcsim, password="wrong-" + fresh_hmcsim.password)
    with pytest.raises(HMCAuthError) as info:
        bad.logon()
    secrets.append("wrong-" + fresh_hmcsim.password)
    messages = [str(info.value)]

    hmc = make_client(fresh_hmcsim)
    hmc.logon()
    secrets += [hmc.session_id, hmc.session_credential]
    hmc.open_os_message_channel(fresh_hmcsim.uri("CPC1", "PART1"))
    fresh_hmcsim.expire_session()
    hmc.find_os_objects(".*")  # renews the session
    secrets += [hmc.session_id, hmc.session_credential]
    with pytest.raises(HMCError) as info:
        hmc.get_properties("/api/partitions/none")
    messages.append(str(info.value))
    messages.append(repr(hmc))
    hmc.logoff()

    text = caplog.text + "\n".join(messages)
    assert "POST /api/sessions" in caplog.text  # debug logging did happen
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert hmc.relogon_count == 1
    for secret in secrets:
        assert secret and secret not in text


# --- purpose-built servers: HTML 5xx, 403 reason 1, retries ---------------------------------

class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.server.hits.append(("GET", self.path))
        if self.path == "/api/disabled":
            self._reply(503, "<html><head><title>Error</title></head><body><h1>The Web "
                             "Services API is not enabled on this HMC</h1></body></html>",
                        "text/html")
        elif self.path == "/api/broken":
            self._reply(500, "<html><body><p>Internal\n  Server Error</p></body></html>",
                        "text/html")
        elif self.path == "/api/forbidden":
            self._reply(403, json.dumps({"http-status": 403, "reason": 1,
                                         "message": "No permission for the object."}),
                        "application/json")
        elif self.path == "/api/unauth":
            self._reply(401, "", "text/plain")
        elif self.path.startswith("/api/busy"):
            # /api/busy-N: 503 (HTML, as the HMC sends it) to the first N requests
            seen = self.server.hits.count(("GET", self.path))
            if seen <= int(self.path.rsplit("-", 1)[1]):
                self._reply(503, "<html><body><h1>503 Service Unavailable</h1></body></html>",
                            "text/html")
            else:
                self._reply(200, json.dumps({"ok": True}), "application/json")
        elif self.path == "/api/retry-later":
            self.send_response(503)
            self.send_header("Retry-After", self.server.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._reply(200, json.dumps({"ok": True}), "application/json")

    def do_POST(self):
        self.server.hits.append(("POST", self.path))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._reply(200, json.dumps({"api-session": "scripted-session-id",
                                     "session-credential": "scripted-credential"}),
                    "application/json")


@pytest.fixture(scope="module")
def scripted_server(tmp_path_factory):
    ca = trustme.CA()
    ca_file = str(tmp_path_factory.mktemp("scripted") / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHandler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.hits = []
    server.retry_after = "3"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    yield server, ca_file
    server.shutdown()
    server.server_close()


def scripted_client(scripted_server):
    server, ca_file = scripted_server
    return HMCClient("127.0.0.1", "hmcuser", "pw-not-in-texts", port=server.server_address[1],
                     verify_cert=ca_file, timeout=(5, 5))


def test_html_5xx_pages_get_reasons_900_and_999(scripted_server):
    hmc = scripted_client(scripted_server)
    with pytest.raises(HMCError) as info:
        hmc.get_properties("/api/disabled")
    assert str(info.value) == ("HTTP 503 reason 900 on GET /api/disabled: Error The Web "
                               "Services API is not enabled on this HMC")
    with pytest.raises(HMCError) as info:
        hmc.get_properties("/api/broken")
    assert str(info.value) == "HTTP 500 reason 999 on GET /api/broken: Internal Server Error"


def test_busy_answers_are_retried_a_bounded_number_of_times_with_back_off(scripted_server):
    server, _ca = scripted_server
    hmc = scripted_client(scripted_server)
    waits = []
    hmc._http.sleep = waits.append  # count the waits instead of waiting
    assert hmc.get_properties("/api/busy-2") == {"ok": True}  # 503, 503, then the answer
    assert server.hits.count(("GET", "/api/busy-2")) == 3
    assert len(waits) == 2 and 1.0 <= waits[0] <= 1.5 and 2.0 <= waits[1] <= 3.0
    waits.clear()
    with pytest.raises(HMCError) as info:
        hmc.get_properties("/api/busy-5")  # busier than the retries last
    assert info.value.http_status == 503 and info.value.reason == 999
    assert server.hits.count(("GET", "/api/busy-5")) == 3 and len(waits) == 2
    # Retry-After is honoured when it is short, and not waited for when it is long
    waits.clear()
    with pytest.raises(HMCError):
        hmc.get_properties("/api/retry-later")
    assert waits == [3.0, 3.0]
    server.retry_after = "3600"
    waits.clear()
    with pytest.raises(HMCError):
        hmc.get_properties("/api/retry-later")
    assert waits == []
    # "the Web Services API is not enabled" does not get better by waiting
    before = server.hits.count(("GET", "/api/disabled"))
    with pytest.raises(HMCError):
        hmc.get_properties("/api/disabled")
    assert server.hits.count(("GET", "/api/disabled")) == before + 1 and waits == []


def test_403_reason_1_is_authorization_not_session(scripted_server):
    hmc = scripted_client(scripted_server)
    with pytest.raises(HMCError) as info:
        hmc.get_properties("/api/forbidden")
    assert not isinstance(info.value, HMCAuthError)
    assert str(info.value) == ("HTTP 403 reason 1 on GET /api/forbidden: "
                               "No permission for the object.")
    assert hmc.relogon_count == 0
    with pytest.raises(HMCAuthError) as info:
        hmc.get_properties("/api/unauth")
    assert info.value.http_status == 401


class _Slammer:
    """Accepts TCP connections and closes them at once, counting them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                conn = self.sock.accept()[0]
            except OSError:
                continue
            self.count += 1
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def test_get_is_retried_a_bounded_number_of_times_post_is_not():
    slammer = _Slammer()
    try:
        hmc = HMCClient("127.0.0.1", "hmcuser", "pw-not-in-texts", port=slammer.port, session_id="given-id",
                        verify_cert=False, timeout=(2, 2))
        started = time.monotonic()
        with pytest.raises(HMCConnectionError) as info:
            hmc.query_api_version()
        elapsed = time.monotonic() - started
        assert "HMC 127.0.0.1:%d: GET /api/version failed" % slammer.port in str(info.value)
        assert slammer.count == 3  # 1 + 2 retries
        assert elapsed < 10
        before = slammer.count
        with pytest.raises(HMCConnectionError, match="POST /api/partitions/p/operations/stop"):
            hmc.post("/api/partitions/p/operations/stop")
        assert slammer.count - before == 1  # POST: one attempt, no retry
        assert "given-id" not in str(info.value)
    finally:
        slammer.close()


def test_connection_errors_say_whether_the_hmc_timed_out_or_refused():
    silent = socket.socket()  # accepts (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        hmc = HMCClient("127.0.0.1", session_id="given-id", port=silent.getsockname()[1],
                        verify_cert=False, timeout=(2, 0.3))
        with pytest.raises(HMCConnectionError) as info:
            hmc.post("/api/partitions/p/operations/stop")
        assert info.value.timed_out
        refused = HMCClient("127.0.0.1", session_id="given-id", port=closed_port(),
                            verify_cert=False, timeout=(2, 2))
        with pytest.raises(HMCConnectionError) as info:
            refused.post("/api/partitions/p/operations/stop")
        assert not info.value.timed_out
    finally:
        silent.close()
