# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Resuming where the source left off: the checkpoint at run time, and the status book.

At start the checkpoint (option ``checkpoint_file``) seeds the OS-message dedupe with the
last sequence number emitted per partition/LPAR on this HMC, and the status book with the
last known statuses. While running, every event handed to ansible-rulebook is recorded
right after its ``queue.put`` returns, so a killed process restarts without emitting an OS
message twice. Without a checkpoint file the status book still works within one run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Dict, Optional

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.checkpoint import CheckpointStore
from ansible_collections.zhmc.eda.plugins.module_utils.resync import KnownStatus, StatusBook

LOG = logging.getLogger("zhmc.eda.source")


def selector_of(topics: Any, topic_types: Any, channels: Any) -> str:
    """A short hash of what a source watches (a checkpoint of another selection is told)."""
    text = json.dumps({"topics": list(topics), "topic_types": list(topic_types),
                       "os_message_channels": [dict(c) for c in channels]}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def fingerprint(object_id: str, message: Dict[str, Any]) -> Optional[str]:
    """What recognises one OS message whatever HMC presents it: the OS's timestamp and text
    (None when the OS gave no timestamp: then nothing can tell two alike messages apart)."""
    if message.get("timestamp") is None:
        return None
    text = "%s|%s|%s" % (object_id, message["timestamp"], message.get("text"))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:24]


class Resume:
    """The checkpoint (when configured) and the status book of one source."""

    def __init__(self, path: Optional[str], selector: str) -> None:
        self.store = CheckpointStore(path, selector) if path else None
        self.book = StatusBook(on_change=self._record_status)
        self.hmc_name: Optional[str] = None  # whose sequence numbers the positions are

    # ------------------------------------------------------------------ start
    def load(self) -> None:
        """Read the checkpoint (problems are logged: the source then starts clean)."""
        if self.store is None:
            return
        for problem in self.store.load():
            LOG.warning("checkpoint: %s", problem)
        self.book.seed({uri: KnownStatus(s.status, s.additional_status)
                        for uri, s in self.store.state.statuses.items()})
        try:
            self.store.start()
        except OSError as exc:
            LOG.error("checkpoint: cannot write %s (%s); going on without it",
                      self.store.path, exc.strerror)
            self.store = None
            return
        LOG.info("checkpoint %s: %d position(s), %d status(es)", self.store.path,
                 sum(len(p) for p in self.store.state.positions.values()), len(self.book))

    @property
    def has_positions(self) -> bool:
        return self.store is not None and bool(self.store.state.positions)

    def seed_dedupe(self, deduper: Optional[events_mod.OsMessageDeduper], hmc_name: str) -> int:
        """Tell the dedupe what this HMC's messages were emitted already; returns how many
        objects it knows. Positions of another HMC are not used: it numbers its own."""
        self.hmc_name = hmc_name
        if self.store is None or deduper is None:
            return 0
        positions = self.store.state.positions.get(hmc_name, {})
        for object_id, position in positions.items():
            deduper.is_new(object_id, position.sequence_number, position.timestamp)
        others = [name for name in self.store.state.positions if name != hmc_name]
        if others and not positions:
            LOG.warning("checkpoint: its OS message positions are from %s, not from %s, which "
                        "numbers its messages itself; not used", ", ".join(others), hmc_name)
        return len(positions)

    # ------------------------------------------------------------------ while running
    def emitted(self, event: dict) -> None:
        """An event ansible-rulebook has taken (the emitter calls this after each put)."""
        hmc = event.get("hmc") or {}
        message = hmc.get("os_message")
        if message is not None:
            self._record_message(hmc, message)
        elif hmc.get("notification_type") == "status-change":
            self.book.observe(event)

    def _record_message(self, hmc: dict, message: Dict[str, Any]) -> None:
        if self.store is None or message.get("sequence_number") is None:
            return
        object_id = events_mod.object_id_of((hmc.get("object") or {}).get("uri"))
        if object_id is None:
            return
        try:
            self.store.record_message(self.hmc_name or str(hmc.get("host")), object_id,
                                      message["sequence_number"], message.get("timestamp"),
                                      fingerprint(object_id, message))
        except OSError as exc:
            self._write_failed(exc)

    def _record_status(self, uri: str, known: KnownStatus) -> None:
        if self.store is None:
            return
        try:
            self.store.record_status(uri, known.status, known.additional_status)
        except OSError as exc:
            self._write_failed(exc)

    def _write_failed(self, exc: OSError) -> None:
        store, self.store = self.store, None
        if store is not None:
            LOG.error("checkpoint: cannot write %s (%s); going on without it", store.path,
                      exc.strerror)
            store.close()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
