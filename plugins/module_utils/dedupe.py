# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""OS messages emitted once: by sequence number on one HMC, by the OS's own time across HMCs.

On the HMC in use, a message is recognised by its partition/LPAR and sequence number
(``events.OsMessageDeduper``: refresh replays and backfill overlaps are dropped). Nothing
public says that two redundant HMCs number the same message alike, so after a fail-over to
another HMC (or a checkpoint written through another one) sequence numbers are not
compared. Per object the source then *bridges* by the message's OS timestamp: a message
older than the last one emitted is a replay, one of the same time is a replay when its
fingerprint (time and text) was seen; the first newer one ends the bridge and sequence
numbers take over again. A message without a timestamp cannot be placed in time and is
emitted (an OS that gives no timestamps may show a replay twice after a fail-over).
"""

from __future__ import annotations

import collections
import hashlib
from typing import Any, Deque, Dict, Iterable, List, Optional, Set

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod

# Fingerprints kept per object for messages of the latest timestamps.
RECENT_FINGERPRINTS = 64


# The last fingerprint made: the dedupe and then the checkpoint ask for that of the same
# message (the same text object) one after the other, and hashing is the larger part of what
# the checkpoint costs per message. Only the asyncio loop's thread asks.
_last_print: List[Any] = [None, None, None, None]   # object id, timestamp, text, fingerprint


def fingerprint(object_id: str, timestamp: Optional[int], text: Optional[str]) -> Optional[str]:
    """What recognises one OS message whatever HMC presents it (None without a timestamp)."""
    if timestamp is None:
        return None
    last = _last_print
    if text is last[2] and timestamp == last[1] and object_id == last[0]:
        return last[3]
    data = "%s|%s|%s" % (object_id, timestamp, text)
    value = hashlib.sha256(data.encode("utf-8", "replace")).hexdigest()[:24]
    last[:] = (object_id, timestamp, text, value)
    return value


class OsMessageDedupe:
    """Drops OS messages emitted before; see the module docstring."""

    def __init__(self) -> None:
        self.sequences = events_mod.OsMessageDeduper()
        self._last_time: Dict[str, int] = {}
        self._recent: Dict[str, Deque[str]] = {}
        self._bridging: Set[str] = set()

    # ------------------------------------------------------------------ HMCs
    def switch_hmc(self) -> None:
        """Another HMC's numbers from now on: bridge every object known by time."""
        self.sequences.forget()
        self._bridging = set(self._last_time)

    def seed(self, object_id: str, sequence_number: Optional[int], timestamp: Optional[int],
             fingerprints: Iterable[str] = ()) -> None:
        """What a checkpoint says was emitted (sequence number None: of another HMC)."""
        if sequence_number is not None:
            self.sequences.is_new(object_id, sequence_number, timestamp)
        else:
            self._bridging.add(object_id)
        if timestamp is not None:
            self._last_time[object_id] = max(timestamp, self._last_time.get(object_id, timestamp))
        recent = self._recent.setdefault(object_id, collections.deque(maxlen=RECENT_FINGERPRINTS))
        recent.extend(fingerprints)

    # ------------------------------------------------------------------ messages
    def is_new(self, object_uri: Optional[str], sequence_number: Optional[int],
               timestamp: Optional[int], text: Optional[str]) -> bool:
        """True if this message was not emitted before (and it is then recorded)."""
        object_id = events_mod.object_id_of(object_uri)
        if object_id is None:
            return True
        print_ = fingerprint(object_id, timestamp, text)
        if object_id in self._bridging:
            new = self._new_by_time(object_id, timestamp, print_)
            # record its number either way: a later replay of it is then known by number
            self.sequences.is_new(object_id, sequence_number, timestamp)
            if new:
                self._bridging.discard(object_id)
        else:
            new = self.sequences.is_new(object_id, sequence_number, timestamp)
        if new:
            self._remember(object_id, timestamp, print_)
        return new

    def _new_by_time(self, object_id: str, timestamp: Optional[int],
                     print_: Optional[str]) -> bool:
        last = self._last_time.get(object_id)
        if timestamp is None or last is None:
            return True
        if timestamp < last:
            return False
        if timestamp == last:
            return print_ not in self._recent.get(object_id, ())
        return True

    def _remember(self, object_id: str, timestamp: Optional[int],
                  print_: Optional[str]) -> None:
        if timestamp is None:
            return
        if timestamp >= self._last_time.get(object_id, timestamp):
            self._last_time[object_id] = timestamp
        if print_ is not None:
            recent = self._recent.setdefault(
                object_id, collections.deque(maxlen=RECENT_FINGERPRINTS))
            recent.append(print_)

    def backfill_from(self, object_uri: str) -> Optional[int]:
        """Where a backfill of the object starts: after the last message emitted on this HMC;
        0 (everything the HMC keeps) while bridging; None when nothing was emitted yet."""
        last = self.sequences.last(object_uri)
        if last is not None:
            return last + 1
        object_id = events_mod.object_id_of(object_uri)
        return 0 if object_id in self._bridging else None
