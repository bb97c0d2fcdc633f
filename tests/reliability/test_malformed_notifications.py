"""1,000+ generated malformed, empty, huge and odd-typed notifications through a real broker.

Hypothesis generates batches of (headers, body); they are published into ActiveMQ and
received by the source (in-process, STOMP+TLS). Each batch ends with a well-formed sentinel:
once the sentinel's event is in, every earlier message of the batch must have produced its
event(s) (one topic, one connection: the broker keeps the order). Documented handling
(README "Event reference", events.py):
- a body that is not JSON -> an event with hmc.parse_error and hmc.raw_body (the body,
  truncated when huge, with hmc.raw_body_truncated);
- an empty or blank body -> an event with hmc.body = null (a leading byte-order mark is
  skipped before parsing);
- JSON of an unexpected shape or odd header values -> an event (hmc.body_error /
  hmc.header_errors say what was wrong); never a crash, never a lost notification.
"""
import json
import logging
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.reliability import harness
from tests.support import activemq as activemq_module

pytestmark = [pytest.mark.activemq, pytest.mark.slow]

TOPIC = "zeda-malformed"
BATCHES = 24
BATCH_SIZE = st.integers(min_value=40, max_value=60)
NOTIFICATION_TYPES = ["os-message", "status-change", "property-change", "job-completion",
                      "inventory-change", "log-entry", "no-such-type", ""]

# STOMP frames without content-length end at the first NUL, so NUL is left out of text;
# surrogates cannot be encoded as UTF-8 at all.
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=200)
_header_value = st.one_of(
    _text,
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "null", "true", "0x10", "1e400", "-1", "NaN", "9" * 40]),
)
_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**80, max_value=2**80),
                         st.floats(allow_nan=False, allow_infinity=False), _text)
_json_value = st.recursive(_json_scalar, lambda children: st.one_of(
    st.lists(children, max_size=5), st.dictionaries(_text, children, max_size=5)), max_leaves=20)
_os_message_info = st.dictionaries(
    st.sampled_from(["sequence-number", "message-text", "message-id", "timestamp", "is-held",
                     "is-priority", "prompt-text", "os-name", "is-refresh", "sound-alarm", "other"]),
    _json_value, max_size=8)
_hmc_shaped = st.one_of(
    st.fixed_dictionaries({"os-messages": st.one_of(st.lists(_os_message_info, max_size=4), _json_value)}),
    st.fixed_dictionaries({"change-reports": st.one_of(st.lists(_json_value, max_size=3), _json_value)}),
    st.fixed_dictionaries({"log-entries": st.one_of(st.lists(_json_value, max_size=3), _json_value)}),
)
_huge = st.sampled_from([
    "x" * 1_500_000,                                                       # not JSON, 1.5 MB
    json.dumps({"os-messages": [{"sequence-number": n, "message-text": "m" * 100} for n in range(2000)]}),
    "[" * 5000 + "]" * 5000,                                               # nested too deeply
    "{" * 100_000,                                                         # truncated JSON
    json.dumps({"os-messages": [{"message-text": "\u2603" * 200_000}]}),   # big non-ASCII text
])
_body = st.one_of(
    st.just(""), st.sampled_from([" ", "\n", "\t \r\n", "null", "NaN", "Infinity", "{", "}", "[1,", "\ufeff{}",
                                  "\ufeff", "\ufeff \n"]),
    _text,
    _json_value.map(json.dumps),
    _hmc_shaped.map(json.dumps),
    _huge,
)
_headers = st.fixed_dictionaries({}, optional={
    "notification-type": st.one_of(st.sampled_from(NOTIFICATION_TYPES), _text),
    "session-sequence-nr": _header_value,
    "global-sequence-nr": _header_value,
    "timestamp-x": _header_value,
    "object-uri": st.one_of(st.just("/api/partitions/abc"), _text),
    "object-id": _header_value,
    "element-uri": _text,
    "class": _header_value,
    "name": _header_value,
    "job-uri": _header_value,
    "property-names": _header_value,
    "action": _header_value,
})
_notification = st.tuples(_headers, _body)


def _reject_constant(name):
    raise ValueError(name)


def _is_json(text):
    """Strict JSON (no NaN/Infinity), as a notification body must be."""
    try:
        json.loads(text, parse_constant=_reject_constant)
        return True
    except (ValueError, RecursionError):
        return False


@pytest.fixture(scope="module")
def fuzz_state():
    return {"published": 0, "events": 0, "parse_errors": 0, "empty": 0, "other": 0, "batches": 0,
            "huge": 0, "split": 0, "max_body_chars": 0}


def test_generated_bad_notifications_never_crash_or_vanish(activemq_running, sources, fuzz_state):
    broker = activemq_running
    # Frame-level DEBUG logs would copy every megabyte-sized body into memory several times
    # (this capture and pytest's); the secret scan still sees every INFO+ record.
    for name in ("stomp.py", "zhmc.eda.receiver.frames"):
        logging.getLogger(name).setLevel(logging.INFO)
    # dedupe off: generated sequence numbers repeat, and dropping repeats is not what is tested
    source = sources.start(harness.activemq_args(broker, [TOPIC], dedupe_os_messages=False,
                                                 split_os_messages=True))
    source.wait_status("connected", 60)
    counter = {"batch": 0}
    started = time.monotonic()

    # no shrinking: every example is a batch through a real broker, and shrinking would replay
    # hundreds of them; the failure message names the offending notification instead
    @settings(max_examples=BATCHES, deadline=None, derandomize=False, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(batch=st.lists(_notification, min_size=40, max_size=60))
    def run_batch(batch):
        counter["batch"] += 1
        prefix = "b%d-" % counter["batch"]
        messages = []
        for index, (headers, body) in enumerate(batch):
            headers = dict(headers)
            headers[harness.TEST_ID_HEADER] = prefix + str(index)
            messages.append((headers, body))
        sentinel = prefix + "sentinel"
        sentinel_headers, sentinel_body = activemq_module.os_message_notification(sentinel, 1)
        messages.append((sentinel_headers, sentinel_body))
        mark = source.mark()
        broker.publish_messages(TOPIC, messages)
        events = source.wait_for(lambda evs: any(harness.published_id(e) == sentinel for e in evs), 60,
                                 start=mark, what="sentinel of batch %d" % counter["batch"])
        by_id = {}
        for event in events:
            by_id.setdefault(harness.published_id(event), []).append(event)
        for index, (headers, body) in enumerate(batch):
            key = prefix + str(index)
            got = by_id.get(key)
            assert got, "notification %s produced no event (headers %r, body %r)" % (
                key, headers, body[:200])
            fuzz_state["published"] += 1
            fuzz_state["events"] += len(got)
            fuzz_state["split"] += len(got) > 1
            fuzz_state["huge"] += len(body) >= 100_000
            fuzz_state["max_body_chars"] = max(fuzz_state["max_body_chars"], len(body))
            hmc = harness.hmc_part(got[0])
            # a leading byte-order mark is skipped before parsing (events.parse_body)
            after_bom = body[1:] if body.startswith("\ufeff") else body
            if not body or body.isspace():
                fuzz_state["empty"] += 1
                assert hmc.get("body") is None and "parse_error" not in hmc, (key, hmc.get("parse_error"))
            elif not _is_json(after_bom):
                fuzz_state["parse_errors"] += 1
                assert hmc.get("parse_error"), "no parse_error for non-JSON body %r" % body[:200]
                raw = hmc.get("raw_body")
                if hmc.get("raw_body_truncated"):
                    assert raw and body.startswith(raw)
                else:
                    assert raw == body
            else:
                fuzz_state["other"] += 1
                assert "parse_error" not in hmc, (key, hmc.get("parse_error"), body[:200])
        source.assert_running()

    run_batch()
    fuzz_state["batches"] = counter["batch"]
    harness.report("malformed_notifications", seconds=time.monotonic() - started, crashes=0,
                   **fuzz_state)
    source.assert_running()
    assert fuzz_state["published"] >= 1000, fuzz_state
