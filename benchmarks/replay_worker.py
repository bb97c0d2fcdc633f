"""The source's own data path in a fresh process, without a broker: what one option costs.

    python -m benchmarks.replay_worker --count N [--checkpoint-file PATH]

Runs zhmc.eda.notifications (topics-only) through source_runtime.run_source with ansible-
rulebook's queue (size 1) and a consumer that never pauses; the receiver is replaced by a
feed that hands out N HMC-shaped os-message notifications of one partition (rising sequence
numbers, as tests/support/activemq.py publishes them), 500 at a time as the receiver's
poll() does. Everything after the receiver runs as in ansible-rulebook: shaping, filters,
the OS-message dedupe, the emitter and, with --checkpoint-file, the checkpoint. Without
STOMP, TLS and a broker sharing the 2 cores, the difference an option makes is not lost in
their noise; it is the option's cost per event, which the end-to-end figures put in
proportion.

Prints one JSON line: events, seconds, the process's user+system CPU (all threads) from the
first poll to the last event, CPU per event, the rate, and the journal's size.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPIC = "zeda-replay"

Item = Tuple[Dict[str, str], str]


class FrameFeed:
    """What the source's stream needs of a receiver (stream.ReceiverLike), handing out
    prepared notifications instead of reading a broker."""

    def __init__(self, items: List[Item]) -> None:
        self._items = items
        self._next = 0
        self.first_poll: Optional[float] = None
        self.backpressure_count = 0
        self.backpressure_seconds = 0.0

    def set_wakeup(self, callback: Optional[Callable[[], None]]) -> None:
        pass  # everything is there at once: poll() never comes back empty while some are left

    def connect(self) -> None:
        pass

    def poll(self, timeout: float = 0.0, max_items: Optional[int] = None) -> List[Item]:
        if self.first_poll is None:
            self.first_poll = _process_cpu()
        start = self._next
        self._next = min(len(self._items), start + (max_items or len(self._items)))
        return self._items[start:self._next]

    def subscribe(self, topic_name: str) -> Any:
        return 1

    def unsubscribe(self, topic_name: str) -> None:
        pass

    def close(self) -> None:
        pass


def notifications(count: int) -> List[Item]:
    """(headers, body) as the receiver hands them out: the broker's headers included."""
    from tests.support.activemq import os_message_notification

    out = []
    for index in range(count):
        headers, body = os_message_notification(index, index + 1)
        headers.update({"destination": "/topic/" + TOPIC, "subscription": "1",
                        "message-id": "ID:replay-1:1:1:1:%d" % index, "expires": "0", "priority": "4"})
        out.append((headers, body))
    return out


async def replay(count: int, checkpoint_file: Optional[str]) -> Dict[str, Any]:
    from ansible_collections.zhmc.eda.plugins.module_utils.source_options import parse_source_args
    from ansible_collections.zhmc.eda.plugins.module_utils.source_runtime import Dependencies, run_source

    args: Dict[str, Any] = {"hmc_host": "127.0.0.1", "hmc_auth": {"userid": "replay", "password": "replay"},
                            "topics": [TOPIC]}
    if checkpoint_file:
        args["checkpoint_file"] = checkpoint_file
    feed = FrameFeed(notifications(count))
    queue: asyncio.Queue = asyncio.Queue(maxsize=1)
    source = asyncio.ensure_future(run_source(queue, parse_source_args(args),
                                              deps=Dependencies(receiver_factory=lambda *a, **k: feed)))
    received = 0
    first = last = 0.0
    try:
        while received < count:
            event = await asyncio.wait_for(queue.get(), timeout=60)
            if "os_message" not in event.get("hmc", {}):
                continue
            received += 1
            last = time.monotonic()
            first = first or last
    finally:
        cpu = _process_cpu() - (feed.first_poll or 0.0)
        source.cancel()
        try:
            await source
        except asyncio.CancelledError:
            pass
    journal = (checkpoint_file or "") + ".journal"
    return {"events": received, "seconds": round(last - first, 3), "cpu_s": round(cpu, 3),
            "cpu_us_per_event": round(cpu / received * 1e6, 2),
            "rate_per_s": round((received - 1) / (last - first), 1) if last > first else None,
            "journal_bytes": os.path.getsize(journal) if checkpoint_file and os.path.exists(journal) else None}


def _process_cpu() -> float:
    """User+system CPU seconds of this process, all threads."""
    times = os.times()
    return times.user + times.system


def main(argv: Optional[List[str]] = None) -> int:
    sys.path.insert(0, REPO)
    from tests.support import paths

    paths.setup_sys_path()
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50000)
    parser.add_argument("--checkpoint-file")
    options = parser.parse_args(argv)
    print(json.dumps(asyncio.run(replay(options.count, options.checkpoint_file))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
