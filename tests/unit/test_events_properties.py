"""Property tests of events.py: whatever a broker delivers, shaping never raises and every
event is valid (strict JSON, a real UUID, parse_error exactly for non-empty non-JSON)."""
import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.zhmc.eda.plugins.module_utils import events as E

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

HEADER_NAMES = ["destination", "notification-type", "session-sequence-nr",
                "global-sequence-nr", "timestamp", "object-uri", "object-id", "class",
                "name", "message-id", "element-uri", "element-id", "job-uri", "action",
                "property-names", "subscription"]
NOTIFICATION_TYPES = list(E.NOTIFICATION_TYPES) + ["other"]

header_values = st.one_of(st.text(max_size=40), st.integers().map(str),
                          st.sampled_from(NOTIFICATION_TYPES))
headers_strategy = st.one_of(
    st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=len(HEADER_NAMES)),
    st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=20),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=25,
)
os_message_infos = st.fixed_dictionaries({}, optional={
    "sequence-number": st.one_of(st.integers(), st.text(max_size=5), st.none()),
    "message-text": st.one_of(st.text(max_size=60), st.none(), st.integers()),
    "message-id": st.one_of(st.integers(), st.text(max_size=5), st.none()),
    "timestamp": st.one_of(st.integers(), st.just(-1), st.none(), st.text(max_size=5)),
    "is-held": json_values, "is-priority": json_values, "is-refresh": json_values,
    "sound-alarm": json_values, "prompt-text": json_values, "os-name": json_values,
})
# bodies: JSON of HMC shapes, arbitrary JSON, arbitrary text, bytes
json_bodies = st.one_of(
    st.builds(lambda m: {"os-messages": m}, st.lists(os_message_infos, max_size=4)),
    st.builds(lambda r: {"change-reports": r}, st.lists(json_values, max_size=3)),
    st.builds(lambda r: {"log-entries": r}, json_values),
    json_values,
).map(json.dumps)
bodies = st.one_of(json_bodies, json_bodies.map(lambda b: "\ufeff" + b), st.text(max_size=300),
                   st.binary(max_size=200), st.none())


def _reject_constant(name):
    raise ValueError(name)  # NaN and Infinity are not JSON


def is_json(text):
    if text.startswith("\ufeff"):  # a leading byte order mark is skipped
        text = text[1:]
    try:
        json.loads(text, parse_constant=_reject_constant)
        return True
    except (ValueError, RecursionError):
        return False


def as_text(body):
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body


@SETTINGS
@given(headers=headers_strategy, body=bodies, split=st.booleans(),
       host=st.one_of(st.none(), st.text(max_size=20)))
def test_any_notification_gives_valid_events(headers, body, split, host):
    events = E.notification_to_events(headers, body, host=host,
                                      topic_types={"t": "object-notification"},
                                      split_os_messages=split)
    assert isinstance(events, list) and events
    text = as_text(body)
    expect_error = bool(text) and not text.isspace() and not is_json(text)
    for event in events:
        json.dumps(event, allow_nan=False)
        assert set(event["meta"]) == {"uuid"}
        uuid.UUID(event["meta"]["uuid"])
        hmc = event["hmc"]
        assert hmc["host"] == host
        assert ("parse_error" in hmc) is expect_error
        if expect_error:
            assert hmc["raw_body"] == text[:E.RAW_BODY_MAX_CHARS]
            assert hmc["body"] is None
        # every header is kept (as text)
        assert len(hmc["headers"]) == len(headers)
    # one event per os message only when split and the body has a list of objects
    if len(events) > 1:
        assert split and headers.get("notification-type") == "os-message"
        assert len(events) == len(json.loads(text)["os-messages"])


@SETTINGS
@given(headers=headers_strategy, body=bodies)
def test_shaping_is_deterministic(headers, body):
    first = E.notification_to_events(headers, body, host="h")
    again = E.notification_to_events(dict(headers), body, host="h")
    assert [e["meta"]["uuid"] for e in first] == [e["meta"]["uuid"] for e in again]
    assert [e["hmc"] for e in first] == [e["hmc"] for e in again]


@SETTINGS
@given(infos=st.lists(os_message_infos, max_size=5),
       obj=st.one_of(st.none(), st.text(max_size=30),
                     st.fixed_dictionaries({"uri": st.text(max_size=30)})))
def test_backfill_events_are_valid(infos, obj):
    for split in (True, False):
        for event in E.os_message_events(obj, infos, host="h", split_os_messages=split):
            json.dumps(event, allow_nan=False)
            uuid.UUID(event["meta"]["uuid"])
            assert event["hmc"]["origin"] == "backfill"


@SETTINGS
@given(name=st.text(max_size=200))
def test_fast_uuid5_equals_uuid5(name):
    assert E.uuid5_str(name) == str(uuid.uuid5(E.EVENT_UUID_NAMESPACE, name))


@SETTINGS
@given(seqs=st.lists(st.integers(min_value=0, max_value=50), max_size=60))
def test_deduper_never_passes_a_number_twice_without_a_higher_one_between(seqs):
    dedupe = E.OsMessageDeduper(reset_threshold=1000)
    highest = None
    for seq in seqs:
        new = dedupe.is_new("/api/partitions/p", seq)
        assert new == (highest is None or seq > highest)
        if new:
            highest = seq


@SETTINGS
@given(nrs=st.lists(st.integers(min_value=0, max_value=1000), max_size=50))
def test_gap_tracker_reports_exactly_the_skipped_numbers(nrs):
    gaps = E.SequenceGapTracker()
    last = None
    for nr in nrs:
        report = gaps.observe("t", nr)
        if last is not None and nr > last + 1:
            assert report == {"topic": "t", "expected": last + 1, "received": nr,
                              "missing": nr - last - 1}
        else:
            assert report is None
        last = nr
