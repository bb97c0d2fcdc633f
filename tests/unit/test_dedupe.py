"""dedupe.py: by sequence number on one HMC, by the OS's time across HMCs."""
from ansible_collections.zhmc.eda.plugins.module_utils.dedupe import OsMessageDedupe

URI = "/api/partitions/p1"


def test_on_one_hmc_sequence_numbers_decide():
    d = OsMessageDedupe()
    assert [d.is_new(URI, s, 100 + s, "m%d" % s) for s in (1, 2, 2, 1, 3)] == [
        True, True, False, False, True]
    assert d.backfill_from(URI) == 4


def test_after_a_switch_of_hmc_replays_are_recognised_by_time_then_numbers_take_over():
    d = OsMessageDedupe()
    for seq in (1, 2, 3):
        assert d.is_new(URI, seq, 100 + seq, "m%d" % seq)
    d.switch_hmc()
    assert d.backfill_from(URI) == 0  # everything the new HMC keeps, bridged
    # the other HMC numbers the same messages 501, 502, 503
    assert [d.is_new(URI, 500 + s, 100 + s, "m%d" % s) for s in (1, 2, 3)] == [False] * 3
    assert d.is_new(URI, 504, 104, "m4")  # the first newer one ends the bridge
    assert not d.is_new(URI, 503, 103, "m3")  # by number now
    assert d.backfill_from(URI) == 505


def test_two_messages_of_the_same_time_are_told_apart_by_their_text():
    d = OsMessageDedupe()
    assert d.is_new(URI, 1, 100, "first")
    d.switch_hmc()
    assert not d.is_new(URI, 9, 100, "first")
    assert d.is_new(URI, 10, 100, "second at the same millisecond")


def test_a_message_without_a_timestamp_is_emitted_while_bridging():
    d = OsMessageDedupe()
    assert d.is_new(URI, 1, None, "no time")
    d.switch_hmc()
    assert d.is_new(URI, 7, None, "no time")  # cannot be placed: emitted (documented)


def test_seeding_from_a_checkpoint_of_another_hmc_bridges():
    d = OsMessageDedupe()
    from ansible_collections.zhmc.eda.plugins.module_utils.dedupe import fingerprint
    d.seed("p1", None, 103, [fingerprint("p1", 103, "m3")])
    assert d.backfill_from(URI) == 0
    assert not d.is_new(URI, 2, 102, "m2")
    assert not d.is_new(URI, 3, 103, "m3")
    assert d.is_new(URI, 4, 104, "m4")


def test_a_fingerprint_depends_on_the_message_only_however_often_it_is_asked():
    """The last fingerprint is kept for the next ask (the checkpoint asks right after the
    dedupe): another text, time or object never gets it, an equal text always gets the same."""
    from ansible_collections.zhmc.eda.plugins.module_utils.dedupe import fingerprint

    text = "".join(["IEE114I ", "ACTIVE"])
    first = fingerprint("p1", 100, text)
    assert fingerprint("p1", 100, text) == first
    assert fingerprint("p1", 100, "".join(["IEE114I ", "ACTIVE"])) == first   # equal, another object
    assert fingerprint("p1", 101, text) != first
    assert fingerprint("p2", 100, text) != first
    assert fingerprint("p1", 100, text + " ") != first
    assert fingerprint("p1", 100, text) == first
    assert fingerprint("p1", None, text) is None


def test_a_stale_position_of_this_hmc_bridges_by_the_newer_time_of_another(tmp_path):
    """HMC-A died at message 182, the stream went on through HMC-B to message 230; A came back
    and got 220 on as its own 183 on. A restart on A must not emit 220-230 again (the kill and
    fail-over soak found them emitted twice) and must emit 231 on."""
    from ansible_collections.zhmc.eda.plugins.module_utils.checkpoint import CheckpointStore
    from ansible_collections.zhmc.eda.plugins.module_utils.dedupe import fingerprint
    from ansible_collections.zhmc.eda.plugins.module_utils.resume import Resume

    path = str(tmp_path / "cp.json")
    written = CheckpointStore(path, "sel")
    written.load()
    written.start()
    for n in range(1, 183):
        written.record_message("HMC-A", "p1", n, 1000 + n, fingerprint("p1", 1000 + n, "m%d" % n))
    for n in range(183, 231):
        written.record_message("HMC-B", "p1", n, 1000 + n, fingerprint("p1", 1000 + n, "m%d" % n))
    written.close()
    resume = Resume(path, "sel")
    resume.load()
    d = OsMessageDedupe()
    resume.seed_dedupe(d, "HMC-A")
    assert d.backfill_from(URI) == 183            # A's own position still says where to list from
    assert [d.is_new(URI, seq, 1000 + n, "m%d" % n) for seq, n in ((183, 220), (193, 230))] == [False, False]
    assert d.is_new(URI, 194, 1231, "m231")
    assert not d.is_new(URI, 194, 1231, "m231")   # by number again
    resume.close()
