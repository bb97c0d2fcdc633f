"""Cancellation wins while the broker floods the source with notifications it drops (issue 16).

The receiver below always has a full batch of the same OS message: dedupe drops every one, so
nothing on the data path awaits anything that suspends (no event goes to the queue). Unless the
source hands control back to the loop once per batch, a cancellation (ansible-rulebook's answer
to SIGTERM) is not even delivered, and neither is anything else on the loop: the rules engine,
the keep-alive, the control socket's requests.

End to end, hmcsim over TLS cannot outrun the source (the source reads ~12,000 notifications/s
and keeps up), so tests/reliability/test_sigterm_under_load.py does not reach this case; a
broker that can, or a backlog larger than a batch, does.
"""
from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, List, Optional

import pytest

from tests.unit.runtime_fakes import partition_uri
from tests.unit.test_runtime_orchestration import Harness, run

# The flood ends by itself after this long, so that a source that never yields cannot hang
# the test: the cancellation then arrives this late instead of at once.
FLOOD_SECONDS = 2.0
CANCEL_AFTER = 0.1


def test_cancellation_wins_while_every_notification_is_dropped():
    flooding = threading.Event()
    timings: dict = {}

    async def scenario(h: Harness) -> None:
        await h.start()
        topic = h.hmc.channels[partition_uri("PART1")]
        item = ({"notification-type": "os-message", "object-uri": partition_uri("PART1"),
                 "class": "partition", "name": "PART1", "destination": "/topic/" + topic},
                json.dumps({"os-messages": [{"sequence-number": 7, "timestamp": 1007,
                                             "message-text": "IEA404A the same again"}]}))

        def poll(timeout: float = 0.0, max_items: Optional[int] = None) -> List[Any]:
            return [item] * (max_items or 1) if flooding.is_set() else []

        h.broker.live.poll = poll  # type: ignore[method-assign]
        flooding.set()
        ending = threading.Timer(FLOOD_SECONDS, flooding.clear)
        ending.start()
        loop = asyncio.get_running_loop()
        asked = loop.time()
        h.source.stream.wake()
        loop.call_later(CANCEL_AFTER, h.task.cancel)  # type: ignore[union-attr]
        try:
            with pytest.raises(asyncio.CancelledError):
                await h.task  # type: ignore[misc]
            timings["cancelled_after"] = loop.time() - asked
            timings["flooding_at_the_end"] = flooding.is_set()
        finally:
            ending.cancel()

    h = run(scenario)
    assert timings["flooding_at_the_end"], (
        "the cancellation came through only after the flood ended (%.2f s)"
        % timings["cancelled_after"])
    assert timings["cancelled_after"] < 1.0
    assert h.queue.events and all(r.closed for r in h.broker.receivers if r.connected)
