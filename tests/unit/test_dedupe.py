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
