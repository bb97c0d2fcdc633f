"""Source-side figures against ActiveMQ over STOMP+TLS on loopback.

- latency: publish -> rulebook queue, p50/p99 at fixed rates (publisher process stamps
  zeda-publish-ns with the wall clock; the consumer of the queue stamps arrival);
- burst: 50,000 notifications into a slow consumer, in a fresh process (lost, peak RSS);
- recovery: broker killed (-9) and started; time from "ports accept again" to the first event;
- loss detection: broker frozen with SIGSTOP (sockets open, silence) under the default
  heart-beat configuration; time until the source reports `disconnected`;
- shutdown: time from cancelling the source to its end (topics-only mode on ActiveMQ, and
  with an HMC session on hmcsim, which includes the logoff).

The source runs through its plugin entry point main(queue, args) with ansible-rulebook's
queue semantics (tests/reliability/harness.py InProcessSource).
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time

from tests.reliability import harness
from tests.support import activemq as activemq_module

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def _topics_args(broker, topic, fast=False):
    args = {
        "hmc_host": broker.host,
        "stomp_port": broker.stomp_ssl_port,
        "hmc_auth": {"userid": broker.userid, "password": broker.password, "ca_certs": broker.ca_file},
        "topics": [topic],
        "status_events": True,
    }
    if fast:
        args["stomp_retry_timeout_config"] = dict(harness.FAST_RETRY_CONFIG)
    return args


# ---------------------------------------------------------------------------------------


class _FloorListener:
    """A bare stomp.py subscriber that only stamps arrival: the broker + transport share of latency."""

    def __init__(self, broker, topic, on_message):
        import stomp

        self.subscribed = threading.Event()
        outer = self

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame):
                on_message(frame.headers, time.time_ns())

            def on_receipt(self, frame):
                if frame.headers.get("receipt-id") == "subscribed":
                    outer.subscribed.set()

        self.conn = stomp.Connection([(broker.host, broker.stomp_ssl_port)], heartbeats=(5000, 5000))
        self.conn.set_ssl(for_hosts=[(broker.host, broker.stomp_ssl_port)], ca_certs=broker.ca_file)
        self.conn.set_listener("floor", Listener())
        self.conn.connect(broker.userid, broker.password, wait=True)
        self.conn.subscribe("/topic/" + topic, id="floor", ack="auto", headers={"receipt": "subscribed"})
        if not self.subscribed.wait(30):
            raise RuntimeError("floor listener: no receipt for SUBSCRIBE")

    def stop(self):
        self.conn.disconnect()


def _latency_run(broker, who, rate, seconds, warmup_seconds):
    """(samples in ms, ids received) for one receiver at one rate; warm-up messages not counted."""
    topic = "zeda-latency-%s-%d" % (who, rate)
    warmup = int(rate * warmup_seconds)
    count = int(rate * seconds)
    samples = []
    ids = set()

    def record(headers, wall_ns):
        stamp = headers.get("zeda-publish-ns")
        item = headers.get(harness.TEST_ID_HEADER)
        if stamp is None or item is None or int(item) < warmup:
            return
        ids.add(item)
        samples.append((wall_ns - int(stamp)) / 1e6)

    if who == "source":
        receiver = harness.InProcessSource(_topics_args(broker, topic), keep_events=False)
        receiver.on_event = lambda event, _monotonic, wall_ns: record(
            harness.hmc_part(event).get("headers") or {}, wall_ns)
        receiver.start()
        receiver.wait_status("connected", 60)
    else:
        receiver = _FloorListener(broker, topic, record)
    try:
        time.sleep(0.3)
        argv, env = broker.publisher_command(topic, warmup + count, rate=rate)
        publisher = subprocess.run(argv, env=env, capture_output=True, text=True,
                                   timeout=(seconds + warmup_seconds) * 4 + 60, check=False)
        if publisher.returncode != 0:
            raise RuntimeError("publisher failed: %s" % publisher.stderr[-2000:])
        deadline = time.monotonic() + 30
        while len(ids) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        receiver.stop()
    achieved = json.loads(publisher.stdout.strip().splitlines()[-1])
    return samples, ids, count, achieved


def latency(broker, rates=(100, 500, 2000), seconds=8.0, warmup_seconds=2.0, log=print):
    """p50/p99/max publish -> queue latency (ms) per rate for the source, and for a bare stomp.py
    listener on the same broker (the broker + transport share). Raw samples kept for the plot."""
    results = {}
    for rate in rates:
        entry = {"rate": rate}
        for who in ("floor", "source"):
            samples, ids, count, achieved = _latency_run(broker, who, rate, seconds, warmup_seconds)
            figures = {
                "published": count, "received": len(ids), "publish_seconds": achieved["seconds"],
                "p50_ms": round(percentile(samples, 0.50), 3), "p99_ms": round(percentile(samples, 0.99), 3),
                "max_ms": round(max(samples), 3),
            }
            if who == "source":
                entry.update(figures)
                entry["samples_ms"] = [round(value, 3) for value in samples]
            else:
                entry["floor"] = figures
                entry["floor_samples_ms"] = [round(value, 3) for value in samples]
            log("  latency %5d/s %-6s: p50 %.2f ms, p99 %.2f ms, max %.1f ms (%d/%d received)" % (
                rate, who, figures["p50_ms"], figures["p99_ms"], figures["max_ms"], len(ids), count))
        results[str(rate)] = entry
    return results


def burst(broker, count=50000, slow_every=50, slow_seconds=0.01, log=print):
    """The source in a fresh process, a slow consumer, `count` notifications at full speed."""
    result = source_in_process(broker, "zeda-burst-bench", count,
                               ["--slow-every", str(slow_every), "--slow-seconds", str(slow_seconds)])
    result["slow_consumer"] = "%.0f ms pause every %d events" % (slow_seconds * 1000, slow_every)
    log("  burst %d: lost %d, duplicated %d, peak RSS %.0f MB, %.1f s" % (
        count, result["lost"], result["duplicated"], result["peak_rss_mb"], result["seconds_from_ready"]))
    return result


def source_in_process(broker, topic, count, worker_args=(), rate=0.0, text_chars=0):
    """benchmarks/source_worker.py burst (the source alone in a fresh process) while a publisher
    process sends `count` notifications (at `rate`/s, 0: full speed); the worker's figures."""
    argv = [sys.executable, "-m", "benchmarks.source_worker", "burst", "--port", str(broker.stomp_ssl_port),
            "--ca-file", broker.ca_file, "--topic", topic, "--count", str(count)] + list(worker_args)
    env = dict(os.environ, ZEDA_AMQ_USERID=broker.userid, ZEDA_AMQ_PASSWORD=broker.password,
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    worker = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([worker.stdout], [], [], 90)
        line = worker.stdout.readline() if ready else ""
        if line.strip() != "READY":
            raise RuntimeError("source worker not ready: %r %s" % (line, worker.stderr.read()[-2000:]
                                                                   if worker.poll() is not None else ""))
        pub_argv, pub_env = broker.publisher_command(topic, count, rate=rate, text_chars=text_chars)
        publisher = subprocess.run(pub_argv, env=pub_env, capture_output=True, text=True, timeout=600, check=False)
        out, _err = worker.communicate(timeout=600)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    result = json.loads([item for item in out.splitlines() if item.startswith("{")][-1])
    result["publish"] = json.loads(publisher.stdout.strip().splitlines()[-1])
    return result


class _ProbePublisher(threading.Thread):
    """Publishes a probe every `interval` s, reconnecting while the broker is down."""

    def __init__(self, broker, topic, interval=0.02):
        super().__init__(daemon=True)
        self.broker = broker
        self.topic = topic
        self.interval = interval
        self.stopped = threading.Event()
        self.sent = 0

    def run(self):
        import stomp

        conn = None
        while not self.stopped.is_set():
            try:
                if conn is None or not conn.is_connected():
                    conn = self.broker.connection()
                headers, body = activemq_module.os_message_notification("probe-%d" % self.sent, self.sent + 1)
                conn.send("/topic/" + self.topic, body, headers=headers)
                self.sent += 1
            except (stomp.exception.StompException, OSError):
                conn = None
                self.stopped.wait(0.05)
                continue
            self.stopped.wait(self.interval)
        if conn is not None:
            try:
                conn.disconnect()
            except (stomp.exception.StompException, OSError):
                pass


def recovery(broker, repeats=3, log=print):
    """Seconds from 'broker ports accept again' to the first event, default and fast retry config."""
    results = {}
    for label, fast in (("default_config", False), ("fast_config", True)):
        topic = "zeda-recovery-%s" % label
        arrivals = []

        def on_event(event, monotonic, _wall, arrivals=arrivals):
            if harness.published_id(event):
                arrivals.append(monotonic)

        source = harness.InProcessSource(_topics_args(broker, topic, fast=fast), keep_events=False)
        source.on_event = on_event
        source.start()
        probes = _ProbePublisher(broker, topic)
        times = []
        try:
            source.wait_status("connected", 60)
            probes.start()
            for _ in range(repeats):
                broker.kill()
                time.sleep(0.5)
                broker.start()
                back = time.monotonic()
                deadline = back + 90
                while time.monotonic() < deadline and not [t for t in arrivals if t > back]:
                    time.sleep(0.01)
                after = [t for t in arrivals if t > back]
                times.append(round(after[0] - back, 3) if after else None)
        finally:
            probes.stopped.set()
            probes.join(5)
            source.stop()
        results[label] = {"seconds": times, "max": max([t for t in times if t is not None] or [None])}
        log("  first event after broker back (%s): %s s" % (label, times))
    return results


def loss_detection(broker, repeats=3, log=print):
    """Seconds from freezing the broker (SIGSTOP) to the source's `disconnected`, default config."""
    topic = "zeda-loss"
    source = harness.InProcessSource(_topics_args(broker, topic), keep_events=True)
    source.start()
    times = []
    try:
        source.wait_status("connected", 60)
        for _ in range(repeats):
            mark = source.mark()
            frozen = time.monotonic()
            broker.freeze()
            try:
                _event, detected = source.wait_status("disconnected", 60, start=mark)
            finally:
                broker.thaw()
            times.append(round(detected - frozen, 3))
            source.wait_status("reconnected", 120, start=mark)
            time.sleep(1.0)
    finally:
        broker.thaw()
        source.stop()
    log("  silent loss detected after (default config): %s s" % times)
    return {"seconds": times, "max": max(times), "bound_s": 11.0}


def shutdown(broker, repeats=3, log=print):
    """Seconds from cancel to the end of the source: topics-only on ActiveMQ; with an HMC session on hmcsim."""
    from hmcsim import HmcSim

    results = {"activemq_topics": [], "hmcsim_session": []}
    for index in range(repeats):
        source = harness.InProcessSource(_topics_args(broker, "zeda-shutdown-%d" % index), keep_events=False)
        source.start()
        source.wait_status("connected", 60)
        time.sleep(0.5)
        results["activemq_topics"].append(round(source.stop(), 3))
    state_dir = tempfile.mkdtemp(prefix="hmcsim-bench-", dir="/tmp")
    sim = HmcSim(state_dir)
    sim.start()
    try:
        for _ in range(repeats):
            source = harness.InProcessSource(harness.hmcsim_args(sim, topic_types=["object", "job"]),
                                             keep_events=False)
            source.start()
            source.wait_status("connected", 60)
            time.sleep(0.5)
            results["hmcsim_session"].append(round(source.stop(), 3))
        results["sessions_left_on_hmcsim"] = len(sim.session_ids())
    finally:
        sim.stop()
    results["max"] = max(results["activemq_topics"] + results["hmcsim_session"])
    log("  shutdown: ActiveMQ topics %s s, hmcsim with session %s s (sessions left: %d)" % (
        results["activemq_topics"], results["hmcsim_session"], results["sessions_left_on_hmcsim"]))
    return results
