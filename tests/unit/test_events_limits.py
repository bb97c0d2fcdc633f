"""Unit and property tests of the limits on what a broker can make the source hold or emit:
body size and JSON nesting (notification_body.py, through events.notification_to_events)
and the sequence gap tracker's number of keys (events.SequenceGapTracker)."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.zhmc.eda.plugins.module_utils import events as E
from ansible_collections.zhmc.eda.plugins.module_utils import notification_body as B

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADERS = {"notification-type": "status-change", "destination": "/topic/t",
           "message-id": "ID:hmc-1:1:1:1:7"}


def shape(body, **limits):
    (event,) = E.notification_to_events(HEADERS, body, host="hmc1", **limits)
    return event["hmc"]


def nested(depth, opener="[", closer="]", inner=""):
    return opener * depth + inner + closer * depth


def nested_objects(depth):
    return '{"a":' * depth + "1" + "}" * depth


def depth_of(value):
    """Nesting depth of parsed JSON (the test's own reference; inputs stay shallow)."""
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def reference_max_depth(text):
    """Deepest bracket nesting outside JSON strings, one character at a time (an
    independent implementation of what json_nesting_exceeds computes with regexes; an
    unclosed string runs to the end of the text)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


# ---------------------------------------------------------------------------------------
# nesting depth


def test_limits_are_the_documented_constants():
    assert E.MAX_JSON_DEPTH == B.MAX_JSON_DEPTH == 64
    assert E.MAX_BODY_CHARS == B.MAX_BODY_CHARS == 1024 * 1024
    assert E.RAW_BODY_MAX_CHARS == B.RAW_BODY_MAX_CHARS == 65536


@pytest.mark.parametrize("make", [nested, nested_objects], ids=["arrays", "objects"])
def test_body_at_the_depth_limit_is_parsed(make):
    hmc = shape(make(E.MAX_JSON_DEPTH))
    assert "parse_error" not in hmc
    assert depth_of(hmc["body"]) == E.MAX_JSON_DEPTH


@pytest.mark.parametrize("make", [nested, nested_objects], ids=["arrays", "objects"])
def test_body_one_level_deeper_is_a_parse_error_with_the_raw_text(make):
    body = make(E.MAX_JSON_DEPTH + 1)
    hmc = shape(body)
    assert hmc["parse_error"] == "body is nested more than 64 levels deep; not parsed"
    assert hmc["body"] is None
    assert hmc["raw_body"] == body and hmc["raw_body_truncated"] is False
    assert hmc["change_reports"] == []


@pytest.mark.parametrize("depth", [300, 500, 5000])
def test_bodies_that_broke_ansible_rulebook_are_refused(depth):
    # 500 levels stopped ansible-rulebook (issue 16); 300 and more breaks its print_event
    # and run_playbook (docs/events.md "Limits")
    hmc = shape(nested(depth))
    assert "nested more than" in hmc["parse_error"] and hmc["body"] is None


def test_hostile_depths_never_reach_the_decoder():
    # far beyond Python's recursion limit: refused by the scan, no RecursionError
    for body in ("[" * 200000, "{" * 100000, '{"a":' * 150000, nested(300000)):
        hmc = shape(body)
        assert "nested more than" in hmc["parse_error"]
        assert hmc["raw_body_truncated"] is (len(body) > E.RAW_BODY_MAX_CHARS)


def test_brackets_inside_strings_do_not_count():
    body = json.dumps({"message-text": "[" * 500 + "{" * 500 + '\\"[[[' + "\\"})
    hmc = shape(body)
    assert "parse_error" not in hmc and hmc["body"] == json.loads(body)


def test_escaped_quotes_do_not_end_a_string():
    inner = '\\"' + "[" * 100  # an escaped quote, then brackets still inside the string
    body = '["' + inner + '"]'
    assert shape(body)["body"] == [json.loads('"' + inner + '"')]


def test_unclosed_string_full_of_quotes_and_backslashes_is_refused_quickly():
    # every quote could start a string that never ends: the scan must stay linear
    body = "[" * 70 + '"' + '\\"' * 200000 + "\\"
    assert "nested more than" in shape(body)["parse_error"]
    body = '"' + '\\"' * 200000 + "[" * 70  # the brackets are inside the open string
    assert shape(body)["parse_error"].startswith("body is not valid JSON")


def test_limits_can_be_given_per_call():
    assert "parse_error" not in shape(nested(3), max_json_depth=3)
    assert "nested more than 2 levels" in shape(nested(3), max_json_depth=2)["parse_error"]
    assert "larger than 10 characters" in shape(json.dumps("x" * 9), max_body_chars=10)["parse_error"]


def test_byte_order_mark_and_depth():
    hmc = shape("\ufeff" + nested(E.MAX_JSON_DEPTH))
    assert "parse_error" not in hmc
    hmc = shape(b"\xef\xbb\xbf" + nested(E.MAX_JSON_DEPTH + 1).encode())
    assert "nested more than" in hmc["parse_error"]


@SETTINGS
@given(value=st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), children, max_size=3),
    max_leaves=40), limit=st.integers(min_value=0, max_value=12))
def test_depth_scan_is_exact_for_json(value, limit):
    text = json.dumps(value)
    assert B.json_nesting_exceeds(text, limit) == (depth_of(value) > limit)
    body, error, _raw = B.parse_body(text, max_depth=limit)
    assert (error is None) == (depth_of(value) <= limit)
    if error is None:
        assert body == value


@SETTINGS
@given(text=st.text(alphabet='[]{}"\\a,:1 ', max_size=300), limit=st.integers(min_value=0, max_value=20))
def test_depth_scan_matches_a_character_by_character_scanner(text, limit):
    assert B.json_nesting_exceeds(text, limit) == (reference_max_depth(text) > limit)


@SETTINGS
@given(text=st.text(alphabet='[]{}"\\a,:1 ', max_size=300))
def test_any_text_shapes_to_one_event_without_raising(text):
    hmc = shape(text, max_json_depth=5)
    if "parse_error" not in hmc:
        assert depth_of(hmc["body"]) <= 5


# ---------------------------------------------------------------------------------------
# body size


def test_body_at_the_size_limit_is_parsed():
    body = json.dumps("x" * (E.MAX_BODY_CHARS - 2))
    assert len(body) == E.MAX_BODY_CHARS
    hmc = shape(body)
    assert "parse_error" not in hmc and len(hmc["body"]) == E.MAX_BODY_CHARS - 2


def test_larger_json_body_is_not_parsed_and_its_raw_text_is_truncated():
    body = json.dumps({"change-reports": [{"old-status": "x" * E.MAX_BODY_CHARS}]})
    hmc = shape(body)
    assert hmc["parse_error"] == "body is larger than 1048576 characters; not parsed"
    assert hmc["body"] is None and hmc["change_reports"] == []
    assert hmc["raw_body"] == body[:E.RAW_BODY_MAX_CHARS] and hmc["raw_body_truncated"] is True


def test_larger_bytes_body_is_decoded_only_as_far_as_raw_body_needs():
    body = ("\u2603" * (E.MAX_BODY_CHARS // 3 + 1)).encode("utf-8")  # 3 bytes per character
    assert len(body) > E.MAX_BODY_CHARS
    hmc = shape(body)
    assert hmc["parse_error"].startswith("body is larger than")
    assert hmc["raw_body"] == "\u2603" * E.RAW_BODY_MAX_CHARS and hmc["raw_body_truncated"] is True


def test_larger_bodies_keep_distinct_uuids():
    one = E.notification_to_events({}, "a" * (E.MAX_BODY_CHARS + 1), host="h")
    two = E.notification_to_events({}, "b" * (E.MAX_BODY_CHARS + 1), host="h")
    assert one[0]["meta"]["uuid"] != two[0]["meta"]["uuid"]


# ---------------------------------------------------------------------------------------
# gap tracker bound


def test_gap_tracker_ignores_a_key_of_none():
    gaps = E.SequenceGapTracker()
    assert gaps.observe(None, 1) is None and gaps.observe(None, 9) is None
    assert len(gaps) == 0


def test_gap_tracker_forgets_the_least_recently_seen_key_first():
    gaps = E.SequenceGapTracker(max_keys=2)
    gaps.observe("a", 1)
    gaps.observe("b", 1)
    gaps.observe("a", 2)  # a is now the most recent
    gaps.observe("c", 1)  # b goes
    assert gaps.last("b") is None and gaps.last("a") == 2 and gaps.last("c") == 1
    assert gaps.observe("b", 50) is None  # forgotten: tracking restarts, no false gap
    assert gaps.observe("b", 53)["missing"] == 2


def test_gap_tracker_rejects_a_bound_below_one():
    with pytest.raises(ValueError, match="max_keys"):
        E.SequenceGapTracker(max_keys=0)


@SETTINGS
@given(items=st.lists(st.tuples(st.integers(min_value=0, max_value=30),
                                st.integers(min_value=0, max_value=200)), max_size=200),
       max_keys=st.integers(min_value=1, max_value=8))
def test_gap_tracker_stays_bounded_and_reports_only_real_gaps(items, max_keys):
    gaps = E.SequenceGapTracker(max_keys=max_keys)
    unbounded = E.SequenceGapTracker(max_keys=10 ** 6)
    for key, nr in items:
        report = gaps.observe("d%d" % key, nr)
        reference = unbounded.observe("d%d" % key, nr)
        assert len(gaps) <= max_keys
        # a bounded tracker may miss a gap of a forgotten key, never invent one
        assert report is None or report == reference
