"""Unit tests of events.py: HMC-shaped notifications of every type -> rulebook events."""
import json
import uuid

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils import events as E

HOST = "hmc1.example.com"
LPAR_URI = "/api/logical-partitions/e12121dac50331178e79c46bd3531b90"
LPAR_ID = "e12121dac50331178e79c46bd3531b90"
OS_TOPIC = "sysprog.163osm.e12121dac50331178e79c46bd3531b90"
PART_URI = "/api/partitions/4b2f1d5e-2a0c-11ee-8a56-fa163e1b3a2c"
PART_ID = "4b2f1d5e-2a0c-11ee-8a56-fa163e1b3a2c"
OBJ_TOPIC = "hmcuser.17.object"
JOB_TOPIC = "hmcuser.17.job"
TOPIC_TYPES = {
    OS_TOPIC: "os-message-notification",
    OBJ_TOPIC: "object-notification",
    JOB_TOPIC: "job-notification",
}


def os_headers(**extra):
    """Headers of a real os-message frame (python-zhmcclient #572), all strings."""
    headers = {
        "destination": "/topic/" + OS_TOPIC,
        "subscription": "zhmcclient.4513457376",
        "message-id": "ID:PETHMC1-42915-1557754813488-4:1:1:65:2",
        "timestamp": "1557755398299",
        "expires": "0",
        "priority": "4",
        "notification-type": "os-message",
        "session-sequence-nr": "1",
        "global-sequence-nr": "6399",
        "object-uri": LPAR_URI,
        "object-id": LPAR_ID,
        "class": "logical-partition",
        "name": "LP41",
    }
    headers.update(extra)
    return headers


def object_headers(notification_type, **extra):
    headers = {
        "destination": "/topic/" + OBJ_TOPIC,
        "subscription": "zhmc-eda.1",
        "message-id": "ID:hmc-1:1:1:1:7",
        "timestamp": "1700000000123",
        "notification-type": notification_type,
        "session-sequence-nr": "7",
        "global-sequence-nr": "81234",
        "object-uri": PART_URI,
        "object-id": PART_ID,
        "class": "partition",
        "name": "PART1",
    }
    headers.update(extra)
    return headers


def os_info(seq, text, **extra):
    info = {
        "sequence-number": seq,
        "message-text": text,
        "message-id": "0",
        "timestamp": -1,
        "sound-alarm": False,
        "is-priority": False,
        "is-held": False,
        "prompt-text": "",
        "os-name": None,
        "is-refresh": False,
    }
    info.update(extra)
    return info


def assert_valid_event(event):
    """Every event: JSON-serialisable (strict JSON), only uuid in meta, a valid UUID."""
    json.dumps(event, allow_nan=False)
    assert set(event) == {"hmc", "meta"}
    assert set(event["meta"]) == {"uuid"}
    assert str(uuid.UUID(event["meta"]["uuid"])) == event["meta"]["uuid"]


def build(headers, body, **kwargs):
    kwargs.setdefault("host", HOST)
    kwargs.setdefault("topic_types", TOPIC_TYPES)
    events = E.notification_to_events(headers, body, **kwargs)
    for event in events:
        assert_valid_event(event)
    return events


# ---------------------------------------------------------------------------------------
# os-message


def test_os_message_with_three_messages_is_split_in_order():
    body = json.dumps({"os-messages": [
        os_info(5, "IEA371I SYS1.IPLPARM ON DEVICE 0A82 SELECTED\n"),
        os_info(6, "login: ", **{"prompt-text": "login: "}),
        os_info(7, " \n", **{"message-id": 17, "timestamp": 1557755398000,
                             "is-held": True, "is-priority": True, "sound-alarm": True,
                             "os-name": "LINUX1"}),
    ]})
    events = build(os_headers(), body)
    assert [e["hmc"]["os_message"]["sequence_number"] for e in events] == [5, 6, 7]
    first, prompt, third = [e["hmc"] for e in events]
    for hmc in (first, prompt, third):
        assert hmc["notification_type"] == "os-message"
        assert hmc["topic"] == OS_TOPIC
        assert hmc["topic_type"] == "os-message-notification"
        assert hmc["object"] == {"class": "logical-partition", "uri": LPAR_URI,
                                 "id": LPAR_ID, "name": "LP41"}
        assert hmc["session_sequence_nr"] == 1
        assert hmc["global_sequence_nr"] == 6399
        assert hmc["timestamp"] == 1557755398299
        assert hmc["headers"] == os_headers()
        assert hmc["host"] == HOST
        assert hmc["origin"] == "live"
        assert "parse_error" not in hmc and "header_errors" not in hmc
        assert len(hmc["body"]["os-messages"]) == 1
    assert first["os_message"] == {
        "sequence_number": 5,
        "text": "IEA371I SYS1.IPLPARM ON DEVICE 0A82 SELECTED",
        "text_raw": "IEA371I SYS1.IPLPARM ON DEVICE 0A82 SELECTED\n",
        "message_id": "0",
        "timestamp": None,
        "is_held": False,
        "is_priority": False,
        "prompt_text": "",
        "is_refresh": False,
        "sound_alarm": False,
        "os_name": None,
    }
    # a prompt has no trailing newline: text unchanged, no text_raw
    assert prompt["os_message"]["text"] == "login: "
    assert "text_raw" not in prompt["os_message"]
    assert prompt["os_message"]["prompt_text"] == "login: "
    # message-id as int becomes a string; a real timestamp is kept
    assert third["os_message"]["message_id"] == "17"
    assert third["os_message"]["timestamp"] == 1557755398000
    assert third["os_message"]["text"] == " "
    assert (third["os_message"]["is_held"], third["os_message"]["is_priority"],
            third["os_message"]["sound_alarm"]) == (True, True, True)
    assert third["os_message"]["os_name"] == "LINUX1"
    # three distinct uuids
    assert len({e["meta"]["uuid"] for e in events}) == 3


def test_refresh_flag_and_refresh_replay_gets_same_uuid():
    live = build(os_headers(), json.dumps({"os-messages": [os_info(41, "hello\n")]}))[0]
    # after a reconnect the HMC replays its buffer: other frame headers, is-refresh true
    replay = build(
        os_headers(**{"global-sequence-nr": "9000", "session-sequence-nr": "1",
                      "message-id": "ID:other", "timestamp": "1557755999999"}),
        json.dumps({"os-messages": [os_info(41, "hello\n", **{"is-refresh": True})]}))[0]
    assert replay["hmc"]["os_message"]["is_refresh"] is True
    assert live["hmc"]["os_message"]["is_refresh"] is False
    assert replay["meta"]["uuid"] == live["meta"]["uuid"]


def test_os_message_uuid_differs_per_host_object_and_number():
    base = E.os_message_uuid(HOST, LPAR_URI, 5)
    assert base == E.os_message_uuid(HOST, "/api/logical-partitions/" + LPAR_ID, 5)
    assert base == E.os_message_uuid(HOST, LPAR_ID, 5)  # keyed by object ID
    others = {E.os_message_uuid("hmc2", LPAR_URI, 5), E.os_message_uuid(HOST, PART_URI, 5),
              E.os_message_uuid(HOST, LPAR_URI, 6), E.os_message_uuid(HOST, LPAR_URI, 5, 123)}
    assert base not in others and len(others) == 4


def test_backfill_event_has_same_shape_and_uuid_as_live():
    info = os_info(12, "IEF404I JOB ENDED\n", timestamp=1700000000000)
    live = build(os_headers(), json.dumps({"os-messages": [info]}))[0]
    obj = {"uri": LPAR_URI, "name": "LP41", "class": "logical-partition",
           "cpc_name": "CPC2", "status": "operating"}
    backfilled = E.os_message_events(obj, [info], host=HOST, topic=OS_TOPIC)
    assert len(backfilled) == 1
    event = backfilled[0]
    assert_valid_event(event)
    assert event["meta"]["uuid"] == live["meta"]["uuid"]
    assert event["hmc"]["origin"] == "backfill"
    assert event["hmc"]["os_message"] == live["hmc"]["os_message"]
    assert event["hmc"]["object"] == live["hmc"]["object"]
    assert set(event["hmc"]) == set(live["hmc"])
    assert event["hmc"]["topic"] == OS_TOPIC
    assert event["hmc"]["topic_type"] == "os-message-notification"
    assert event["hmc"]["headers"] == {}
    assert event["hmc"]["global_sequence_nr"] is None


def test_backfill_accepts_the_list_os_messages_response_and_an_object_uri():
    response = {"os-messages": [os_info(1, "a\n"), "junk", os_info(2, "b\n")]}
    events = E.os_message_events(response, host=HOST, object_uri=PART_URI)
    assert [e["hmc"]["os_message"]["text"] for e in events] == ["a", "b"]
    assert events[0]["hmc"]["object"]["id"] == PART_ID
    assert events[0]["hmc"]["topic"] is None and events[0]["hmc"]["topic_type"] is None
    joined = E.os_message_events(PART_URI, response["os-messages"], host=HOST,
                                 split_os_messages=False)
    assert len(joined) == 1
    assert [m["sequence_number"] for m in joined[0]["hmc"]["os_messages"]] == [1, 2]
    assert E.os_message_events(PART_URI, [], host=HOST) == []
    assert E.os_message_events(PART_URI, None, host=HOST, split_os_messages=False) == []


def test_not_split_gives_one_event_with_the_list():
    body = json.dumps({"os-messages": [os_info(1, "a\n"), os_info(2, "b")]})
    events = build(os_headers(), body, split_os_messages=False)
    assert len(events) == 1
    hmc = events[0]["hmc"]
    assert "os_message" not in hmc
    assert [m["text"] for m in hmc["os_messages"]] == ["a", "b"]
    assert hmc["body"] == json.loads(body)
    # the notification-level uuid is stable for the same notification
    assert events[0]["meta"]["uuid"] == build(os_headers(), body, split_os_messages=False)[0]["meta"]["uuid"]


@pytest.mark.parametrize("body", ['{"os-messages": []}', "", None])
def test_os_message_without_messages_is_one_event_without_os_message(body):
    events = build(os_headers(), body)
    assert len(events) == 1
    assert "os_message" not in events[0]["hmc"]
    assert "parse_error" not in events[0]["hmc"]


@pytest.mark.parametrize("body, error", [
    ('{"foo": 1}', "no 'os-messages' list"),
    ('{"os-messages": 5}', "'os-messages' is not a list"),
    ('{"os-messages": [{"sequence-number": 1}, 7]}', "entry 1 is not a JSON object"),
    ("[1, 2]", "not a JSON object"),
])
def test_os_message_body_of_wrong_shape_is_one_event_with_body_error(body, error):
    events = build(os_headers(), body)
    assert len(events) == 1
    hmc = events[0]["hmc"]
    assert error in hmc["body_error"]
    assert hmc["body"] == json.loads(body)
    assert "parse_error" not in hmc and "os_message" not in hmc


def test_os_message_with_bad_sequence_number_still_gets_unique_uuids():
    body = json.dumps({"os-messages": [os_info("x", "a"), os_info(None, "b")]})
    events = build(os_headers(), body)
    assert [e["hmc"]["os_message"]["sequence_number"] for e in events] == [None, None]
    assert events[0]["meta"]["uuid"] != events[1]["meta"]["uuid"]


# ---------------------------------------------------------------------------------------
# object notifications


def test_status_change():
    body = json.dumps({"change-reports": [
        {"old-status": "active", "new-status": "stopping", "old-additional-status": "",
         "new-additional-status": "", "has-unacceptable-status": False},
        {"old-status": "stopping", "new-status": "stopped", "has-unacceptable-status": True},
    ]})
    (event,) = build(object_headers("status-change"), body)
    hmc = event["hmc"]
    assert hmc["notification_type"] == "status-change"
    assert hmc["topic"] == OBJ_TOPIC and hmc["topic_type"] == "object-notification"
    assert hmc["object"] == {"class": "partition", "uri": PART_URI, "id": PART_ID, "name": "PART1"}
    assert hmc["change_reports"] == json.loads(body)["change-reports"]
    assert hmc["old_status"] == "active" and hmc["new_status"] == "stopped"
    assert (hmc["session_sequence_nr"], hmc["global_sequence_nr"], hmc["timestamp"]) == (
        7, 81234, 1700000000123)


def test_property_change_parses_blank_separated_property_names():
    body = json.dumps({"change-reports": [
        {"property-name": "status", "old-value": "active", "new-value": "stopped"},
        {"property-name": "name", "old-value": "P1", "new-value": "PART1"},
    ]})
    (event,) = build(object_headers("property-change", **{"property-names": " status name "}), body)
    hmc = event["hmc"]
    assert hmc["property_names"] == ["status", "name"]
    assert [r["property-name"] for r in hmc["change_reports"]] == ["status", "name"]
    assert "new_status" not in hmc


def test_property_change_without_names_header_and_with_bad_body_shape():
    (event,) = build(object_headers("property-change"), '{"change-reports": "nope"}')
    assert event["hmc"]["property_names"] == []
    assert event["hmc"]["change_reports"] == []
    assert event["hmc"]["body_error"] == "'change-reports' is not a list"


def test_element_notification_keeps_parent_uri_and_element_fields():
    headers = object_headers("property-change", **{
        "element-uri": PART_URI + "/nics/aa11", "element-id": "aa11", "class": "nic",
        "name": "eth0", "property-names": " name "})
    (event,) = build(headers, json.dumps({"change-reports": []}))
    assert event["hmc"]["object"] == {
        "class": "nic", "uri": PART_URI, "id": PART_ID, "name": "eth0",
        "element_uri": PART_URI + "/nics/aa11", "element_id": "aa11"}


@pytest.mark.parametrize("action", ["add", "remove"])
def test_inventory_change_with_empty_body(action):
    (event,) = build(object_headers("inventory-change", action=action), "")
    hmc = event["hmc"]
    assert hmc["inventory_action"] == action
    assert hmc["body"] is None
    assert "parse_error" not in hmc


@pytest.mark.parametrize("body", ["", None, "   \n", b""])
def test_job_completion_with_empty_body(body):
    headers = {
        "destination": "/topic/" + JOB_TOPIC, "notification-type": "job-completion",
        "job-uri": "/api/jobs/ff00-11", "session-sequence-nr": "3",
        "global-sequence-nr": "99", "timestamp": "1700000000999",
        "message-id": "ID:hmc-2:1:1:1:1",
    }
    (event,) = build(headers, body)
    hmc = event["hmc"]
    assert hmc["job"] == {"uri": "/api/jobs/ff00-11"}
    assert hmc["body"] is None
    assert hmc["topic_type"] == "job-notification"
    assert hmc["object"] == {"class": None, "uri": None, "id": None, "name": None}
    assert "parse_error" not in hmc


def test_log_entry():
    entries = [{"event-time": 1700000000000, "event-name": "Logon", "event-id": "1234",
                "userid": "sysprog", "user-uri": "/api/users/u1",
                "event-message": "User sysprog logged on",
                "event-data-items": [{"data-item-number": 0, "data-item-value": "sysprog",
                                      "data-item-type": "string"}]}]
    headers = object_headers("log-entry", **{"destination": "/topic/audit.topic",
                                             "class": "console", "object-uri": "/api/console"})
    del headers["object-id"]
    (event,) = build(headers, json.dumps({"log-entries": entries}),
                     topic_types={"audit.topic": "audit-notification"})
    hmc = event["hmc"]
    assert hmc["log_entries"] == entries
    assert hmc["topic_type"] == "audit-notification"
    assert hmc["object"]["id"] == "console"  # derived from the URI when object-id is absent


def test_log_entry_with_empty_body_has_no_entries():
    (event,) = build(object_headers("log-entry"), None)
    assert event["hmc"]["log_entries"] == [] and "body_error" not in event["hmc"]


def test_unknown_notification_type_and_unknown_topic():
    (event,) = build(object_headers("brand-new-type", destination="/queue/x"), '{"a": 1}',
                     topic_types=None)
    hmc = event["hmc"]
    assert hmc["notification_type"] == "brand-new-type"
    assert hmc["topic"] == "/queue/x" and hmc["topic_type"] is None
    assert hmc["body"] == {"a": 1}
    for key in ("job", "change_reports", "log_entries", "inventory_action", "os_message"):
        assert key not in hmc


# ---------------------------------------------------------------------------------------
# bad input never raises


def test_non_json_body_gives_parse_error_and_raw_body():
    (event,) = build(object_headers("status-change"), "<html>Service unavailable</html>")
    hmc = event["hmc"]
    assert hmc["parse_error"].startswith("body is not valid JSON")
    assert hmc["raw_body"] == "<html>Service unavailable</html>"
    assert hmc["raw_body_truncated"] is False
    assert hmc["body"] is None
    assert hmc["change_reports"] == []


def test_huge_non_json_body_is_truncated():
    body = "x" * (E.RAW_BODY_MAX_CHARS * 3)
    (event,) = build(os_headers(), body)
    assert len(event["hmc"]["raw_body"]) == E.RAW_BODY_MAX_CHARS
    assert event["hmc"]["raw_body_truncated"] is True
    assert "os_message" not in event["hmc"]


@pytest.mark.parametrize("body", ["NaN", '{"a": Infinity}', "[-Infinity]"])
def test_non_finite_numbers_are_not_json(body):
    (event,) = build(object_headers("status-change"), body)
    assert "parse_error" in event["hmc"]


def test_deeply_nested_body_is_a_parse_error_not_a_crash():
    (event,) = build(object_headers("status-change"), "[" * 200000)
    assert "parse_error" in event["hmc"]


def test_byte_order_mark_is_skipped():
    (event,) = build(object_headers("status-change"), b'\xef\xbb\xbf{"change-reports": []}')
    assert event["hmc"]["body"] == {"change-reports": []} and "parse_error" not in event["hmc"]
    (event,) = build(object_headers("status-change"), "\ufeff")
    assert "parse_error" in event["hmc"]


def test_binary_body_is_decoded_with_replacement():
    (event,) = build(object_headers("status-change"), b"\xff\xfe\x00binary")
    assert "parse_error" in event["hmc"]
    assert "\ufffd" in event["hmc"]["raw_body"]


def test_bad_header_values_are_kept_and_reported():
    headers = os_headers(**{"session-sequence-nr": "abc", "global-sequence-nr": "",
                            "timestamp": "12.5"})
    events = build(headers, json.dumps({"os-messages": [os_info(1, "x")]}))
    hmc = events[0]["hmc"]
    assert hmc["session_sequence_nr"] is None
    assert hmc["global_sequence_nr"] is None
    assert hmc["timestamp"] is None
    assert hmc["headers"]["session-sequence-nr"] == "abc"
    assert hmc["header_errors"] == ["session-sequence-nr: not an integer",
                                    "global-sequence-nr: not an integer",
                                    "timestamp: not an integer"]


def test_missing_headers_and_non_string_header_values():
    (event,) = build(None, "")
    assert event["hmc"]["notification_type"] is None
    assert event["hmc"]["header_errors"] == ["notification-type: missing"]
    (event,) = build({"notification-type": "job-completion", "job-uri": object(),
                      "session-sequence-nr": 5, 7: "x"}, "")
    assert event["hmc"]["session_sequence_nr"] == 5
    assert event["hmc"]["headers"]["7"] == "x"
    assert isinstance(event["hmc"]["job"]["uri"], str)


def test_headers_are_copied_not_shared():
    headers = object_headers("status-change")
    (event,) = build(headers, "")
    headers["name"] = "changed"
    assert event["hmc"]["headers"]["name"] == "PART1"


# ---------------------------------------------------------------------------------------
# uuids


def test_notification_uuid_is_stable_and_depends_on_the_identity():
    headers = object_headers("status-change")
    body = json.dumps({"change-reports": []})
    first = build(headers, body)[0]["meta"]["uuid"]
    assert build(dict(headers, subscription="other-sub"), body)[0]["meta"]["uuid"] == first
    different = [
        build(dict(headers, **{"global-sequence-nr": "81235"}), body),
        build(headers, body, host="hmc2"),
        build(dict(headers, **{"object-uri": "/api/partitions/other"}), body),
        build(dict(headers, **{"notification-type": "property-change"}), body),
    ]
    assert all(events[0]["meta"]["uuid"] != first for events in different)


def test_uuid_falls_back_to_message_id_then_body_hash():
    headers = object_headers("status-change")
    del headers["global-sequence-nr"]
    a = build(headers, "{}")[0]["meta"]["uuid"]
    assert build(dict(headers, timestamp="1"), "{}")[0]["meta"]["uuid"] == a  # message-id only
    assert build(dict(headers, **{"message-id": "ID:x"}), "{}")[0]["meta"]["uuid"] != a
    del headers["message-id"]
    b = build(headers, '{"x": 1}')[0]["meta"]["uuid"]
    assert build(headers, '{"x": 1}')[0]["meta"]["uuid"] == b
    assert build(headers, '{"x": 2}')[0]["meta"]["uuid"] != b
    assert build(dict(headers, subscription="s2"), '{"x": 1}')[0]["meta"]["uuid"] == b


def test_fast_uuid5_matches_the_standard_library():
    for name in ["", "os|h|id|1", "ünïcödé|\u4e2d", "x" * 1000]:
        assert E.uuid5_str(name) == str(uuid.uuid5(E.EVENT_UUID_NAMESPACE, name))
    assert uuid.UUID(E.event_uuid("a", 1, None)).version == 5


# ---------------------------------------------------------------------------------------
# status events and filters


@pytest.mark.parametrize("state", E.STATUS_STATES)
def test_status_event(state):
    event = E.status_event(state, host=HOST, topic="t", missing=3)
    assert_valid_event(event)
    assert event["hmc"] == {"status": {"state": state, "topic": "t", "missing": 3},
                            "host": HOST, "notification_type": "status"}
    assert E.status_event(state, HOST)["meta"]["uuid"] != event["meta"]["uuid"]


def test_status_event_rejects_unknown_state():
    with pytest.raises(ValueError, match="unknown state 'exploded'"):
        E.status_event("exploded", host=HOST)


def test_event_filter():
    status = build(object_headers("status-change"), "")[0]
    osmsg = build(os_headers(), json.dumps({"os-messages": [os_info(1, "x")]}))[0]
    job = build({"notification-type": "job-completion", "job-uri": "/api/jobs/1"}, "")[0]
    health = E.status_event("connected", host=HOST)

    everything = E.EventFilter()
    assert all(everything.accepts(e) for e in (status, osmsg, job, health))
    assert E.EventFilter([], []).accepts(job)  # empty lists mean "all", like None

    by_type = E.EventFilter(notification_types=["os-message", "job-completion"])
    assert [by_type.accepts(e) for e in (status, osmsg, job, health)] == [False, True, True, True]

    by_class = E.EventFilter(classes=["partition"])
    assert [by_class.accepts(e) for e in (status, osmsg, job, health)] == [True, False, False, True]

    both = E.EventFilter(notification_types=["status-change"], classes=["logical-partition"])
    assert [both.accepts(e) for e in (status, osmsg, job, health)] == [False, False, False, True]
    assert both.matches(health)
    assert not by_type.accepts({"no": "hmc"})


# ---------------------------------------------------------------------------------------
# dedupe


def test_deduper_drops_refresh_replays_of_seen_numbers():
    dedupe = E.OsMessageDeduper()
    assert [dedupe.is_new(LPAR_URI, n) for n in (1, 2, 3)] == [True, True, True]
    # reconnect with include-refresh-messages: the buffer is replayed, then new ones follow
    assert [dedupe.is_new(LPAR_URI, n) for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert dedupe.last(LPAR_URI) == 4
    assert dedupe.duplicates == 3
    # a differently formed URI of the same object is the same object
    assert dedupe.is_new("/api/logical-partitions/" + LPAR_ID + "/", 4) is False
    assert dedupe.seen(LPAR_URI, 4) is True
    assert dedupe.seen(LPAR_URI, 5) is False


def test_deduper_treats_a_large_drop_as_a_wrap_around():
    dedupe = E.OsMessageDeduper(reset_threshold=100)
    assert dedupe.is_new(PART_URI, 2 ** 31 - 2)
    assert dedupe.is_new(PART_URI, 2 ** 31 - 1)
    assert dedupe.is_new(PART_URI, 0)  # wrapped
    assert dedupe.last(PART_URI) == 0
    assert dedupe.is_new(PART_URI, 1)
    assert not dedupe.is_new(PART_URI, 0)
    assert dedupe.resets == 1
    # within the threshold a lower number is a replay
    dedupe.is_new(PART_URI, 500)
    assert not dedupe.is_new(PART_URI, 400)
    assert dedupe.is_new(PART_URI, 399)  # 101 below the last: reset


def test_deduper_uses_timestamps_to_see_a_restart_below_the_threshold():
    dedupe = E.OsMessageDeduper()
    assert dedupe.is_new(PART_URI, 50, timestamp=1000)
    assert not dedupe.is_new(PART_URI, 10, timestamp=900)  # older: replay
    assert not dedupe.is_new(PART_URI, 50, timestamp=1000)
    assert dedupe.is_new(PART_URI, 1, timestamp=5000)  # newer than the last one: restart
    assert dedupe.last(PART_URI) == 1
    assert not dedupe.is_new(PART_URI, 1, timestamp=-1)  # -1 = no timestamp


def test_deduper_is_new_event_and_unknown_numbers():
    dedupe = E.OsMessageDeduper()
    body = json.dumps({"os-messages": [os_info(7, "x", timestamp=100)]})
    (event,) = build(os_headers(), body)
    assert dedupe.is_new_event(event)
    assert not dedupe.is_new_event(build(os_headers(), body)[0])
    assert dedupe.is_new_event(build(object_headers("status-change"), "")[0])
    assert dedupe.is_new(LPAR_URI, None) and dedupe.is_new(None, 3) and dedupe.is_new(LPAR_URI, "x")
    assert dedupe.last(LPAR_URI) == 7


def test_deduper_bounds_the_number_of_objects():
    dedupe = E.OsMessageDeduper(max_objects=100)
    for i in range(250):
        assert dedupe.is_new("/api/partitions/p%d" % i, 1)
    assert len(dedupe) == 100
    assert dedupe.last("/api/partitions/p0") is None
    assert dedupe.last("/api/partitions/p249") == 1
    # updating an object keeps it (least recently *updated* are forgotten first)
    dedupe.is_new("/api/partitions/p150", 2)
    for i in range(250, 349):
        dedupe.is_new("/api/partitions/p%d" % i, 1)
    assert dedupe.last("/api/partitions/p150") == 2
    assert dedupe.last("/api/partitions/p151") is None
    with pytest.raises(ValueError):
        E.OsMessageDeduper(max_objects=0)


def test_gap_tracker():
    gaps = E.SequenceGapTracker()
    assert gaps.observe("t1", "1") is None
    assert gaps.observe("t1", 2) is None
    assert gaps.observe("t2", 50) is None  # topics are independent
    assert gaps.observe("t1", "6") == {"topic": "t1", "expected": 3, "received": 6, "missing": 3}
    assert gaps.observe("t1", 7) is None
    assert gaps.observe("t1", 7) is None  # a repeat is not a gap
    assert gaps.observe("t1", 2) is None  # numbering restarted
    assert gaps.observe("t1", 4) == {"topic": "t1", "expected": 3, "received": 4, "missing": 1}
    assert gaps.observe("t1", "junk") is None and gaps.observe("t1", None) is None
    assert gaps.last("t1") == 4
    gaps.reset("t1")
    assert gaps.observe("t1", 100) is None
    assert gaps.observe("t2", 52)["missing"] == 1
    gaps.reset()
    assert gaps.last("t2") is None and gaps.observe("t2", 99) is None


# ---------------------------------------------------------------------------------------
# docs/events.md shows real output


def _doc_events():
    import os
    import re

    from tests.support.paths import REPO_ROOT

    with open(os.path.join(REPO_ROOT, "docs", "events.md"), encoding="utf-8") as handle:
        text = handle.read()
    events = []
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        parsed = json.loads(block)
        events.extend(parsed if isinstance(parsed, list) else [parsed])
    return events


def test_every_example_in_the_event_reference_is_what_the_code_emits():
    examples = _doc_events()
    kinds = {e["hmc"]["notification_type"] for e in examples}
    assert set(E.NOTIFICATION_TYPES) | {"status"} <= kinds
    for example in examples:
        assert_valid_event(example)
        hmc = example["hmc"]
        if hmc["notification_type"] == "status":
            status = dict(hmc["status"])
            rebuilt = E.status_event(status.pop("state"), hmc["host"], **status)
            assert rebuilt["hmc"] == hmc
            continue
        obj = hmc["object"]
        if hmc["origin"] == "resync":
            from ansible_collections.zhmc.eda.plugins.module_utils.resync import (
                KnownStatus, resync_event)
            from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import OsObject
            report = hmc["body"]["change-reports"][0]
            rebuilt = [resync_event(
                OsObject(uri=obj["uri"], name=obj["name"], cls=obj["class"],
                         cpc_name=obj["cpc_name"], cpc_uri=obj["cpc_uri"]),
                KnownStatus(report["old-status"], report["old-additional-status"]),
                KnownStatus(report["new-status"], report["new-additional-status"]),
                report, hmc["host"], "1764066400000")]
            assert rebuilt == [example]
            continue
        if hmc["origin"] == "backfill":
            rebuilt = E.os_message_events(hmc["object"], hmc["body"]["os-messages"],
                                          host=hmc["host"], topic=hmc["topic"])
        else:
            body = hmc["raw_body"] if "parse_error" in hmc else (
                "" if hmc["body"] is None else json.dumps(hmc["body"]))
            rebuilt = E.notification_to_events(
                hmc["headers"], body, host=hmc["host"],
                topic_types={hmc["topic"]: hmc["topic_type"]},
                split_os_messages="os_messages" not in hmc)
        if "cpc_name" in obj:  # added by the source, which knows the CPC (not in the notification)
            rebuilt[0]["hmc"]["object"].update(cpc_name=obj["cpc_name"], cpc_uri=obj["cpc_uri"])
        assert rebuilt == [example]
