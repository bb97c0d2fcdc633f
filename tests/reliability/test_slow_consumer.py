"""A slow rulebook under a burst of 50,000 notifications: 0 dropped, memory bounded.

The source runs in-process with ansible-rulebook's queue (size 1) and a consumer that pauses
10 ms after every 50 events (a slow action: at most 5,000 events/s, and far slower while
the loop is also shaping events). A separate process publishes 50,000 HMC-shaped OS-message
notifications into ActiveMQ as fast as it can; the broker delivers over STOMP+TLS. The
receiver must hold back (back-pressure through TCP to the broker, whose topic policy blocks
the producer instead of discarding - see tests/support/activemq.py), never drop.
"""
import json
import logging
import subprocess
import threading
import time

import psutil
import pytest

from tests.reliability import harness

pytestmark = [pytest.mark.activemq, pytest.mark.slow]

TOPIC = "zeda-burst"
BURST = 50_000
RSS_GROWTH_LIMIT_MB = 150
TIMEOUT = 240


class _RssSampler(threading.Thread):
    def __init__(self, interval=0.1):
        super().__init__(daemon=True)
        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)


def test_slow_consumer_burst_of_50000(activemq_running, sources):
    broker = activemq_running
    # Frame-level DEBUG logs for 50,000 messages would measure the log capture, not the
    # source; the secret scan still sees every INFO+ record of this test.
    for name in ("stomp.py", "zhmc.eda", "zhmc.eda.receiver.frames"):
        logging.getLogger(name).setLevel(logging.INFO)
    source = sources.start(harness.activemq_args(broker, [TOPIC]), slow_every=50, slow_seconds=0.01,
                           keep_events=False)
    seen = set()
    duplicates = []
    complete = threading.Event()

    def on_event(event, _monotonic, _wall):
        item = harness.published_id(event)
        if item is None:
            return
        if item in seen:
            duplicates.append(item)
        seen.add(item)
        if len(seen) >= BURST:
            complete.set()

    source.on_event = on_event
    source.wait_status("connected", 60)
    time.sleep(0.5)
    sampler = _RssSampler()
    baseline = sampler.peak
    sampler.start()
    argv, env = broker.publisher_command(TOPIC, BURST)
    started = time.monotonic()
    publisher = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = publisher.communicate(timeout=TIMEOUT)
    finally:
        if publisher.poll() is None:
            publisher.kill()
    assert publisher.returncode == 0, "publisher failed: %s %s" % (out, err)
    published = json.loads(out.strip().splitlines()[-1])
    complete.wait(max(1.0, TIMEOUT - (time.monotonic() - started)))
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    sampler.stopped.set()
    sampler.join(2)
    lost = BURST - len(seen)
    growth_mb = (sampler.peak - baseline) / 2**20
    harness.report("slow_consumer_burst", published=published["published"],
                   publish_s=published["seconds"], delivered=len(seen), lost=lost,
                   duplicated=len(duplicates), seconds=elapsed, rate_per_s=len(seen) / elapsed,
                   rss_baseline_mb=baseline / 2**20, rss_peak_mb=sampler.peak / 2**20,
                   rss_growth_mb=growth_mb, backlog_status_events=source.status_counts.get("backlog", 0))
    source.assert_running()
    assert lost == 0, "%d of %d notifications lost" % (lost, BURST)
    assert not duplicates, duplicates[:10]
    assert growth_mb <= RSS_GROWTH_LIMIT_MB, "RSS grew by %.0f MB" % growth_mb
