"""hmcsim WS API over real HTTPS (requests, verified against the simulator's CA)."""
import json
import logging
import time

import pytest

from hmcsim import HmcSim
from tests.support.fixtures_hmcsim import RawStomp, ws_logon, ws_session, ws_url

ERROR_KEYS = {"http-status", "reason", "message", "request-method", "request-uri"}


def assert_hmc_error(resp, status, reason):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert ERROR_KEYS <= set(body)
    assert (body["http-status"], body["reason"]) == (status, reason), body
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.fixture(scope="module")
def api(hmcsim):
    session, logon = ws_logon(hmcsim)
    yield session, logon
    session.delete(ws_url(hmcsim, "/api/sessions/this-session"), timeout=10)


def get(sim, session, path, **kw):
    return session.get(ws_url(sim, path), timeout=10, **kw)


def post(sim, session, path, body=None, **kw):
    return session.post(ws_url(sim, path), json=body, timeout=10, **kw)


def cpc_uri(sim, session, name):
    return get(sim, session, "/api/cpcs", params={"name": name}).json()["cpcs"][0]["object-uri"]


def child_uri(sim, session, cpc, name):
    curi = cpc_uri(sim, session, cpc)
    kind = "partitions" if cpc == "CPC1" else "logical-partitions"
    items = get(sim, session, curi + "/" + kind, params={"name": name}).json()[kind]
    assert len(items) == 1
    return items[0]["object-uri"]


def test_query_api_version_needs_no_logon(hmcsim):
    resp = ws_session(hmcsim).get(ws_url(hmcsim, "/api/version"), timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["api-major-version"] == 4 and body["api-minor-version"] == 40
    assert body["hmc-name"] == "HMCSIM" and body["hmc-version"]


def test_logon_returns_session_and_topics(hmcsim, api):
    _, logon = api
    for key in ("api-session", "session-credential", "notification-topic", "job-notification-topic"):
        assert isinstance(logon[key], str) and logon[key], key
    assert logon["api-session"] != logon["session-credential"]
    assert logon["notification-topic"] != logon["job-notification-topic"]
    assert logon["api-major-version"] == 4 and logon["password-expires"] == -1


def test_logon_errors_are_hmc_shaped(hmcsim):
    session = ws_session(hmcsim)
    url = ws_url(hmcsim, "/api/sessions")
    body = assert_hmc_error(session.post(url, json={"userid": hmcsim.userid, "password": "wrong"}, timeout=10),
                            403, 0)
    assert "wrong" not in str(body)
    # The HMC's common request validation reason codes: 5 missing field, 7 wrong type,
    # 9 malformed JSON, 3 missing body.
    assert_hmc_error(session.post(url, json={"userid": hmcsim.userid}, timeout=10), 400, 5)
    assert_hmc_error(session.post(url, json={"userid": hmcsim.userid, "password": 1}, timeout=10), 400, 7)
    assert_hmc_error(session.post(url, data=b"{not json", timeout=10,
                                  headers={"Content-Type": "application/json"}), 400, 9)
    assert_hmc_error(session.post(url, timeout=10), 400, 3)


def test_missing_and_invalid_session_header(hmcsim):
    session = ws_session(hmcsim)
    assert_hmc_error(get(hmcsim, session, "/api/cpcs"), 403, 4)
    session.headers["X-API-Session"] = "not-a-session"
    body = assert_hmc_error(get(hmcsim, session, "/api/cpcs"), 403, 5)
    assert body["request-uri"] == "/api/cpcs" and body["request-method"] == "GET"
    assert "x-api-session" not in {k.lower() for k in body.get("request-headers", {})}


def test_logoff_invalidates_session(hmcsim):
    session, _ = ws_logon(hmcsim)
    resp = session.delete(ws_url(hmcsim, "/api/sessions/this-session"), timeout=10)
    assert resp.status_code == 204 and resp.content == b""
    assert_hmc_error(get(hmcsim, session, "/api/cpcs"), 403, 5)


def test_get_notification_topics(hmcsim, api):
    session, logon = api
    topics = get(hmcsim, session, "/api/sessions/operations/get-notification-topics").json()["topics"]
    by_type = {t["topic-type"]: t for t in topics}
    assert by_type["object-notification"]["topic-name"] == logon["notification-topic"]
    assert by_type["job-notification"]["topic-name"] == logon["job-notification-topic"]
    assert by_type["audit-notification"]["topic-name"] == hmcsim.info["audit_topic"]
    assert by_type["security-notification"]["topic-name"] == hmcsim.info["security_topic"]


def test_list_cpcs_with_full_match_regex_filter(hmcsim, api):
    session, _ = api
    all_cpcs = get(hmcsim, session, "/api/cpcs").json()["cpcs"]
    assert {c["name"]: c["dpm-enabled"] for c in all_cpcs} == {"CPC1": True, "CPC2": False}
    for item in all_cpcs:
        assert {"object-uri", "name", "status", "has-unacceptable-status", "se-version"} <= set(item)
    assert get(hmcsim, session, "/api/cpcs", params={"name": "CPC"}).json()["cpcs"] == []
    assert [c["name"] for c in get(hmcsim, session, "/api/cpcs", params={"name": "CPC[2]"}).json()["cpcs"]] == ["CPC2"]
    assert len(get(hmcsim, session, "/api/cpcs", params={"name": "CPC.*"}).json()["cpcs"]) == 2
    assert_hmc_error(get(hmcsim, session, "/api/cpcs", params={"name": "CPC("}), 400, 14)


def test_cpc_properties_and_subset(hmcsim, api):
    session, _ = api
    uri = cpc_uri(hmcsim, session, "CPC1")
    props = get(hmcsim, session, uri).json()
    assert props["dpm-enabled"] is True and props["name"] == "CPC1" and props["object-uri"] == uri
    subset = get(hmcsim, session, uri, params={"properties": "name,dpm-enabled"}).json()
    assert subset == {"name": "CPC1", "dpm-enabled": True}
    assert_hmc_error(get(hmcsim, session, "/api/cpcs/does-not-exist"), 404, 1)


def test_list_partitions_and_lpars(hmcsim, api):
    session, _ = api
    dpm, classic = cpc_uri(hmcsim, session, "CPC1"), cpc_uri(hmcsim, session, "CPC2")
    parts = get(hmcsim, session, dpm + "/partitions").json()["partitions"]
    assert [p["name"] for p in parts] == ["PART1", "PART2", "PART3"]
    assert all({"object-uri", "name", "status", "type"} <= set(p) for p in parts)
    assert [p["name"] for p in get(hmcsim, session, dpm + "/partitions",
                                   params={"name": "PART[12]"}).json()["partitions"]] == ["PART1", "PART2"]
    assert get(hmcsim, session, dpm + "/partitions", params={"name": "nomatch"}).json()["partitions"] == []
    assert [p["name"] for p in get(hmcsim, session, dpm + "/partitions",
                                   params={"status": "stopped"}).json()["partitions"]] == ["PART3"]
    # Other mode: empty lists, never the 404 quirk.
    assert get(hmcsim, session, classic + "/partitions").json()["partitions"] == []
    assert get(hmcsim, session, dpm + "/logical-partitions", params={"name": "x"}).json()[
        "logical-partitions"] == []
    lpars = get(hmcsim, session, classic + "/logical-partitions").json()["logical-partitions"]
    assert [p["name"] for p in lpars] == ["LPAR1", "LPAR2", "LPAR3"]
    assert [p["name"] for p in get(hmcsim, session, classic + "/logical-partitions",
                                   params={"name": "LPAR1"}).json()["logical-partitions"]] == ["LPAR1"]
    # The HMC quirk: an empty LPAR match is 404 reason 1.
    assert_hmc_error(get(hmcsim, session, classic + "/logical-partitions", params={"name": "nomatch"}), 404, 1)


def test_partition_and_lpar_properties(hmcsim, api):
    session, _ = api
    part = get(hmcsim, session, child_uri(hmcsim, session, "CPC1", "PART1")).json()
    assert part["class"] == "partition" and part["status"] == "active" and part["os-type"] == "Linux"
    assert part["object-id"] in part["object-uri"]
    lpar = get(hmcsim, session, child_uri(hmcsim, session, "CPC2", "LPAR1")).json()
    assert lpar["class"] == "logical-partition" and lpar["status"] == "operating" and lpar["os-type"] == "z/OS"
    assert_hmc_error(get(hmcsim, session, "/api/partitions/nope"), 404, 1)
    # A partition URI used as an LPAR URI does not exist.
    assert_hmc_error(get(hmcsim, session, "/api/logical-partitions/" + part["object-id"]), 404, 1)


def test_open_os_message_channel_codes(hmcsim):
    session, _ = ws_logon(hmcsim)
    part1 = child_uri(hmcsim, session, "CPC1", "PART1")
    lpar1 = child_uri(hmcsim, session, "CPC2", "LPAR1")
    resp = post(hmcsim, session, part1 + "/operations/open-os-message-channel",
                {"include-refresh-messages": False})
    assert resp.status_code == 200
    topic = resp.json()["topic-name"]
    assert 1 <= len(topic) <= 128
    assert_hmc_error(post(hmcsim, session, part1 + "/operations/open-os-message-channel"), 409, 331)
    resp = post(hmcsim, session, lpar1 + "/operations/open-os-message-channel")   # no body: default true
    assert resp.status_code == 200
    for cpc, name in (("CPC1", "PART3"), ("CPC2", "LPAR3")):
        assert_hmc_error(post(hmcsim, session, child_uri(hmcsim, session, cpc, name)
                              + "/operations/open-os-message-channel"), 409, 332)
    assert_hmc_error(post(hmcsim, session, part1 + "/operations/open-os-message-channel",
                          {"include-refresh-messages": "yes"}), 400, 7)
    topics = get(hmcsim, session, "/api/sessions/operations/get-notification-topics").json()["topics"]
    osm = {t["object-uri"]: t for t in topics if t["topic-type"] == "os-message-notification"}
    assert osm[part1]["topic-name"] == topic and osm[part1]["include-refresh-messages"] is False
    assert osm[lpar1]["include-refresh-messages"] is True
    # Another session gets its own channel and topic for the same partition.
    other, _ = ws_logon(hmcsim)
    resp = post(hmcsim, other, part1 + "/operations/open-os-message-channel")
    assert resp.status_code == 200 and resp.json()["topic-name"] != topic


def test_list_os_messages_with_sequence_range(hmcsim, api):
    session, _ = api
    uri = child_uri(hmcsim, session, "CPC1", "PART2")
    seqs = hmcsim.emit_os_messages("CPC1", "PART2", [
        "one\n", {"message-text": "two\n", "is-held": True}, {"message-text": "reply?", "is-priority": True,
                                                              "prompt-text": "R 01,"}])
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    path = uri + "/operations/list-os-messages"
    msgs = get(hmcsim, session, path).json()["os-messages"]
    assert [m["sequence-number"] for m in msgs][-3:] == seqs
    ranged = get(hmcsim, session, path, params={"begin-sequence-number": seqs[1],
                                                "end-sequence-number": seqs[2]}).json()["os-messages"]
    assert [m["message-text"] for m in ranged] == ["two\n", "reply?"]
    assert ranged[1]["prompt-text"] == "R 01," and ranged[1]["is-priority"] is True
    held = get(hmcsim, session, path, params={"is-held": "true"}).json()["os-messages"]
    assert [m["sequence-number"] for m in held] == [seqs[1]]
    assert len(get(hmcsim, session, path, params={"max-messages": "1"}).json()["os-messages"]) == 1
    assert_hmc_error(get(hmcsim, session, path, params={"begin-sequence-number": "abc"}), 400, 14)
    assert_hmc_error(get(hmcsim, session, path, params={"no-such-parameter": "1"}), 400, 1)
    resp = post(hmcsim, session, uri + "/operations/delete-os-message", {"sequence-number": seqs[0]})
    assert resp.status_code == 204
    assert seqs[0] not in [m["sequence-number"] for m in get(hmcsim, session, path).json()["os-messages"]]


def test_send_os_command_is_echoed(hmcsim, api):
    session, _ = api
    uri = child_uri(hmcsim, session, "CPC2", "LPAR2")
    resp = post(hmcsim, session, uri + "/operations/send-os-cmd",
                {"operating-system-command-text": "D IPLINFO", "is-priority": True})
    assert resp.status_code == 204 and resp.content == b""
    last = get(hmcsim, session, uri + "/operations/list-os-messages").json()["os-messages"][-1]
    assert last["message-text"] == "D IPLINFO\n" and last["is-priority"] is True
    for bad in ({"operating-system-command-text": ""}, {"operating-system-command-text": "x" * 201}):
        assert_hmc_error(post(hmcsim, session, uri + "/operations/send-os-cmd", bad), 400, 7)
    assert_hmc_error(post(hmcsim, session, uri + "/operations/send-os-cmd", {}), 400, 5)
    part3 = child_uri(hmcsim, session, "CPC1", "PART3")
    assert_hmc_error(post(hmcsim, session, part3 + "/operations/send-os-cmd",
                          {"operating-system-command-text": "x"}), 409, 332)


def _wait_job(sim, session, job_uri, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = get(sim, session, job_uri).json()
        if status["status"] == "complete":
            return status
        time.sleep(0.05)
    raise AssertionError("job %s did not complete" % job_uri)


def test_partition_stop_start_jobs(fresh_hmcsim):
    sim = fresh_hmcsim
    session, _ = ws_logon(sim)
    uri = child_uri(sim, session, "CPC1", "PART2")
    assert_hmc_error(post(sim, session, uri + "/operations/start"), 409, 1)   # already active
    resp = post(sim, session, uri + "/operations/stop")
    assert resp.status_code == 202
    job_uri = resp.json()["job-uri"]
    assert job_uri.startswith("/api/jobs/") and "Location" not in resp.headers
    assert get(sim, session, job_uri).json() == {"status": "running"}
    assert get(sim, session, uri).json()["status"] == "stopping"
    assert_hmc_error(session.delete(ws_url(sim, job_uri), timeout=10), 409, 40)
    done = _wait_job(sim, session, job_uri)
    assert done["job-status-code"] == 200 and "job-results" in done
    assert get(sim, session, uri).json()["status"] == "stopped"
    assert session.delete(ws_url(sim, job_uri), timeout=10).status_code == 204
    assert_hmc_error(session.delete(ws_url(sim, job_uri), timeout=10), 404, 1)
    assert_hmc_error(post(sim, session, job_uri + "/operations/cancel"), 404, 1)
    resp = post(sim, session, uri + "/operations/start")
    assert resp.status_code == 202
    assert get(sim, session, uri).json()["status"] == "starting"
    _wait_job(sim, session, resp.json()["job-uri"])
    assert get(sim, session, uri).json()["status"] == "active"


def test_lpar_deactivate_activate_load_jobs(fresh_hmcsim):
    sim = fresh_hmcsim
    session, _ = ws_logon(sim)
    uri = child_uri(sim, session, "CPC2", "LPAR2")
    _wait_job(sim, session, post(sim, session, uri + "/operations/deactivate", {"force": True}).json()["job-uri"])
    assert get(sim, session, uri).json()["status"] == "not-activated"
    assert_hmc_error(post(sim, session, uri + "/operations/load"), 409, 0)     # zhmcclient's mock: reason 0
    _wait_job(sim, session, post(sim, session, uri + "/operations/activate").json()["job-uri"])
    assert get(sim, session, uri).json()["status"] == "operating"
    done = _wait_job(sim, session, post(sim, session, uri + "/operations/load", {"force": True}).json()["job-uri"])
    assert done["job-status-code"] == 204
    running = post(sim, session, uri + "/operations/deactivate", {"force": True}).json()["job-uri"]
    assert_hmc_error(post(sim, session, running + "/operations/cancel"), 404, 4)    # LPAR jobs: not cancellable


def test_jobs_fail_as_on_the_hmc(fresh_hmcsim):
    """zhmcclient's mock: an LPAR operation refused without force fails with 500 reason 263
    in the job; Start Partition only from stopped (409 reason 1 at once)."""
    sim = fresh_hmcsim
    session, _ = ws_logon(sim)
    lpar = sim.uri("CPC2", "LPAR1")
    for operation in ("deactivate", "activate", "load"):              # LPAR1 is operating
        done = _wait_job(sim, session, post(sim, session, lpar + "/operations/" + operation).json()["job-uri"])
        assert (done["job-status-code"], done["job-reason-code"]) == (500, 263), (operation, done)
        assert "force" in done["job-results"]["message"]
        assert get(sim, session, lpar).json()["status"] == "operating"
    done = _wait_job(sim, session, post(sim, session, lpar + "/operations/activate",
                                        {"activation-profile-name": "OTHER", "force": True}).json()["job-uri"])
    assert (done["job-status-code"], done["job-reason-code"]) == (500, 263)
    assert_hmc_error(post(sim, session, lpar + "/operations/deactivate", {"force": "yes"}), 400, 7)
    part = sim.uri("CPC1", "PART1")
    sim.set_status("CPC1", "PART1", "degraded")
    assert_hmc_error(post(sim, session, part + "/operations/start"), 409, 1)
    sim.set_status("CPC1", None, "service")
    assert_hmc_error(post(sim, session, part + "/operations/stop"), 409, 6)     # the hosting CPC's status


def test_cancel_start_partition(fresh_hmcsim):
    sim = fresh_hmcsim
    session, _ = ws_logon(sim)
    uri = sim.uri("CPC1", "PART3")                                    # stopped
    job_uri = post(sim, session, uri + "/operations/start").json()["job-uri"]
    resp = post(sim, session, job_uri + "/operations/cancel")
    assert resp.status_code == 202 and resp.content == b""
    assert get(sim, session, job_uri).json() == {"status": "cancel-pending"}
    assert_hmc_error(post(sim, session, job_uri + "/operations/cancel"), 409, 42)
    assert_hmc_error(session.delete(ws_url(sim, job_uri), timeout=10), 409, 40)
    deadline = time.monotonic() + 10
    while (status := get(sim, session, job_uri).json())["status"] != "canceled":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["job-status-code"] >= 400 and "canceled" in status["job-results"]["message"]
    assert get(sim, session, uri).json()["status"] == "stopped"       # back where it was
    assert_hmc_error(post(sim, session, job_uri + "/operations/cancel"), 409, 41)
    assert session.delete(ws_url(sim, job_uri), timeout=10).status_code == 204


def test_unknown_uri_and_method(hmcsim, api):
    session, _ = api
    body = assert_hmc_error(get(hmcsim, session, "/api/nothing-here"), 404, 1)
    assert body["request-uri"] == "/api/nothing-here"
    assert_hmc_error(session.put(ws_url(hmcsim, "/api/cpcs"), timeout=10), 405, 0)


def test_no_secrets_in_logs(fresh_hmcsim, caplog):
    sim = fresh_hmcsim
    with caplog.at_level(logging.DEBUG, logger="hmcsim"):
        session, logon = ws_logon(sim)
        get(sim, session, "/api/sessions/operations/get-notification-topics")
        ws_session(sim).post(ws_url(sim, "/api/sessions"), json={"userid": sim.userid, "password": "bad-pw-123"},
                             timeout=10)
        raw = RawStomp(sim)
        assert raw.connect(logon["api-session"], logon["session-credential"]).command == "CONNECTED"
        raw.close()
        raw = RawStomp(sim)
        assert raw.connect(logon["api-session"], "bad-credential-456").command == "ERROR"
        raw.close()
        session.delete(ws_url(sim, "/api/sessions/this-session"), timeout=10)
    text = caplog.text
    assert "logon of %s" % sim.userid in text      # something was logged at all
    assert "login failed" in text
    for secret in (sim.password, logon["api-session"], logon["session-credential"], "bad-pw-123",
                   "bad-credential-456"):
        assert secret not in text


def test_list_permitted_partitions_and_lpars_with_filters(hmcsim, api):
    session, _ = api
    path = "/api/console/operations/list-permitted-partitions"
    parts = get(hmcsim, session, path).json()["partitions"]
    assert [p["name"] for p in parts] == ["PART1", "PART2", "PART3"]
    cpc1 = hmcsim.uri("CPC1")
    for item in parts:
        assert {"name", "object-uri", "type", "status", "has-unacceptable-status"} <= set(item)
        assert (item["cpc-name"], item["cpc-object-uri"], item["se-version"]) == ("CPC1", cpc1, "2.16.0")

    def names(query, which="partitions"):
        url = path if which == "partitions" else "/api/console/operations/list-permitted-logical-partitions"
        resp = get(hmcsim, session, url, params=query)
        assert resp.status_code == 200, resp.text
        return [p["name"] for p in resp.json()["partitions" if which == "partitions" else "logical-partitions"]]

    assert names({"name": "PART[13]"}) == ["PART1", "PART3"]
    assert names({"status": "stopped"}) == ["PART3"]
    assert names({"type": "ssc"}) == ["PART3"]
    assert names({"has-unacceptable-status": "true"}) == ["PART3"]
    assert names({"cpc-name": "CPC2"}) == []                         # a classic CPC has no partitions
    assert names({"cpc-name": "CPC.*", "name": "PART2"}) == ["PART2"]
    assert names([("status", "active"), ("status", "stopped")]) == ["PART1", "PART2", "PART3"]   # OR
    extra = get(hmcsim, session, path, params={"name": "PART1", "additional-properties": "description,os-type"})
    assert extra.json()["partitions"][0]["os-type"] == "Linux" and "description" in extra.json()["partitions"][0]
    assert names({"cpc-name": "CPC2"}, "lpars") == ["LPAR1", "LPAR2", "LPAR3"]
    assert names({"activation-mode": "coupling-facility"}, "lpars") == ["LPAR3"]
    lpars = get(hmcsim, session, "/api/console/operations/list-permitted-logical-partitions").json()
    assert {"activation-mode", "has-unacceptable-status", "cpc-name"} <= set(lpars["logical-partitions"][0])
    assert_hmc_error(get(hmcsim, session, path, params={"bogus": "x"}), 400, 1)
    assert_hmc_error(get(hmcsim, session, path, params={"name": "PART("}), 400, 14)
    assert_hmc_error(get(hmcsim, session, path, params={"has-unacceptable-status": "maybe"}), 400, 14)


def test_console_logs_hold_logon_and_logoff(fresh_hmcsim):
    sim = fresh_hmcsim
    start = int(time.time() * 1000)
    session, logon = ws_logon(sim)
    ws_session(sim).post(ws_url(sim, "/api/sessions"), json={"userid": "intruder", "password": "x"}, timeout=10)
    other, _ = ws_logon(sim)
    other.delete(ws_url(sim, "/api/sessions/this-session"), timeout=10)
    audit = get(sim, session, "/api/console/operations/get-audit-log").json()
    security = get(sim, session, "/api/console/operations/get-security-log",
                   params={"begin-time": start, "end-time": int(time.time() * 1000) + 1000}).json()
    assert [e["event-id"] for e in audit] == ["1941", "1941", "1942"]
    assert [e["event-id"] for e in security] == ["1941", "522", "1941", "1942"]
    logon_entry = audit[0]
    items = [i["data-item-value"] for i in sorted(logon_entry["event-data-items"], key=lambda i: i["data-item-number"])]
    assert items == [sim.userid, "1", "127.0.0.1"]
    assert logon_entry["event-message"] == (
        "User %s has logged on to Web Services API session 1 from location 127.0.0.1" % sim.userid)
    assert logon_entry["userid"] == sim.userid and logon_entry["user-uri"].startswith("/api/users/")
    assert isinstance(logon_entry["event-time"], int) and logon_entry["event-time"] >= start
    assert security[1]["event-message"].startswith("User intruder attempted to log on")
    assert "due to a logoff request" in audit[2]["event-message"]
    text = json.dumps(audit + security)
    assert logon["api-session"] not in text and sim.password not in text
    assert get(sim, session, "/api/console/operations/get-audit-log", params={"begin-time": 2 ** 50}).json() == []
    assert_hmc_error(get(sim, session, "/api/console/operations/get-audit-log", params={"since": 1}), 400, 1)


def test_open_channel_needs_a_running_os(fresh_hmcsim):
    sim = fresh_hmcsim
    session, _ = ws_logon(sim)
    uri = sim.uri("CPC1", "PART1")
    sim.set_status("CPC1", "PART1", "stopped")
    body = assert_hmc_error(post(sim, session, uri + "/operations/open-os-message-channel"), 409, 332)
    assert "not available" in body["message"]
    sim.set_status("CPC1", "PART1", "active")
    assert post(sim, session, uri + "/operations/open-os-message-channel").status_code == 200
    # Configurable: off, a stopped partition's channel opens (its OS still must support messages).
    relaxed = HmcSim(sim.state_dir + "-relaxed", config={"os_messages_need_active": False})
    with relaxed:
        relaxed.set_status("CPC1", "PART2", "stopped")
        rsession, _ = ws_logon(relaxed)
        assert post(relaxed, rsession, relaxed.uri("CPC1", "PART2") + "/operations/open-os-message-channel"
                    ).status_code == 200
        assert_hmc_error(post(relaxed, rsession, relaxed.uri("CPC1", "PART3")
                              + "/operations/open-os-message-channel"), 409, 332)


def test_features_unmanaged_cpcs_and_query_checks(hmcsim, api):
    session, _ = api
    assert get(hmcsim, session, "/api/console/operations/list-features").json() == []
    assert get(hmcsim, session, hmcsim.uri("CPC1") + "/operations/list-features").json() == []
    assert get(hmcsim, session, "/api/console/operations/list-unmanaged-cpcs").json() == {"cpcs": []}
    console = get(hmcsim, session, "/api/console").json()
    assert console["class"] == "console" and console["name"] == "HMCSIM"
    assert_hmc_error(get(hmcsim, session, hmcsim.uri("CPC1", "PART1"), params={"x": "1"}), 400, 1)
    assert_hmc_error(get(hmcsim, session, hmcsim.uri("CPC2") + "/logical-partitions", params={"status": "x"}), 400, 1)
    props = get(hmcsim, session, hmcsim.uri("CPC2", "LPAR1")).json()
    assert {"activation-mode", "workload-manager-enabled", "os-type", "description"} <= set(props)
