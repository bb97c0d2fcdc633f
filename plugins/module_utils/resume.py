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
from ansible_collections.zhmc.eda.plugins.module_utils.dedupe import OsMessageDedupe, fingerprint
from ansible_collections.zhmc.eda.plugins.module_utils.resync import KnownStatus, StatusBook

LOG = logging.getLogger("zhmc.eda.source")


def selector_of(topics: Any, topic_types: Any, channels: Any) -> str:
    """A short hash of what a source watches (a checkpoint of another selection is told)."""
    text = json.dumps({"topics": list(topics), "topic_types": list(topic_types),
                       "os_message_channels": [dict(c) for c in channels]}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


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

    def seed_dedupe(self, dedupe: Optional[OsMessageDedupe], hmc_name: str) -> None:
        """Tell the dedupe what was emitted: by sequence number what this HMC numbered, by
        time what other HMCs did (they number their own). This HMC's own position can be
        stale: after a fail-over the stream went on through another HMC, and the messages
        this one got after it came back were emitted already; a newer time from another HMC
        therefore bridges by time as well (found by the kill and fail-over soak)."""
        self.hmc_name = hmc_name
        if self.store is None or dedupe is None:
            return
        state = self.store.state
        own = state.positions.get(hmc_name, {})
        for object_id, position in own.items():
            dedupe.seed(object_id, position.sequence_number, position.timestamp,
                        state.fingerprints.get(object_id, ()))
        others = [name for name in state.positions if name != hmc_name]
        for name in others:
            for object_id, position in state.positions[name].items():
                mine = own.get(object_id)
                if mine is None or _later(position.timestamp, mine.timestamp):
                    dedupe.seed(object_id, None, position.timestamp,
                                state.fingerprints.get(object_id, ()))
        if others:
            LOG.info("checkpoint: OS messages emitted through %s are recognised by their "
                     "time (HMC %s numbers its messages itself)", ", ".join(others), hmc_name)

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
            self.store.record_message(
                self.hmc_name or str(hmc.get("host")), object_id, message["sequence_number"],
                message.get("timestamp"),
                fingerprint(object_id, message.get("timestamp"), message.get("text")))
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


def _later(timestamp: Optional[int], than: Optional[int]) -> bool:
    """A known time after another (an unknown one is never later; any is after none)."""
    return timestamp is not None and (than is None or timestamp > than)
