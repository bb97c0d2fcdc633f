"""The receiver's parts without sockets: the bounded hand-over (count and bytes, errors in
order, back-pressure), the secret masking and when the log filter is installed."""
import logging
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.handover import HELD_ITEM_OVERHEAD, HandOver
from ansible_collections.zhmc.eda.plugins.module_utils.secret_filter import MASK, mask_text
from tests.support import paths

LOG = logging.getLogger("zhmc.eda.receiver")


def never_stop():
    return None


def producer(hand_over, items, keep_waiting=lambda: True):
    """Put (name, size) items from a thread of their own, as stomp.py's thread does."""
    def run():
        for name, size in items:
            hand_over.put({"n": name}, "body", size, keep_waiting)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def names(items):
    return [headers["n"] for headers, _ in items]


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def exact(max_items, max_bytes):
    """A hand-over that counts the sizes given and nothing more (no per-item overhead)."""
    return HandOver(max_items=max_items, max_bytes=max_bytes, log=LOG, where="test", item_overhead=0)


def test_bytes_bound_holds_the_producer_until_there_is_room():
    hand_over = exact(max_items=100, max_bytes=100)
    thread = producer(hand_over, [("a", 40), ("b", 40), ("c", 40), ("d", 10)])
    wait_until(lambda: hand_over.producer_waiting)
    assert hand_over.pending_bytes == 80 and hand_over.pending_count == 2
    assert hand_over.backpressure_count == 1
    items, _ = hand_over.take(0, 1, never_stop)
    assert names(items) == ["a"]
    thread.join(5)
    assert not thread.is_alive()
    items, _ = hand_over.take(0, None, never_stop)
    assert names(items) == ["b", "c", "d"]
    assert hand_over.pending_bytes == 0 and hand_over.received_count == 4
    assert hand_over.backpressure_seconds > 0


def test_count_bound_holds_the_producer():
    hand_over = exact(max_items=2, max_bytes=10**9)
    thread = producer(hand_over, [("a", 1), ("b", 1), ("c", 1)])
    wait_until(lambda: hand_over.producer_waiting)
    assert hand_over.pending_count == 2
    assert names(hand_over.take(0, None, never_stop)[0]) == ["a", "b"]
    thread.join(5)
    assert names(hand_over.take(0, None, never_stop)[0]) == ["c"]


def test_one_item_larger_than_the_bound_is_accepted_when_empty():
    hand_over = exact(max_items=10, max_bytes=100)
    hand_over.put({"n": "big"}, "x" * 500, 500, lambda: pytest.fail("must not wait"))
    assert hand_over.pending_bytes == 500 and hand_over.backpressure_count == 0
    assert names(hand_over.take(0, None, never_stop)[0]) == ["big"]


def test_errors_come_in_order_and_count_bytes():
    hand_over = exact(max_items=10, max_bytes=1000)
    keep = lambda: True  # noqa: E731
    hand_over.put({"n": "a"}, "", 10, keep)
    hand_over.put_error(ValueError("broker says no"), 30, keep)
    hand_over.put({"n": "b"}, "", 20, keep)
    assert hand_over.pending_bytes == 60
    assert names(hand_over.take(0, None, never_stop)[0]) == ["a"]
    with pytest.raises(ValueError, match="broker says no"):
        hand_over.take(0, None, never_stop)
    assert hand_over.pending_bytes == 20
    assert names(hand_over.take(0, None, never_stop)[0]) == ["b"]
    assert hand_over.pending_bytes == 0


def test_each_item_counts_with_what_holding_it_takes():
    """The byte bound bounds memory: an item counts as its size plus the overhead of
    holding it (its headers as Python objects), so small notifications are not held by
    the thousand under a bound meant for megabytes."""
    assert 1000 <= HELD_ITEM_OVERHEAD <= 2500
    hand_over = HandOver(max_items=1000, max_bytes=4 * HELD_ITEM_OVERHEAD + 400, log=LOG, where="test")
    thread = producer(hand_over, [(str(n), 100) for n in range(10)])
    wait_until(lambda: hand_over.producer_waiting)
    assert hand_over.pending_count == 4  # 4 x (100 + overhead) fit, a fifth does not
    assert hand_over.pending_bytes == 4 * (100 + HELD_ITEM_OVERHEAD)
    taken = names(hand_over.take(0, None, never_stop)[0])
    assert taken == ["0", "1", "2", "3"]
    while len(taken) < 10:  # the rest, never more than 4 at a time
        batch = names(hand_over.take(5.0, None, never_stop)[0])
        assert 1 <= len(batch) <= 4
        taken += batch
    thread.join(5)
    assert taken == [str(n) for n in range(10)] and hand_over.pending_bytes == 0


def test_a_torn_down_connection_ends_the_wait():
    stop = threading.Event()
    hand_over = exact(max_items=1, max_bytes=100)
    thread = producer(hand_over, [("a", 1), ("b", 1)], keep_waiting=lambda: not stop.is_set())
    wait_until(lambda: hand_over.producer_waiting)
    stop.set()
    hand_over.release_producer()
    thread.join(5)
    assert not thread.is_alive()


def test_check_ends_an_empty_wait_and_leftovers_come_first():
    hand_over = exact(max_items=10, max_bytes=100)
    assert hand_over.take(5.0, None, lambda: "lost") == ([], "lost")
    hand_over.put({"n": "new"}, "", 1, lambda: True)
    hand_over.leftovers.append(({"n": "old"}, ""))
    assert hand_over.pending_count == 2
    assert names(hand_over.take(0, None, never_stop)[0]) == ["old", "new"]


# ----------------------------------------------------------------------------- secrets

@pytest.mark.parametrize("login, text, expected", [
    ("SID0123456789abcdef", "session SID0123456789abcdef is gone", "session %s is gone" % MASK),
    ("SID0123456789abcdef", "pw and xSID0123456789abcdefx", "%s and x%sx" % (MASK, MASK)),
    ("SID0123456789abcdef", "topic://SID0123456789abcdef.1osm.x", "topic://%s.1osm.x" % MASK),
    ("hmcuser", "user hmcuser: topic://hmcuser.1osm.x", "user %s: topic://hmcuser.1osm.x" % MASK),
    ("hmcuser", "topic://hmcuser.2osm.y is not ours", "topic://%s.2osm.y is not ours" % MASK),
    ("ops", "ops stops 'ops'", "%s stops '%s'" % (MASK, MASK)),   # a short login: whole words
])
def test_mask_text_keeps_only_our_topic_names(login, text, expected):
    assert mask_text(text, ("pw",), login, keep=("hmcuser.1osm.x",)) == expected


def test_log_filter_is_installed_with_the_first_receiver_only():
    """Importing the receiver touches no logger; the first receiver installs the filter,
    once (a fresh interpreter: this one has created receivers already)."""
    code = """
import logging, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.zhmc.eda.plugins.module_utils.receiver import NotificationReceiver
names = ("stomp.py", "zhmc.eda.receiver", "zhmc.eda.receiver.frames")
counts = lambda: [len(logging.getLogger(name).filters) for name in names]
before = counts()
first = NotificationReceiver("t", "127.0.0.1", "u", "p")
NotificationReceiver("t", "127.0.0.1", "u", "p2")
first.close()
print(before, counts())
"""
    result = subprocess.run([sys.executable, "-c", code, paths.collections_path()],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split("\n")[0] == "[0, 0, 0] [1, 1, 1]", result.stdout + result.stderr
