# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""What the source watches: its topics, its OS message channel specs, and their state.

The watch list is the one owner of these facts. Everything else (the stream that subscribes,
the pump that shapes events, the control handler) asks it; nothing keeps a copy. It is plain
data with no I/O: the parts that talk to the HMC or the broker tell it what happened.

Three kinds of subscription:

- ``explicit``: a topic the user named (option ``topics``, or the control socket);
- ``session``: a topic of the source's own HMC session (option ``topic_types``), replaced
  whenever the session is;
- ``channel``: the topic of an OS message channel the source opened in its session for a
  partition or LPAR, also replaced with the session.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.constants import (
    OS_TOPIC_TYPE, TOPIC_TYPE_NAMES)

OBJECT_TOPIC_TYPE = TOPIC_TYPE_NAMES["object"]
from ansible_collections.zhmc.eda.plugins.module_utils.validation import topic_name_problem

EXPLICIT = "explicit"
SESSION = "session"
CHANNEL = "channel"

CONFIG = "config"    # from the source's options
RUNTIME = "runtime"  # added through the control socket

PARTITION = "partition"
LPAR = "lpar"
_CLASS_OF_KIND = {PARTITION: "partition", LPAR: "logical-partition"}
OS_OBJECT_CLASSES = frozenset(_CLASS_OF_KIND.values())
# Partition (DPM) and LPAR (classic) statuses in which an OS runs.
ACTIVE_STATUSES = frozenset(("active", "degraded", "operating", "exceptions"))
SUMMARY_NAMES = 20  # names listed in the watch list log line: short with a thousand channels


@dataclasses.dataclass(frozen=True)
class OsObject:
    """A partition (DPM) or LPAR (classic) with an OS console."""

    uri: str
    name: Optional[str]
    cls: str
    cpc_name: Optional[str]
    cpc_uri: Optional[str]
    status: Optional[str] = None

    @classmethod
    def from_hmc(cls, item: dict) -> "OsObject":
        """From one of hmc_client's find_* results."""
        return cls(uri=item["uri"], name=item.get("name"), cls=item.get("class") or "object",
                   cpc_name=item.get("cpc_name"), cpc_uri=item.get("cpc_uri"),
                   status=item.get("status"))

    def describe(self) -> str:
        return "%s %s (CPC %s)" % (self.cls, self.name, self.cpc_name)

    @property
    def runs_an_os(self) -> bool:
        """True in the statuses in which an operating system runs (its console may talk)."""
        return self.status in ACTIVE_STATUSES

    def with_status(self, status: Optional[str]) -> "OsObject":
        return dataclasses.replace(self, status=status)

    def event_fields(self) -> dict:
        """What events about this object carry to name it (see events.md)."""
        return {"uri": self.uri, "name": self.name, "class": self.cls,
                "cpc_name": self.cpc_name, "cpc_uri": self.cpc_uri}


@dataclasses.dataclass(frozen=True)
class ChannelSpec:
    """Which partitions or LPARs to open OS message channels for.

    ``cpc`` and ``name`` are regular expressions matching the whole name; a spec added
    through the control socket names one object exactly and carries its URI.
    """

    cpc: str
    kind: str  # PARTITION or LPAR
    name: str
    origin: str = CONFIG
    object_uri: Optional[str] = None

    @classmethod
    def from_option(cls, item: dict) -> "ChannelSpec":
        """From one validated ``os_message_channels`` item."""
        kind = PARTITION if item.get("partition") is not None else LPAR
        return cls(cpc=item["cpc"], kind=kind, name=item[kind])

    @classmethod
    def exact(cls, cpc: str, kind: str, name: str) -> "ChannelSpec":
        """A runtime spec for one named object (names escaped into full-match regexes)."""
        return cls(cpc=re.escape(cpc), kind=kind, name=re.escape(name), origin=RUNTIME)

    @property
    def object_class(self) -> str:
        return _CLASS_OF_KIND[self.kind]

    def matches(self, obj: OsObject) -> bool:
        """True if the object is one this spec selects."""
        if self.object_uri is not None:
            return obj.uri == self.object_uri
        return (obj.cls == self.object_class
                and re.fullmatch(self.cpc, obj.cpc_name or "") is not None
                and re.fullmatch(self.name, obj.name or "") is not None)

    def describe(self) -> str:
        return "%s %r on a CPC matching %r" % (self.kind, self.name, self.cpc)


@dataclasses.dataclass
class SessionTopics:
    """What became of a new session's topics."""

    missing: List[str] = dataclasses.field(default_factory=list)  # topic_types the HMC lacks
    refused: List[str] = dataclasses.field(default_factory=list)  # names the broker would refuse


@dataclasses.dataclass
class Subscription:
    """One topic the source subscribes to."""

    topic: str
    kind: str  # EXPLICIT, SESSION or CHANNEL
    origin: str  # CONFIG or RUNTIME
    topic_type: Optional[str] = None
    obj: Optional[OsObject] = None  # the partition/LPAR of a channel
    emit: bool = True  # False: followed for the source's own use, its events not emitted

    @property
    def object_uri(self) -> Optional[str]:
        return self.obj.uri if self.obj is not None else None

    @property
    def of_own_session(self) -> bool:
        """True for topics that belong to the source's HMC session (renewed with it)."""
        return self.kind in (SESSION, CHANNEL)

    def public(self) -> dict:
        """The subscription as the control channel reports it."""
        return {"topic": self.topic, "topic_type": self.topic_type,
                "object_uri": self.object_uri, "origin": self.origin}


class WatchList:
    """The topics and channel specs of one source, and which objects' channels are open."""

    def __init__(self, topics: Iterable[str] = (), topic_types: Iterable[str] = (),
                 channel_specs: Iterable[ChannelSpec] = (), follow: bool = False) -> None:
        self.topic_types: Tuple[str, ...] = tuple(topic_types)
        self.specs: List[ChannelSpec] = list(channel_specs)
        # follow: the session's object topic is subscribed (for itself if need be) so that
        # channels follow their partitions and LPARs through their life cycle
        # (only for specs of the options: a source without them does not follow)
        self.follow = follow and bool(self.specs)
        self._subs: Dict[str, Subscription] = {}
        # objects a spec selects whose channel could not be opened (HMC reason 332), with why
        self._unavailable: Dict[str, Tuple[OsObject, str]] = {}
        # Objects whose channel was closed on request: a config spec that matches them does
        # not open them again (after a re-logon, say).
        self._closed: Set[str] = set()
        for topic in topics:
            self.add_explicit(topic, CONFIG)

    # ------------------------------------------------------------------ reading
    def __contains__(self, topic: str) -> bool:
        return topic in self._subs

    def __len__(self) -> int:
        return len(self._subs)

    def get(self, topic: str) -> Optional[Subscription]:
        return self._subs.get(topic)

    def topic_names(self) -> List[str]:
        return sorted(self._subs)

    def topic_type_map(self) -> Dict[str, str]:
        """topic -> HMC topic type, for the topics whose type is known."""
        return {t: s.topic_type for t, s in self._subs.items() if s.topic_type}

    def channels(self) -> List[Subscription]:
        return [s for s in self._subs.values() if s.kind == CHANNEL]

    def channel_of(self, object_uri: str) -> Optional[Subscription]:
        for sub in self._subs.values():
            if sub.kind == CHANNEL and sub.object_uri == object_uri:
                return sub
        return None

    def public_list(self) -> List[dict]:
        return [self._subs[t].public() for t in sorted(self._subs)]

    def is_closed(self, object_uri: str) -> bool:
        return object_uri in self._closed

    def is_object_topic(self, topic: str) -> bool:
        """True for the object topic of the source's own session (followed or emitted)."""
        sub = self._subs.get(topic)
        return sub is not None and sub.kind == SESSION and sub.topic_type == OBJECT_TOPIC_TYPE

    def spec_for(self, obj: OsObject) -> Optional[ChannelSpec]:
        """The first spec that selects the object, unless its channel was closed on request."""
        if obj.uri in self._closed:
            return None
        return next((spec for spec in self.specs if spec.matches(obj)), None)

    def unavailable(self) -> List[Tuple[OsObject, str]]:
        """Objects a spec selects whose channel could not be opened, with why."""
        return list(self._unavailable.values())

    def is_unavailable(self, object_uri: str) -> bool:
        return object_uri in self._unavailable

    def summary(self) -> str:
        """The watch list in one log line (names beyond the first few counted, not listed)."""
        open_ = sorted("%s (CPC %s)" % (s.obj.name, s.obj.cpc_name)
                       for s in self.channels() if s.obj is not None)
        waiting = sorted("%s (CPC %s): %s" % (o.name, o.cpc_name, why)
                         for o, why in self._unavailable.values())
        return "OS message channels open for %d: %s; unavailable for %d%s" % (
            len(open_), _first_few(open_, ", ") or "none", len(waiting),
            ": " + _first_few(waiting, "; ") if waiting else "")

    # ------------------------------------------------------------------ explicit topics
    def add_explicit(self, topic: str, origin: str) -> bool:
        """Add a topic by name; False if it is subscribed already."""
        if topic in self._subs:
            return False
        self._subs[topic] = Subscription(topic=topic, kind=EXPLICIT, origin=origin)
        return True

    def remove(self, topic: str) -> Optional[Subscription]:
        """Drop a topic; a channel topic also closes its object (see ``close_objects``)."""
        sub = self._subs.pop(topic, None)
        if sub is not None and sub.kind == CHANNEL and sub.object_uri:
            self.close_objects({sub.object_uri})
        return sub

    # ------------------------------------------------------------------ the session's topics
    def replace_session(self, topics: Iterable[dict], logon_topics: Dict[str, Optional[str]]
                        ) -> "SessionTopics":
        """A new HMC session: its topics replace the old session's.

        ``topics`` are the Get Notification Topics items; ``logon_topics`` maps ``object``
        and ``job`` to the topics Logon returned (used when the list omits them). Channel
        topics of the old session are dropped (the channels are opened again in the new
        one). Topic names the broker would refuse are left out and reported.
        """
        for topic in [t for t, s in self._subs.items() if s.of_own_session]:
            del self._subs[topic]
        self._unavailable.clear()
        items = [i for i in topics or [] if isinstance(i, dict)]
        report = SessionTopics()
        wanted = list(self.topic_types)
        if self.follow and "object" not in wanted:
            wanted.append("object")  # followed for the channels' sake, not emitted
        for short in wanted:
            hmc_type = TOPIC_TYPE_NAMES[short]
            names = [i.get("topic-name") for i in items
                     if i.get("topic-type") == hmc_type and i.get("topic-name")]
            if not names and logon_topics.get(short):
                names = [logon_topics[short]]
            if not names:
                report.missing.append(short)
            for name in names:
                if not isinstance(name, str) or topic_name_problem(name) is not None:
                    report.refused.append(repr(name)[:100])
                    continue
                self._subs[name] = Subscription(topic=name, kind=SESSION, origin=CONFIG,
                                                topic_type=hmc_type,
                                                emit=short in self.topic_types)
        # a topic the user named that turns out to be one of this session's gets its type
        for item in items:
            name = item.get("topic-name")
            sub = self._subs.get(name) if isinstance(name, str) else None
            if sub is not None and sub.topic_type is None:
                sub.topic_type = item.get("topic-type")
        return report

    # ------------------------------------------------------------------ channels
    def add_channel(self, obj: OsObject, topic: str, origin: str) -> None:
        """Record an open OS message channel of an object."""
        self._closed.discard(obj.uri)
        self._unavailable.pop(obj.uri, None)
        old = self.channel_of(obj.uri)
        if old is not None and old.topic != topic:
            del self._subs[old.topic]
        self._subs[topic] = Subscription(topic=topic, kind=CHANNEL, origin=origin,
                                         topic_type=OS_TOPIC_TYPE, obj=obj)

    def mark_unavailable(self, obj: OsObject, reason: str) -> bool:
        """The object's channel could not be opened; True if that is news."""
        old = self._unavailable.get(obj.uri)
        self._unavailable[obj.uri] = (obj, reason)
        return old is None or old[1] != reason

    def forget_object(self, object_uri: str) -> Optional[Subscription]:
        """The object is gone (deleted, or no spec selects it): its channel goes too."""
        self._unavailable.pop(object_uri, None)
        sub = self.channel_of(object_uri)
        if sub is not None:
            del self._subs[sub.topic]
        return sub

    def add_spec(self, spec: ChannelSpec) -> None:
        if spec not in self.specs:
            self.specs.append(spec)

    def close_objects(self, object_uris: Set[str]) -> None:
        """Channels closed on request: no spec opens them again, their runtime specs go."""
        self.specs = [s for s in self.specs if s.object_uri not in object_uris]
        self._closed.update(object_uris)
        for uri in object_uris:
            self._unavailable.pop(uri, None)


def _first_few(names: list[str], separator: str) -> str:
    shown = separator.join(names[:SUMMARY_NAMES])
    more = len(names) - SUMMARY_NAMES
    return shown + (" and %d more" % more if more > 0 else "")
