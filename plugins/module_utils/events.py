# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""HMC notifications -> ansible-rulebook events: shaping, splitting, uuids, dedupe, gaps.

Pure: no I/O, no threads, no asyncio, no logging. Every function here accepts whatever a
broker delivers (headers of any text, bodies that are empty, binary-ish, huge or not JSON)
and never raises on it: a body that cannot be parsed (not JSON, over MAX_BODY_CHARS, nested
over MAX_JSON_DEPTH; see notification_body.py) becomes an event with ``hmc.parse_error`` and
the (truncated) raw body. The event shape is the public API of the source;
``docs/events.md`` documents every key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import hashlib
import json
import math
import uuid

# the notification types (constants) and parse_body, the limits and RAW_BODY_MAX_CHARS
# (notification_body) are also used from here (re-exported)
from ansible_collections.zhmc.eda.plugins.module_utils.constants import (  # noqa: F401 # pylint: disable=unused-import
    NOTIFICATION_TYPES,
)
from ansible_collections.zhmc.eda.plugins.module_utils.notification_body import (  # noqa: F401 # pylint: disable=unused-import
    MAX_BODY_CHARS,
    MAX_JSON_DEPTH,
    RAW_BODY_MAX_CHARS,
    parse_body,
    raw_body_fields,
)

# All event uuids are UUID5 under this namespace (uuid5(NAMESPACE_URL, <the collection's
# Galaxy URL>)); changing it would change every uuid users may have stored.
EVENT_UUID_NAMESPACE = uuid.UUID("4bd0252a-fe8c-539c-9674-a76db35fc82c")

STATUS_STATES = (
    "connected",
    "disconnected",
    "reconnected",
    "relogon",
    "gap",
    "backlog",
    "error",
    "channel",
    "watch",
    "waiting",
)
STATUS_NOTIFICATION_TYPE = "status"
ORIGIN_LIVE = "live"
ORIGIN_BACKFILL = "backfill"
OS_MESSAGE_TOPIC_TYPE = "os-message-notification"

_INT_HEADERS = ("session-sequence-nr", "global-sequence-nr", "timestamp")
_TOPIC_PREFIX = "/topic/"
_TOPIC_PREFIX_LEN = len(_TOPIC_PREFIX)
# Headers that differ between two deliveries of the same notification (left out of the
# last-resort uuid hash).
_DELIVERY_HEADERS = frozenset(("subscription", "ack", "redelivered"))


# ---------------------------------------------------------------------------------------
# uuids


_NAMESPACE_BYTES = EVENT_UUID_NAMESPACE.bytes


def _sha1(data):
    try:
        return hashlib.sha1(data, usedforsecurity=False)
    except TypeError:  # a Python without the keyword
        return hashlib.sha1(data)  # noqa: S324 - UUID5 is defined on SHA-1; not a security use


def uuid5_str(name):
    """str(uuid.uuid5(EVENT_UUID_NAMESPACE, name)), computed in about a third of the time."""
    digest = bytearray(_sha1(_NAMESPACE_BYTES + name.encode("utf-8", "surrogatepass")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def event_uuid(*parts):
    """Return a UUID5 string (under EVENT_UUID_NAMESPACE) for the given key parts."""
    return uuid5_str("|".join([str(p) for p in parts]))


def object_id_of(object_uri):
    """The object ID of an HMC URI: its last path segment ("/api/partitions/ab12" -> "ab12").

    Topics and List OS Messages may name one object by differently formed URIs; the ID
    is what stays the same.
    """
    if object_uri is None:
        return None
    text = str(object_uri).rstrip("/")
    return text.rsplit("/", 1)[-1] if text else None


def _os_uuid(host, object_id, sequence_number, timestamp):
    if timestamp is None:
        return uuid5_str("os|%s|%s|%s" % (host, object_id, sequence_number))
    return uuid5_str("os|%s|%s|%s|%s" % (host, object_id, sequence_number, timestamp))


def os_message_uuid(host, object_uri, sequence_number, timestamp=None):
    """uuid of one OS message: the same for a live delivery, a refresh replay and a backfill.

    The message timestamp (when the OS gave one) is part of the key so that a sequence
    number that restarts after a wrap-around or reset does not reuse an old message's uuid.
    """
    return _os_uuid(host, object_id_of(object_uri), sequence_number, timestamp)


# ---------------------------------------------------------------------------------------
# small converters (never raise)


def _to_int(value):
    """(int or None, ok) for a header or body value; bools are not integers."""
    if value is None:
        return None, True
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int):
        return value, True
    try:
        return int(value), True
    except (TypeError, ValueError, OverflowError):
        return None, False


def _to_bool(value):
    if value is True or value is False:
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value) if isinstance(value, (int, float)) else False


def _json_safe_headers(headers):
    """A copy of the headers with text keys and JSON-safe values (they normally are all str)."""
    if not headers:
        return {}
    if not isinstance(headers, dict):
        try:
            headers = dict(headers)
        except (TypeError, ValueError):
            return {}
    copy = {}
    for raw_key, raw_value in headers.items():
        value = raw_value
        if not (value is None or isinstance(value, (str, int, float, bool))):
            value = str(value)
        elif isinstance(value, float) and not math.isfinite(value):  # NaN/Infinity are not JSON
            value = str(value)
        copy[raw_key if isinstance(raw_key, str) else str(raw_key)] = value
    return copy


# ---------------------------------------------------------------------------------------
# OS messages


def normalize_os_message(info):
    """Turn one HMC os-message-info dict into the event's ``os_message`` dict.

    Keys become snake_case, ``message-text`` loses its trailing newline(s) (``text_raw``
    keeps the original when they differ), ``message-id`` becomes a string, a timestamp of
    -1 (none given by the OS) becomes null.
    """
    get = info.get
    raw_text = get("message-text")
    if isinstance(raw_text, str):
        text = raw_text.rstrip("\r\n")
    elif raw_text is None:
        text = None
    else:
        text = raw_text = str(raw_text)
    sequence_number = _to_int(get("sequence-number"))[0]
    timestamp = _to_int(get("timestamp"))[0]
    if timestamp is not None and timestamp < 0:
        timestamp = None
    message_id = get("message-id")
    if message_id is not None and not isinstance(message_id, str):
        message_id = str(message_id)
    prompt_text = get("prompt-text")
    if prompt_text is not None and not isinstance(prompt_text, str):
        prompt_text = str(prompt_text)
    os_name = get("os-name")
    if os_name is not None and not isinstance(os_name, str):
        os_name = str(os_name)
    message = {
        "sequence_number": sequence_number,
        "text": text,
        "message_id": message_id,
        "timestamp": timestamp,
        "is_held": _to_bool(get("is-held")),
        "is_priority": _to_bool(get("is-priority")),
        "prompt_text": prompt_text,
        "is_refresh": _to_bool(get("is-refresh")),
        "sound_alarm": _to_bool(get("sound-alarm")),
        "os_name": os_name,
    }
    if text != raw_text:
        message["text_raw"] = raw_text
    return message


def _os_messages_of(body):
    """(list of os-message-info dicts, shape error or None) of an os-message body."""
    if body is None:
        return [], None
    if not isinstance(body, dict):
        return [], "os-message body is not a JSON object"
    messages = body.get("os-messages")
    if messages is None:
        return [], "os-message body has no 'os-messages' list"
    if not isinstance(messages, list):
        return [], "'os-messages' is not a list"
    for index, item in enumerate(messages):
        if not isinstance(item, dict):
            return [], "'os-messages' entry %d is not a JSON object" % index
    return messages, None


def _list_member(body, key, notification_type):
    """(body[key] as a list, shape error or None); an empty body gives []."""
    if body is None:
        return [], None
    if not isinstance(body, dict):
        return [], "%s body is not a JSON object" % notification_type
    value = body.get(key)
    if value is None:
        return [], "%s body has no '%s' list" % (notification_type, key)
    if not isinstance(value, list):
        return [], "'%s' is not a list" % key
    return value, None


def _status_values(reports):
    """(old status, new status) across a status-change's reports (time order)."""
    old_status = new_status = None
    for report in reports:
        if isinstance(report, dict):
            if old_status is None and report.get("old-status") is not None:
                old_status = report.get("old-status")
            if report.get("new-status") is not None:
                new_status = report.get("new-status")
    return old_status, new_status


# ---------------------------------------------------------------------------------------
# notifications -> events


def notification_to_events(headers, body_text, *, host, topic_types=None, split_os_messages=True,
                           max_body_chars=MAX_BODY_CHARS, max_json_depth=MAX_JSON_DEPTH):
    """Return the rulebook events (list of dicts) for one received notification.

    ``headers``: the STOMP headers as received (all strings); ``body_text``: the raw body
    (str, bytes, None); ``host``: the HMC it came from; ``topic_types``: topic name ->
    HMC topic type (as returned by Get Notification Topics) for ``hmc.topic_type``.
    An os-message notification becomes one event per OS message when
    ``split_os_messages`` (and one event with ``hmc.os_messages`` otherwise). A body over
    ``max_body_chars`` characters or nested over ``max_json_depth`` levels is not parsed
    (``hmc.parse_error``). Never raises on bad input; every event is JSON-serialisable.
    """
    if isinstance(headers, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        headers = dict(headers)
    else:
        headers = _json_safe_headers(headers)
    get = headers.get
    header_errors = None

    ints = []
    for name in _INT_HEADERS:
        value, ok = _to_int(get(name))
        if not ok:
            if header_errors is None:
                header_errors = []
            header_errors.append("%s: not an integer" % name)
        ints.append(value)
    session_nr, global_nr, timestamp = ints

    notification_type = get("notification-type")
    if notification_type is None:
        header_errors = (header_errors or []) + ["notification-type: missing"]
    elif not isinstance(notification_type, str):
        notification_type = str(notification_type)

    destination = get("destination")
    if isinstance(destination, str) and destination.startswith(_TOPIC_PREFIX):
        topic = destination[_TOPIC_PREFIX_LEN:]
    else:
        topic = destination
    topic_type = None
    if topic_types and topic is not None:
        try:
            topic_type = topic_types.get(topic)
        except (AttributeError, TypeError):
            topic_type = None

    object_uri = get("object-uri")
    object_id = get("object-id")
    if object_id is None:
        object_id = object_id_of(object_uri)
    obj = {"class": get("class"), "uri": object_uri, "id": object_id, "name": get("name")}
    element_uri = get("element-uri")
    if element_uri is not None:
        obj["element_uri"] = element_uri
        obj["element_id"] = get("element-id")
    elif get("element-id") is not None:
        obj["element_id"] = get("element-id")

    body, parse_error, raw_text = parse_body(body_text, max_body_chars, max_json_depth)

    hmc = {
        "notification_type": notification_type,
        "topic": topic,
        "topic_type": topic_type,
        "object": obj,
        "session_sequence_nr": session_nr,
        "global_sequence_nr": global_nr,
        "timestamp": timestamp,
        "headers": headers,
        "body": body,
        "host": host,
        "origin": ORIGIN_LIVE,
    }
    if header_errors:
        hmc["header_errors"] = header_errors
    if parse_error is not None:
        hmc["parse_error"] = parse_error
        hmc.update(raw_body_fields(raw_text))

    # The notification's own key; os messages have their own (see os_message_uuid).
    if global_nr is not None:
        key = ("n", host, global_nr, object_uri, element_uri, notification_type, timestamp)
    elif get("message-id"):
        key = ("m", host, get("message-id"))
    else:
        digest = hashlib.sha256()
        for name in sorted(headers):
            if name not in _DELIVERY_HEADERS:
                digest.update(("%s\x00%s\x00" % (name, headers[name])).encode("utf-8", "replace"))
        if raw_text is not None:
            digest.update(raw_text.encode("utf-8", "replace"))
        elif body is not None:
            digest.update(json.dumps(body, sort_keys=True, default=str).encode("utf-8", "replace"))
        key = ("b", host, digest.hexdigest())

    if notification_type == "os-message":
        messages, shape_error = _os_messages_of(body)
        if shape_error is not None:
            hmc["body_error"] = shape_error
        if not split_os_messages:
            hmc["os_messages"] = [normalize_os_message(m) for m in messages]
            return [{"hmc": hmc, "meta": {"uuid": event_uuid(*key)}}]
        if not messages:
            return [{"hmc": hmc, "meta": {"uuid": event_uuid(*key)}}]
        events = []
        uri_id = object_id_of(object_uri) if object_uri else object_id
        for index, info in enumerate(messages):
            message = normalize_os_message(info)
            split = dict(hmc)
            split["body"] = {"os-messages": [info]}
            split["os_message"] = message
            seq = message["sequence_number"]
            if seq is None:
                event_id = event_uuid(*(key + ("os", index)))
            else:
                event_id = _os_uuid(host, uri_id, seq, message["timestamp"])
            events.append({"hmc": split, "meta": {"uuid": event_id}})
        return events

    if notification_type == "job-completion":
        hmc["job"] = {"uri": get("job-uri")}
    elif notification_type == "status-change" or notification_type == "property-change":
        reports, shape_error = _list_member(body, "change-reports", notification_type)
        if shape_error is not None:
            hmc["body_error"] = shape_error
        hmc["change_reports"] = reports
        names = get("property-names")
        hmc["property_names"] = names.split() if isinstance(names, str) else []
        if notification_type == "status-change":
            hmc["old_status"], hmc["new_status"] = _status_values(reports)
    elif notification_type == "inventory-change":
        hmc["inventory_action"] = get("action")
    elif notification_type == "log-entry":
        entries, shape_error = _list_member(body, "log-entries", notification_type)
        if shape_error is not None:
            hmc["body_error"] = shape_error
        hmc["log_entries"] = entries
    return [{"hmc": hmc, "meta": {"uuid": event_uuid(*key)}}]


def _object_fields(obj, object_uri):
    """{class, uri, id, name} from an object dict (hmc_client's or raw HMC keys) or a URI."""
    if isinstance(obj, dict):
        uri = object_uri or obj.get("uri") or obj.get("object-uri")
        return {
            "class": obj.get("class"),
            "uri": uri,
            "id": obj.get("id") or obj.get("object-id") or object_id_of(uri),
            "name": obj.get("name"),
        }
    uri = object_uri or (str(obj) if obj is not None else None)
    return {"class": None, "uri": uri, "id": object_id_of(uri), "name": None}


def os_message_events(obj=None, messages=None, *, host, topic=None, origin=ORIGIN_BACKFILL,
                      object_uri=None, split_os_messages=True, topic_type=None):
    """Events for OS messages fetched with List OS Messages (backfill).

    ``obj``: the partition/LPAR (a dict with ``uri``/``object-uri``, ``name``, ``class``,
    or just its URI); ``messages``: a list of os-message-info dicts or the whole
    ``{"os-messages": [...]}`` response. The events have the same shape and the same
    uuids as live split os-message events; ``hmc.origin`` is ``backfill``. With
    ``split_os_messages`` false: one event with ``hmc.os_messages``. Entries that are not
    dicts are left out (they carry nothing to act on).
    """
    if messages is None and (isinstance(obj, list) or (
            isinstance(obj, dict) and "os-messages" in obj)):
        obj, messages = None, obj  # called as os_message_events(result, object_uri=...)
    if isinstance(messages, dict):
        messages = messages.get("os-messages")
    if not isinstance(messages, list):
        messages = []
    infos = [m for m in messages if isinstance(m, dict)]
    if topic_type is None and topic is not None:
        topic_type = OS_MESSAGE_TOPIC_TYPE
    obj_fields = _object_fields(obj, object_uri)
    uri = obj_fields["uri"]

    def base(body):
        return {
            "notification_type": "os-message",
            "topic": topic,
            "topic_type": topic_type,
            "object": dict(obj_fields),
            "session_sequence_nr": None,
            "global_sequence_nr": None,
            "timestamp": None,
            "headers": {},
            "body": body,
            "host": host,
            "origin": origin,
        }

    if not split_os_messages:
        if not infos:
            return []
        normalized = [normalize_os_message(m) for m in infos]
        hmc = base({"os-messages": infos})
        hmc["os_messages"] = normalized
        key = [origin, "batch", host, object_id_of(uri)]
        key.extend(m["sequence_number"] for m in normalized)
        return [{"hmc": hmc, "meta": {"uuid": event_uuid(*key)}}]

    events = []
    for index, info in enumerate(infos):
        message = normalize_os_message(info)
        hmc = base({"os-messages": [info]})
        hmc["os_message"] = message
        seq = message["sequence_number"]
        if seq is None:
            event_id = event_uuid(origin, host, object_id_of(uri), "index", index,
                                  message["text"], message["timestamp"])
        else:
            event_id = os_message_uuid(host, uri, seq, message["timestamp"])
        events.append({"hmc": hmc, "meta": {"uuid": event_id}})
    return events


# ---------------------------------------------------------------------------------------
# status events


def status_event(state, host=None, **details):
    """A source status event: ``hmc.status = {state, **details}``, notification_type 'status'.

    ``state`` must be one of STATUS_STATES. ``details`` must be JSON-serialisable and must
    not carry secrets. Each status event is unique (uuid4).
    """
    if state not in STATUS_STATES:
        raise ValueError(
            "status_event: unknown state %r; expected one of %s" % (state, ", ".join(STATUS_STATES)))
    status = {"state": state}
    status.update(details)
    return {
        "hmc": {"status": status, "host": host, "notification_type": STATUS_NOTIFICATION_TYPE},
        "meta": {"uuid": str(uuid.uuid4())},
    }


# ---------------------------------------------------------------------------------------
# filtering


class EventFilter(object):
    """Keep events by notification type and object class (None or empty = keep all).

    Status events always pass: they describe the source, not an HMC object.
    """

    __slots__ = ("notification_types", "classes")

    def __init__(self, notification_types=None, classes=None):
        self.notification_types = frozenset(notification_types) if notification_types else None
        self.classes = frozenset(classes) if classes else None

    def accepts(self, event):
        hmc = event.get("hmc") if isinstance(event, dict) else None
        if not isinstance(hmc, dict):
            return self.notification_types is None and self.classes is None
        notification_type = hmc.get("notification_type")
        if notification_type == STATUS_NOTIFICATION_TYPE:
            return True
        if self.notification_types is not None and notification_type not in self.notification_types:
            return False
        if self.classes is not None:
            obj = hmc.get("object")
            return isinstance(obj, dict) and obj.get("class") in self.classes
        return True

    matches = accepts


# ---------------------------------------------------------------------------------------
# OS message dedupe


class OsMessageDeduper(object):
    """Remembers the last OS message sequence number per partition/LPAR (keyed by object ID).

    ``is_new(uri, seq)`` is True for a number above the last one (which it then records),
    and False for the last one or one up to ``reset_threshold`` below it: a refresh replay
    after reconnect, or a backfilled message that also arrived live. A number more than
    ``reset_threshold`` below the last one means the HMC's numbering wrapped around or
    restarted: it counts as new and becomes the last one. When the caller passes the
    message timestamp, a lower number whose timestamp is later than the last message's is
    also a restart (replays are older, never newer). At most ``max_objects`` objects are
    remembered (least recently updated forgotten first).
    """

    DEFAULT_RESET_THRESHOLD = 10000

    def __init__(self, max_objects=10000, reset_threshold=DEFAULT_RESET_THRESHOLD):
        if int(max_objects) < 1:
            raise ValueError("OsMessageDeduper: max_objects must be at least 1")
        if int(reset_threshold) < 0:
            raise ValueError("OsMessageDeduper: reset_threshold must not be negative")
        self.max_objects = int(max_objects)
        self.reset_threshold = int(reset_threshold)
        # object id -> [last sequence number, its message timestamp or None]
        self._last = collections.OrderedDict()
        self.duplicates = 0
        self.resets = 0

    def _record(self, key, seq, timestamp):
        last = self._last
        if key in last:
            last.move_to_end(key)
        last[key] = [seq, timestamp]
        if len(last) > self.max_objects:
            last.popitem(last=False)

    def is_new(self, object_uri, sequence_number, timestamp=None):
        """True when this OS message was not delivered before (and record it)."""
        seq, ok = _to_int(sequence_number)
        key = object_id_of(object_uri)
        if seq is None or not ok or key is None:
            return True  # nothing to compare: never drop
        if timestamp is not None:
            timestamp, ok = _to_int(timestamp)
            if not ok or timestamp < 0:
                timestamp = None
        entry = self._last.get(key)
        if entry is None or seq > entry[0]:
            self._record(key, seq, timestamp)
            return True
        last_seq, last_ts = entry
        if last_seq - seq > self.reset_threshold or (
                timestamp is not None and last_ts is not None and timestamp > last_ts):
            self.resets += 1
            self._record(key, seq, timestamp)
            return True
        self.duplicates += 1
        return False

    def seen(self, object_uri, sequence_number, timestamp=None):
        """The opposite of ``is_new`` (and it records the same way)."""
        return not self.is_new(object_uri, sequence_number, timestamp)

    def is_new_event(self, event):
        """``is_new`` for a split os-message event; True for any other event."""
        hmc = event.get("hmc") or {}
        message = hmc.get("os_message")
        if not message:
            return True
        return self.is_new((hmc.get("object") or {}).get("uri"),
                           message.get("sequence_number"), message.get("timestamp"))

    def last(self, object_uri):
        """The last sequence number recorded for the object, or None."""
        entry = self._last.get(object_id_of(object_uri))
        return entry[0] if entry is not None else None

    def forget(self, object_uri=None):
        """Forget one object (or all)."""
        if object_uri is None:
            self._last.clear()
        else:
            self._last.pop(object_id_of(object_uri), None)

    def __len__(self):
        return len(self._last)

    def snapshot(self):
        """A JSON-serialisable dict of the state (for the runtime to keep across restarts)."""
        return {"version": 1,
                "objects": {key: {"sequence_number": seq, "timestamp": ts}
                            for key, (seq, ts) in self._last.items()}}

    def restore(self, snapshot):
        """Load a ``snapshot()`` dict; entries that are not well-formed are skipped.

        Returns the number of objects restored.
        """
        self._last.clear()
        objects = snapshot.get("objects") if isinstance(snapshot, dict) else None
        if not isinstance(objects, dict):
            return 0
        for key, entry in objects.items():
            if not isinstance(entry, dict):
                continue
            seq, ok = _to_int(entry.get("sequence_number"))
            if seq is None or not ok:
                continue
            ts, ok = _to_int(entry.get("timestamp"))
            self._record(str(key), seq, ts if ok else None)
        return len(self._last)


# ---------------------------------------------------------------------------------------
# sequence gaps


class SequenceGapTracker(object):
    """Detects lost notifications from ``session-sequence-nr``, per key (a topic, or one
    key for the topics that share a session's numbering).

    ``observe(key, nr)`` returns None while numbers arrive in order, and
    ``{"topic", "expected", "received", "missing"}`` (``topic`` is the key) when numbers
    were skipped. A number at or below the last one (a new session, a restarted numbering)
    restarts tracking without a report. Call ``reset()`` after a reconnect or re-logon
    (numbering restarts).

    Bounded, whatever destinations a broker sends: a key of None is not tracked (pass None
    for a destination that was not subscribed), and at most ``max_keys`` keys are
    remembered; the one seen least recently is forgotten first, and its next number then
    restarts tracking (never a false report).
    """

    __slots__ = ("_last", "max_keys")

    DEFAULT_MAX_KEYS = 1024

    def __init__(self, max_keys=DEFAULT_MAX_KEYS):
        if int(max_keys) < 1:
            raise ValueError("SequenceGapTracker: max_keys must be at least 1")
        self.max_keys = int(max_keys)
        self._last = collections.OrderedDict()

    def observe(self, key, nr):
        if key is None:
            return None
        nr, ok = _to_int(nr)
        if nr is None or not ok:
            return None
        last_seen = self._last
        last = last_seen.pop(key, None)  # re-inserted below as the most recent key
        last_seen[key] = nr
        if last is None:
            if len(last_seen) > self.max_keys:
                last_seen.popitem(last=False)
            return None
        if nr <= last + 1:
            return None
        return {"topic": key, "expected": last + 1, "received": nr, "missing": nr - last - 1}

    def last(self, key):
        return self._last.get(key)

    def reset(self, key=None):
        if key is None:
            self._last.clear()
        else:
            self._last.pop(key, None)

    def __len__(self):
        return len(self._last)
