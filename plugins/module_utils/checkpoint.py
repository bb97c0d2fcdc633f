# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The source's checkpoint: what it has emitted, kept in a file across restarts.

Two files: ``PATH`` holds a snapshot (JSON, replaced atomically), ``PATH.journal`` one JSON
line per fact recorded since (appended with one ``write`` each: a process that is killed
loses nothing it had written, the page cache keeps it). Loading reads the snapshot and
replays the journal lines written after it; a torn last line (a machine crash) is ignored.
The journal is folded into a new snapshot every ``COMPACT_LINES`` lines.

What is kept, bounded by the number of watched objects:

- per HMC and partition/LPAR: the last OS message emitted (sequence number, timestamp);
  sequence numbers are the HMC's own, so they are kept per HMC (``hmc``: its name);
- per partition/LPAR: fingerprints of its last ``FINGERPRINTS`` OS messages, which
  recognise a message whatever HMC presents it (after a fail-over);
- per watched object: its last known status and additional status.

A checkpoint is never trusted blindly: a file of another format version, of another
selection (``selector``), or one that cannot be read is reported (``problems``) and the
source starts clean; a file of another HMC keeps its statuses and fingerprints, not its
positions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, Dict, List, Optional, Tuple

FORMAT = 1
# Journal lines before they are folded into a new snapshot.
COMPACT_LINES = 5000
# OS message fingerprints kept per object.
FINGERPRINTS = 64
# A snapshot larger than this is not a checkpoint of ours.
MAX_FILE_BYTES = 64 * 1024 * 1024
# A journal line per emitted OS message, formatted by hand: json.dumps with options builds
# an encoder per call, which cost more than the rest of recording a message (the checkpoint
# benchmark, issue 15). Strings go through json's own escaping.
_MESSAGE_LINE = '{"k":"m","hmc":%s,"o":%s,"s":%d,"t":%s,"f":%s,"n":%d}\n'


@dataclasses.dataclass
class Position:
    sequence_number: int
    timestamp: Optional[int]


@dataclasses.dataclass
class ObjectStatus:
    status: Optional[str]
    additional_status: Optional[str] = None


@dataclasses.dataclass
class CheckpointState:
    """What a checkpoint holds (see the module docstring)."""

    selector: str = ""
    positions: Dict[str, Dict[str, Position]] = dataclasses.field(default_factory=dict)
    fingerprints: Dict[str, List[str]] = dataclasses.field(default_factory=dict)
    statuses: Dict[str, ObjectStatus] = dataclasses.field(default_factory=dict)
    journal_line: int = 0  # the last journal line folded into this state

    # ------------------------------------------------------------------ changes
    def apply(self, line: Dict[str, Any]) -> None:
        """One journal line (see ``CheckpointStore.record_*``)."""
        kind = line.get("k")
        if kind == "m":
            self.add_message(line["hmc"], line["o"], int(line["s"]), line.get("t"), line.get("f"))
        elif kind == "s":
            self.statuses[line["u"]] = ObjectStatus(line.get("st"), line.get("as"))
        self.journal_line = int(line.get("n", self.journal_line))

    def add_message(self, hmc: str, object_id: str, sequence_number: int,
                    timestamp: Optional[int], fingerprint: Optional[str]) -> None:
        """An OS message emitted (once per event: kept cheap)."""
        objects = self.positions.get(hmc)
        if objects is None:
            objects = self.positions[hmc] = {}
        position = objects.get(object_id)
        if position is None:
            objects[object_id] = Position(sequence_number, timestamp)
        else:
            position.sequence_number, position.timestamp = sequence_number, timestamp
        if fingerprint:
            prints = self.fingerprints.get(object_id)
            if prints is None:
                self.fingerprints[object_id] = [fingerprint]
            elif prints[-1] != fingerprint:  # not `in`: comparing with 64 cost a quarter of it all
                prints.append(fingerprint)
                if len(prints) > FINGERPRINTS:
                    del prints[0]

    # ------------------------------------------------------------------ as a file
    def to_json(self) -> Dict[str, Any]:
        return {
            "format": FORMAT, "selector": self.selector, "journal_line": self.journal_line,
            "written_at": int(time.time()),
            "positions": {hmc: {oid: [p.sequence_number, p.timestamp] for oid, p in objs.items()}
                          for hmc, objs in self.positions.items()},
            "fingerprints": self.fingerprints,
            "statuses": {uri: [s.status, s.additional_status] for uri, s in self.statuses.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> "CheckpointState":
        """Raises ValueError (or KeyError/TypeError) for anything that is not well-formed."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        state = cls(selector=str(data.get("selector", "")),
                    journal_line=int(data.get("journal_line", 0)))
        for hmc, objs in dict(data.get("positions") or {}).items():
            state.positions[str(hmc)] = {
                str(oid): Position(int(seq), None if ts is None else int(ts))
                for oid, (seq, ts) in dict(objs).items()}
        for oid, prints in dict(data.get("fingerprints") or {}).items():
            state.fingerprints[str(oid)] = [str(p) for p in list(prints)[-FINGERPRINTS:]]
        for uri, (status, additional) in dict(data.get("statuses") or {}).items():
            state.statuses[str(uri)] = ObjectStatus(status, additional)
        return state


class CheckpointStore:
    """The checkpoint files of one source: load once, then record as events go out."""

    def __init__(self, path: str, selector: str) -> None:
        self.path = path
        self.journal_path = path + ".journal"
        self.selector = selector
        self.state = CheckpointState(selector=selector)
        self._journal_fd: Optional[int] = None
        self._lines_since_snapshot = 0

    # ------------------------------------------------------------------ load
    def load(self) -> List[str]:
        """Read the checkpoint; returns what was wrong with it (empty: all good).

        Never raises for the file's content: a bad file means a clean start.
        """
        problems: List[str] = []
        state = self._read_snapshot(problems)
        if state is None:
            self.state = CheckpointState(selector=self.selector)
            return problems
        if state.selector != self.selector:
            problems.append("%s was written for other os_message_channels/topics (selector %s, "
                            "now %s); its positions are used only for objects watched now"
                            % (self.path, state.selector[:12], self.selector[:12]))
            state.selector = self.selector
        self._replay_journal(state, problems)
        self.state = state
        return problems

    def _read_snapshot(self, problems: List[str]) -> Optional[CheckpointState]:
        try:
            size = os.path.getsize(self.path)
        except FileNotFoundError:
            if os.path.exists(self.journal_path):
                return CheckpointState(selector=self.selector)  # killed before the first snapshot
            return None
        except OSError as exc:
            problems.append("cannot read %s (%s); starting without a checkpoint"
                            % (self.path, exc.strerror))
            return None
        if size > MAX_FILE_BYTES:
            problems.append("%s is larger than %d bytes, not a checkpoint of this source; "
                            "starting without a checkpoint" % (self.path, MAX_FILE_BYTES))
            return None
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError, RecursionError) as exc:
            problems.append("%s is corrupt or unreadable (%s); starting without a checkpoint"
                            % (self.path, type(exc).__name__))
            return None
        if isinstance(data, dict) and data.get("format") != FORMAT:
            problems.append("%s has format %r, this source writes %d (another version of "
                            "zhmc.eda); starting without a checkpoint"
                            % (self.path, data.get("format"), FORMAT))
            return None
        try:
            return CheckpointState.from_json(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append("%s is not a well-formed checkpoint (%s); starting without a "
                            "checkpoint" % (self.path, type(exc).__name__))
            return None

    def _replay_journal(self, state: CheckpointState, problems: List[str]) -> None:
        try:
            with open(self.journal_path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            problems.append("cannot read %s (%s); using the snapshot only"
                            % (self.journal_path, exc.strerror))
            return
        for number, text in enumerate(lines):
            try:
                line = json.loads(text)
                if int(line.get("n", 0)) > state.journal_line:
                    state.apply(line)
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                if number != len(lines) - 1:  # only the last line may be torn
                    problems.append("%s line %d is not well-formed; skipped"
                                    % (self.journal_path, number + 1))

    # ------------------------------------------------------------------ record
    def start(self) -> None:
        """Fold what was loaded into a fresh snapshot and open the journal for appending."""
        self._snapshot()

    def record_message(self, hmc: str, object_id: str, sequence_number: int,
                       timestamp: Optional[int], fingerprint: Optional[str]) -> None:
        state = self.state
        number = state.journal_line + 1
        state.add_message(hmc, object_id, sequence_number, timestamp, fingerprint)
        state.journal_line = number
        self._write(_MESSAGE_LINE % (
            _quote(hmc), _quote(object_id), sequence_number,
            "null" if timestamp is None else "%d" % timestamp,
            "null" if fingerprint is None else _quote(fingerprint), number))

    def record_status(self, uri: str, status: Optional[str],
                      additional_status: Optional[str]) -> None:
        known = self.state.statuses.get(uri)
        if known is not None and (known.status, known.additional_status) == (
                status, additional_status):
            return
        self._append({"k": "s", "u": uri, "st": status, "as": additional_status})

    def _append(self, line: Dict[str, Any]) -> None:
        line["n"] = self.state.journal_line + 1
        self.state.apply(line)
        self._write(json.dumps(line, separators=(",", ":")) + "\n")

    def _write(self, text: str) -> None:
        """One journal line, in one ``write`` (a killed process loses nothing written)."""
        if self._journal_fd is None:
            return  # not started (or closed): kept in memory only
        os.write(self._journal_fd, text.encode())
        self._lines_since_snapshot += 1
        if self._lines_since_snapshot >= COMPACT_LINES:
            self._snapshot()

    def _snapshot(self) -> None:
        """Write the state as the new snapshot (atomically), then start a new journal."""
        directory = os.path.dirname(os.path.abspath(self.path))
        temp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(self.path), os.getpid()))
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(self.state.to_json(), handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, self.path)
        # Lines up to journal_line are in the snapshot: a new journal starts empty. (Killed
        # between the two replaces, the old journal's lines are skipped by their numbers.)
        self.close()
        temp_journal = self.journal_path + ".new"
        fd = os.open(temp_journal, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        os.replace(temp_journal, self.journal_path)
        self._journal_fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND)
        self._lines_since_snapshot = 0

    def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None

    # ------------------------------------------------------------------ read back
    def position(self, hmc: str, object_id: str) -> Optional[Tuple[int, Optional[int]]]:
        pos = self.state.positions.get(hmc, {}).get(object_id)
        return (pos.sequence_number, pos.timestamp) if pos is not None else None
