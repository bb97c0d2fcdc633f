# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""OS messages: one HMC os-message-info -> the event's ``os_message``, and the events of
messages fetched with List OS Messages (backfill). Pure, never raises on bad input."""

from __future__ import annotations

from ansible_collections.zhmc.eda.plugins.module_utils.constants import OS_TOPIC_TYPE
from ansible_collections.zhmc.eda.plugins.module_utils.event_ids import (
    event_uuid, object_id_of, os_message_uuid)
from ansible_collections.zhmc.eda.plugins.module_utils.event_values import to_bool, to_int

ORIGIN_BACKFILL = "backfill"
OS_MESSAGE_TOPIC_TYPE = OS_TOPIC_TYPE


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
    sequence_number = to_int(get("sequence-number"))[0]
    timestamp = to_int(get("timestamp"))[0]
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
        "is_held": to_bool(get("is-held")),
        "is_priority": to_bool(get("is-priority")),
        "prompt_text": prompt_text,
        "is_refresh": to_bool(get("is-refresh")),
        "sound_alarm": to_bool(get("sound-alarm")),
        "os_name": os_name,
    }
    if text != raw_text:
        message["text_raw"] = raw_text
    return message


def os_messages_of(body):
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
