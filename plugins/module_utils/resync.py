# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""List-then-watch: status changes that happened while nobody listened, as events.

The status book keeps the last known status of every watched partition and LPAR: from the
checkpoint at start, from each listing, and from every live status-change. After a gap in
the stream (a start with a checkpoint, a reconnect, a re-logon, an HMC restart) the source
lists the watched objects again; for each whose status differs from the book, it emits an
event shaped like a live ``status-change`` (same ``hmc.body["change-reports"]`` layout), with
``hmc.resync: true`` and the old status from the book.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Optional

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import OsObject

ORIGIN_RESYNC = "resync"


@dataclasses.dataclass(frozen=True)
class KnownStatus:
    status: Optional[str]
    additional_status: Optional[str] = None


class StatusBook:
    """The last known status per watched object (by URI)."""

    def __init__(self, on_change: Optional[Callable[[str, KnownStatus], None]] = None) -> None:
        self._known: Dict[str, KnownStatus] = {}
        self._on_change = on_change  # the checkpoint records each change

    def __len__(self) -> int:
        return len(self._known)

    def get(self, uri: str) -> Optional[KnownStatus]:
        return self._known.get(uri)

    def set(self, uri: str, known: KnownStatus) -> None:
        if self._known.get(uri) == known:
            return
        self._known[uri] = known
        if self._on_change is not None:
            self._on_change(uri, known)

    def seed(self, statuses: Dict[str, KnownStatus]) -> None:
        """What a checkpoint says (recorded there already)."""
        self._known.update(statuses)

    def observe(self, event: dict) -> None:
        """A live status-change event of a partition or LPAR."""
        hmc = event.get("hmc") or {}
        uri = (hmc.get("object") or {}).get("uri")
        if hmc.get("notification_type") != "status-change" or not isinstance(uri, str):
            return
        reports = [r for r in hmc.get("change_reports") or [] if isinstance(r, dict)]
        if not reports:
            return
        last = reports[-1]
        old = self._known.get(uri)
        self.set(uri, KnownStatus(
            hmc.get("new_status"),
            last.get("new-additional-status", old.additional_status if old else None)))


def changed_while_away(book: StatusBook, listed: Iterable[OsObject]) -> List[OsObject]:
    """The listed objects whose status differs from what the book last knew."""
    changed = []
    for obj in listed:
        known = book.get(obj.uri)
        if known is not None and known.status != obj.status:
            changed.append(obj)
    return changed


def resync_event(obj: OsObject, old: KnownStatus, new: KnownStatus, props: Dict[str, Any],
                 host: Optional[str], gap_id: str) -> dict:
    """An event shaped like a live status-change of ``obj``, marked ``hmc.resync``."""
    report = {
        "old-status": old.status,
        "new-status": new.status,
        "old-additional-status": old.additional_status,
        "new-additional-status": new.additional_status,
        "has-unacceptable-status": props.get("has-unacceptable-status"),
    }
    headers = {"notification-type": "status-change", "object-uri": obj.uri,
               "class": obj.cls, "name": obj.name or ""}
    event = events_mod.notification_to_events(
        headers, {"change-reports": [report]}, host=host)[0]
    hmc = event["hmc"]
    hmc["resync"] = True
    hmc["origin"] = ORIGIN_RESYNC
    hmc["headers"] = {}  # no notification carried it
    hmc["object"].update(cpc_name=obj.cpc_name, cpc_uri=obj.cpc_uri)
    # stable for the same change seen after the same gap (a replayed resync dedupes)
    event["meta"]["uuid"] = events_mod.event_uuid(
        "resync", host, obj.uri, old.status, new.status, gap_id)
    return event
