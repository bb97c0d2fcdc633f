"""checkpoint.py: durable against a killed process, never trusted blindly, bounded."""
import json
import os
import signal
import subprocess
import sys

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils import checkpoint as C


def store(tmp_path, selector="sel-1"):
    return C.CheckpointStore(str(tmp_path / "cp.json"), selector)


def test_what_was_recorded_comes_back_after_a_restart(tmp_path):
    first = store(tmp_path)
    assert first.load() == []
    first.start()
    first.record_message("HMC1", "p1", 7, 1700, "fp7")
    first.record_message("HMC1", "p1", 8, 1800, "fp8")
    first.record_status("/api/partitions/p2", "stopped", "")
    first.close()
    second = store(tmp_path)
    assert second.load() == []
    assert second.position("HMC1", "p1") == (8, 1800)
    assert second.state.fingerprints["p1"] == ["fp7", "fp8"]
    assert second.state.statuses["/api/partitions/p2"] == C.ObjectStatus("stopped", "")


def test_a_killed_writer_loses_nothing_it_wrote(tmp_path):
    """SIGKILL right after the records: the journal (page cache) has them all."""
    path = str(tmp_path / "cp.json")
    code = (
        "import os, signal, sys\n"
        "sys.path[:0] = %r\n"
        "from ansible_collections.zhmc.eda.plugins.module_utils.checkpoint import CheckpointStore\n"
        "s = CheckpointStore(%r, 'sel-1'); s.load(); s.start()\n"
        "for i in range(1, 101):\n"
        "    s.record_message('HMC1', 'p1', i, i * 10, 'f%%d' %% i)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n" % (sys.path, path))
    result = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert result.returncode == -signal.SIGKILL
    again = C.CheckpointStore(path, "sel-1")
    assert again.load() == []
    assert again.position("HMC1", "p1") == (100, 1000)


def test_compaction_folds_the_journal_and_a_crash_between_the_files_loses_nothing(
        tmp_path, monkeypatch):
    monkeypatch.setattr(C, "COMPACT_LINES", 10)
    s = store(tmp_path)
    s.load()
    s.start()
    for seq in range(1, 26):
        s.record_message("HMC1", "p1", seq, None, None)
    s.close()
    with open(s.journal_path, encoding="utf-8") as handle:
        assert len(handle.read().splitlines()) == 5  # 25 = 2 snapshots of 10 + 5 lines
    # as if killed after the snapshot was replaced but before the journal was: old lines
    # are in the snapshot already and are skipped by their numbers
    with open(s.journal_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"k": "m", "hmc": "HMC1", "o": "p1", "s": 3, "t": None,
                                 "n": 3}) + "\n")
    again = store(tmp_path)
    again.load()
    assert again.position("HMC1", "p1") == (25, None)


def test_a_torn_last_line_is_ignored_and_others_are_reported(tmp_path):
    s = store(tmp_path)
    s.load()
    s.start()
    s.record_message("HMC1", "p1", 1, None, None)
    s.close()
    with open(s.journal_path, "a", encoding="utf-8") as handle:
        handle.write('{"k": "m", "hmc": "HMC1", "o": "p1", "s": 2')  # a crash mid-line
    again = store(tmp_path)
    assert again.load() == []
    assert again.position("HMC1", "p1") == (1, None)


@pytest.mark.parametrize("content, problem", [
    ("{not json", "is corrupt or unreadable"),
    (json.dumps({"format": 99}), "has format 99, this source writes 1"),
    (json.dumps({"format": 1, "positions": {"HMC1": {"p1": "x"}}}), "is not a well-formed"),
    (json.dumps([1, 2]), "is not a well-formed checkpoint"),
])
def test_a_bad_file_is_reported_and_the_source_starts_clean(tmp_path, content, problem):
    (tmp_path / "cp.json").write_text(content)
    s = store(tmp_path)
    problems = s.load()
    assert len(problems) == 1 and problem in problems[0]
    assert s.state.positions == {} and s.state.statuses == {}
    s.start()  # and it can write a good one over it
    s.record_message("HMC1", "p1", 1, None, None)
    s.close()
    assert store(tmp_path).load() == []


def test_another_selection_is_reported_but_its_positions_stay(tmp_path):
    s = store(tmp_path, selector="sel-1")
    s.load()
    s.start()
    s.record_message("HMC1", "p1", 5, None, None)
    s.close()
    other = store(tmp_path, selector="sel-2")
    problems = other.load()
    assert len(problems) == 1 and "was written for other os_message_channels/topics" in problems[0]
    assert other.position("HMC1", "p1") == (5, None)


def test_an_unreadable_file_is_reported(tmp_path):
    (tmp_path / "cp.json").mkdir()  # unreadable as a file, even for root
    problems = store(tmp_path).load()
    assert problems and "corrupt or unreadable" in problems[0]


def test_fingerprints_are_bounded_per_object(tmp_path):
    s = store(tmp_path)
    s.load()
    s.start()
    for seq in range(C.FINGERPRINTS + 20):
        s.record_message("HMC1", "p1", seq, seq, "fp%d" % seq)
    assert len(s.state.fingerprints["p1"]) == C.FINGERPRINTS
    assert s.state.fingerprints["p1"][-1] == "fp%d" % (C.FINGERPRINTS + 19)
    s.close()


def test_files_are_private(tmp_path):
    s = store(tmp_path)
    s.load()
    s.start()
    s.record_status("/api/partitions/p1", "active", "")
    s.close()
    for path in (s.path, s.journal_path):
        assert os.stat(path).st_mode & 0o077 == 0, path


@pytest.mark.parametrize("hmc, object_id, fingerprint", [
    ("HMC1", "p1", "fp1"),
    ('HMC "one"\n', "p\\1\u00e9", None),                 # quotes, a newline, a backslash, non-ASCII
    ("hmc.example.com", "\u2028p1\x00", "f\"p"),        # JSON's awkward characters
])
def test_journal_lines_of_any_text_read_back_the_same(tmp_path, hmc, object_id, fingerprint):
    """Message lines are formatted by hand (for speed): whatever the HMC names, each is
    one line of valid JSON that a restart reads back."""
    s = store(tmp_path)
    s.load()
    s.start()
    s.record_message(hmc, object_id, 41, None, fingerprint)
    s.record_message(hmc, object_id, 42, 1796200461363, fingerprint)
    s.close()
    with open(s.journal_path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert [json.loads(line)["s"] for line in lines[:2]] == [41, 42]
    again = store(tmp_path)
    assert again.load() == []
    assert again.position(hmc, object_id) == (42, 1796200461363)
    assert again.state.fingerprints.get(object_id, []) == ([fingerprint] if fingerprint else [])
