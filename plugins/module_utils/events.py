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

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Tuple

# What used to live here and is still imported from here (re-exported).
from ansible_collections.zhmc.eda.plugins.module_utils.constants import (  # noqa: F401 # pylint: disable=unused-import
    NOTIFICATION_TYPES,
)
from ansible_collections.zhmc.eda.plugins.module_utils.event_ids import (  # noqa: F401 # pylint: disable=unused-import
    EVENT_UUID_NAMESPACE,
    event_uuid,
    object_id_of,
    os_message_uuid,
    os_uuid_for_id,
    uuid5_str,
)
from ansible_collections.zhmc.eda.plugins.module_utils.event_values import (
    json_safe_headers,
    to_int,
)
from ansible_collections.zhmc.eda.plugins.module_utils.notification_body import (  # noqa: F401 # pylint: disable=unused-import
    MAX_BODY_CHARS,
    MAX_JSON_DEPTH,
    RAW_BODY_MAX_CHARS,
    parse_body,
    raw_body_fields,
)
from ansible_collections.zhmc.eda.plugins.module_utils.os_message_info import (  # noqa: F401 # pylint: disable=unused-import
    ORIGIN_BACKFILL,
    OS_MESSAGE_TOPIC_TYPE,
    normalize_os_message,
    os_message_events,
    os_messages_of,
)
from ansible_collections.zhmc.eda.plugins.module_utils.sequences import (  # noqa: F401 # pylint: disable=unused-import
    OsMessageDeduper,
    SequenceGapTracker,
)

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

_INT_HEADERS = ("session-sequence-nr", "global-sequence-nr", "timestamp")
_TOPIC_PREFIX = "/topic/"
_TOPIC_PREFIX_LEN = len(_TOPIC_PREFIX)
# Headers that differ between two deliveries of the same notification (left out of the
# last-resort uuid hash).
_DELIVERY_HEADERS = frozenset(("subscription", "ack", "redelivered"))


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
        headers = json_safe_headers(headers)
    get = headers.get
    header_errors = None

    ints = []
    for name in _INT_HEADERS:
        value, ok = to_int(get(name))
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
    key: Tuple[Any, ...]
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
        messages, shape_error = os_messages_of(body)
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
                event_id = os_uuid_for_id(host, uri_id, seq, message["timestamp"])
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
