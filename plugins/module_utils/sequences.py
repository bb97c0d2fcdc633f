# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Sequence numbers: OS messages already emitted per partition/LPAR, and gaps in a topic's
``session-sequence-nr`` (small bounded state, no I/O)."""

from __future__ import annotations

import collections

from ansible_collections.zhmc.eda.plugins.module_utils.event_ids import object_id_of
from ansible_collections.zhmc.eda.plugins.module_utils.event_values import to_int


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
        seq, ok = to_int(sequence_number)
        key = object_id_of(object_uri)
        if seq is None or not ok or key is None:
            return True  # nothing to compare: never drop
        if timestamp is not None:
            timestamp, ok = to_int(timestamp)
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
        nr, ok = to_int(nr)
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
