"""Issue 17.2, memory that fits an activation, and the reliability suite's slow consumer in a
rulebook process of its own.

- memory: ansible-rulebook (`-v`, the collection installed from its tarball) runs
  zhmc.eda.notifications topics-only (explicit `topics`, no HMC session) on ActiveMQ over
  STOMP+TLS on loopback, with ONE rule whose `debug` action prints every event; the whole
  process tree (the JVM of the rules engine included) runs in a cgroup v1 memory group
  limited to 200 MB (estate_support.MemoryCgroup: memory.limit_in_bytes and
  memory.memsw.limit_in_bytes, the process put into it before ansible-rulebook starts). A
  separate publisher process sends 50,000 HMC-shaped os-message notifications of about
  2 KB at full speed. Next to it, `eda.builtin.generic` emits 50,000 events of the same shape
  and size (the event the source makes of that notification, with `create_index`) through
  the same rule under the same limit. Rounds interleave the two (the order alternates), after
  a short run of each that is not counted (page cache of the first import). Per run: lost
  and duplicated (the rule prints a number no two events share: the notification's sequence
  number, or generic's index), the OOM kills the cgroup counted (memory.oom_control), the
  exit status, the cgroup's peak (memory.max_usage_in_bytes) and its anonymous memory
  (memory.stat total_rss, sampled), the time to drain. One more run of ours holds as much
  as the former default of max_pending_bytes did (8 MiB counted as received), to show
  what that bound cost;
- slow_consumer: tests/reliability/test_slow_consumer.py's scenario (50,000 notifications at
  full speed, a pause of 10 ms after every 50 events) with the source inside ansible-rulebook
  instead of pytest's process: the pause is a benchmark-only event filter
  (benchmarks/filters/slow_consumer.py), the rule matches nothing; the peak RSS of the
  ansible-rulebook process tree (from /proc, every 0.1 s).

    ZHMC_EDA_COLLECTIONS_PATH=.build/collections .venv/bin/python -m benchmarks.run_all --only memory,slow_consumer
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.handover import HELD_ITEM_OVERHEAD
from benchmarks import estate_support as es
from tests.support import activemq as activemq_module

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTERS = os.path.join(REPO, "benchmarks", "filters")
TEXT_CHARS = 1500  # the OS message's text; with the headers the notification is about 2 KB on the wire
PASSWORD_ENV = "ZEDA_BENCH_AMQ_PASSWORD"
CONNECTED = r"zhmc\.eda\.notifications connected to"
BACKPRESSURE = "The consumer is slower than the broker"
TARGET_OVER_GENERIC_MB = 25.0
# The former default of max_pending_bytes, counted as received (without what holding takes).
FORMER_DEFAULT_BYTES = 8 * 2**20
# One rule for both sources: a debug action per OS message event, printing what tells the
# events apart (ours: the notification's sequence number; generic's: its index).
DEBUG_RULE = {"name": "every OS message", "condition": "event.hmc.os_message is defined",
              "action": {"debug": {"msg": "SEQ {{ event.hmc.os_message.sequence_number }} "
                                          "{{ event.i | default(-1) }}"}}}
NEVER_RULE = {"name": "never", "condition": "event.never_set == 1", "action": {"debug": {}}}
SEQ_LINE = re.compile(r"^SEQ (\d+) (-?\d+)$")
SLOW_LINE = re.compile(r"^SLOW-CONSUMER (\d+) (\d+)$")


# ------------------------------------------------------------------ counting and sampling
class EngineCount:
    """What the rule printed, read incrementally: distinct events, repeats, first and last."""

    def __init__(self, run):
        self.run, self.next, self.seen, self.duplicated = run, 0, set(), 0
        self.first = self.last = None
        self.arrivals = []

    def update(self):
        lines, self.next = self.run.lines_since(self.next)
        for arrived, line in lines:
            match = SEQ_LINE.match(line)
            if not match:
                continue
            key = (int(match.group(1)), int(match.group(2)))
            if key in self.seen:
                self.duplicated += 1
            self.seen.add(key)
            self.first = self.first or arrived
            self.last = arrived
            self.arrivals.append(arrived)
        return len(self.seen)


class Sampler(threading.Thread):
    """Every `interval` s: (monotonic, cgroup usage MB, cgroup anonymous MB, process tree RSS MB);
    the cgroup's columns are None without one."""

    def __init__(self, root_pid, cgroup=None, interval=0.25):
        super().__init__(daemon=True)
        self.root_pid, self.cgroup, self.interval, self.samples = root_pid, cgroup, interval, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                usage = anon = None
                if self.cgroup is not None:
                    usage = round(self.cgroup.usage_mb(), 1)
                    anon = round(self.cgroup.stat().get("total_rss", 0) / 2**20, 1)
                tree = round(es.tree_usage(self.root_pid)[1] / 2**20, 1)
            except OSError:
                return
            self.samples.append((time.monotonic(), usage, anon, tree))
            self.stop.wait(self.interval)

    def peak(self, column):
        values = [sample[column] for sample in self.samples if sample[column] is not None]
        return max(values) if values else None

    def series(self, t0):
        return [(round(t - t0, 2), usage, anon) for t, usage, anon, _tree in self.samples]


def _wait_for_count(run, count, expected, timeout, stall_s=90.0, publisher=None):
    """Until `expected` distinct events, the process ended, `timeout`, or no progress for
    `stall_s` after the publisher finished; returns when the publisher finished (or None)."""
    deadline = time.monotonic() + timeout
    progress_at, seen, published_at = time.monotonic(), 0, None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if publisher is not None and published_at is None and publisher.poll() is not None:
            published_at = now
        number = count()
        if number >= expected or not run.running():
            break
        if number != seen:
            progress_at, seen = now, number
        elif now - progress_at > stall_s and (publisher is None or published_at is not None):
            break
        time.sleep(0.2)
    if not run.running():
        time.sleep(1.0)  # the reader thread takes the last lines
    count()
    return published_at


def _run_figures(run, cgroup, sampler, counter, expected, t0):
    """A finished run's figures: the rules engine's count, the cgroup's, the memory series
    (and the output's end when events were lost and ansible-rulebook ended)."""
    sampler.stop.set()
    figures = _engine_figures(counter, expected, t0)
    figures.update(_cgroup_figures(cgroup, sampler, run))
    figures["memory"] = sampler.series(t0)
    if figures["lost"] and not run.running():
        figures["output_tail"] = run.tail(15)
    return figures


def _cgroup_figures(cgroup, sampler, run):
    code = run.proc.poll()
    return {"peak_mb": round(cgroup.peak_mb(), 1), "peak_anon_mb": sampler.peak(2),
            "peak_tree_rss_mb": sampler.peak(3), "oom_kills": cgroup.oom_kills(), "limit_hits": cgroup.failcnt(),
            "exit_code": code, "killed": code in (-9, 137)}


def _engine_figures(counter, expected, t0):
    figures = {"expected": expected, "received": len(counter.seen), "lost": expected - len(counter.seen),
               "duplicated": counter.duplicated}
    if counter.first is not None:
        figures["first_at_engine_s"] = round(counter.first - t0, 2)
        figures["all_at_engine_s"] = round(counter.last - t0, 2)
        if counter.last > counter.first:
            figures["engine_rate_per_s"] = round((len(counter.arrivals) - 1) / (counter.last - counter.first), 1)
        step = max(1, len(counter.arrivals) // 300)
        figures["progress"] = [(round(t - t0, 2), index + 1) for index, t in enumerate(counter.arrivals)
                               if index % step == 0 or index == len(counter.arrivals) - 1]
    return figures


# ------------------------------------------------------------------ the two sources
def notification(topic, text_chars=TEXT_CHARS):
    """(headers as the broker delivers them, body): the publisher's notification."""
    headers, body = activemq_module.os_message_notification(0, 1, text_chars=text_chars)
    headers.update({"destination": "/topic/" + topic, "subscription": "1", "message-id": "ID:bench-1:1:1:1:1",
                    "timestamp": str(int(time.time() * 1000)), "expires": "0", "priority": "4",
                    "zeda-publish-ns": str(time.time_ns())})
    return headers, body


def frame_bytes(headers, body):
    """The size of a MESSAGE frame with these headers and body."""
    return len(("MESSAGE\n" + "".join("%s:%s\n" % item for item in headers.items()) + "\n" + body + "\0").encode())


def topics_source(broker, topic, **options):
    args = {"hmc_host": broker.host, "stomp_port": broker.stomp_ssl_port,
            "hmc_auth": {"userid": broker.userid, "password_env": PASSWORD_ENV, "ca_certs": broker.ca_file},
            "topics": [topic]}
    args.update(options)
    return {"name": "hmc", "zhmc.eda.notifications": args}


def run_ours(broker, workdir, collections_path, count, limit_mb, name, source_options=None, timeout=900):
    """ansible-rulebook with our source in the memory cgroup; the publisher at full speed."""
    topic = "zeda-memory-%s" % name
    path = es.rulebook(workdir, topics_source(broker, topic, **(source_options or {})), [DEBUG_RULE],
                       name="%s.yml" % name)
    cgroup = es.MemoryCgroup(limit_mb, name="zeda-bench-memory")
    try:
        run = es.Rulebook(path, workdir, collections_path, cgroup=cgroup, env_vars={PASSWORD_ENV: broker.password})
        with run:
            run.wait_for(CONNECTED, timeout=120)
            sampler = Sampler(run.proc.pid, cgroup)
            sampler.start()
            time.sleep(1.0)
            at_ready = cgroup.usage_mb()
            argv, env = broker.publisher_command(topic, count, text_chars=TEXT_CHARS)
            t0 = time.monotonic()
            publisher = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                counter = EngineCount(run)
                published_at = _wait_for_count(run, counter.update, count, timeout, publisher=publisher)
                out, err = publisher.communicate(timeout=120)
            finally:
                if publisher.poll() is None:
                    publisher.kill()
                    publisher.wait(10)
            figures = _run_figures(run, cgroup, sampler, counter, count, t0)
            figures["at_ready_mb"] = round(at_ready, 1)
            figures["published_s"] = round(published_at - t0, 2) if published_at else None
            figures["publisher"] = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err[-500:]}
            figures["backpressure"] = BACKPRESSURE in run.output
    finally:
        cgroup.remove()
    return figures


def run_generic(workdir, collections_path, count, limit_mb, name, event, timeout=900):
    """ansible-rulebook with eda.builtin.generic emitting `count` copies of `event` (each with
    its index) in the memory cgroup."""
    source = {"eda.builtin.generic": {"payload": "{{ bench_events }}", "create_index": "i", "loop_count": count}}
    path = es.rulebook(workdir, source, [DEBUG_RULE], name="%s.yml" % name)
    cgroup = es.MemoryCgroup(limit_mb, name="zeda-bench-memory")
    try:
        run = es.Rulebook(path, workdir, collections_path, cgroup=cgroup, variables={"bench_events": [event]})
        with run:
            sampler = Sampler(run.proc.pid, cgroup)
            sampler.start()
            t0 = run.started_at
            counter = EngineCount(run)
            _wait_for_count(run, counter.update, count, timeout)
            figures = _run_figures(run, cgroup, sampler, counter, count, t0)
    finally:
        cgroup.remove()
    return figures


def memory(broker, collections_path, count=50000, rounds=3, limit_mb=200, source_options=None, warmup=500,
           former_bound=True, log=print):
    """Rounds of ours and eda.builtin.generic (interleaved), per-round figures and medians.

    A short run of each first is not counted: the first ansible-rulebook to import a freshly
    installed collection writes its .pyc files, page cache the cgroup would be charged for.
    former_bound: one more run of ours holding what the former default held (8 MiB counted
    as received: about 4,000 of these notifications, 15 MB as Python objects).
    """
    workdir = tempfile.mkdtemp(prefix="zeda-bench-memory-", dir="/tmp")
    headers, body = notification("zeda-memory")
    event = events_mod.notification_to_events(headers, body, host=broker.host, topic_types={})[0]
    size = frame_bytes(headers, body)
    result = {"count": count, "limit_mb": limit_mb, "rounds": [], "frame_bytes": size,
              "event_json_bytes": len(json.dumps(event)), "target_over_generic_mb": TARGET_OVER_GENERIC_MB,
              "source_options": dict(source_options or {})}
    try:
        if warmup:
            run_ours(broker, workdir, collections_path, warmup, limit_mb, "warmup-zhmc", source_options)
            run_generic(workdir, collections_path, warmup, limit_mb, "warmup-generic", event)
        for number in range(rounds):
            entry = {}
            for who in (("zhmc", "generic") if number % 2 == 0 else ("generic", "zhmc")):
                entry[who] = _guarded(lambda who=who, name="%s-%d" % (who, number): (
                    run_ours(broker, workdir, collections_path, count, limit_mb, name, source_options)
                    if who == "zhmc" else run_generic(workdir, collections_path, count, limit_mb, name, event)))
                log("  memory round %d, %s: %s" % (number, who, brief(entry[who])))
            result["rounds"].append(entry)
        result["median"] = medians(result["rounds"])
        if former_bound:
            held = FORMER_DEFAULT_BYTES // size * (size + HELD_ITEM_OVERHEAD)
            options = dict(source_options or {}, max_pending_bytes=held)
            result["former_bound"] = _guarded(lambda: run_ours(broker, workdir, collections_path, count, limit_mb,
                                                               "zhmc-former-bound", options))
            result["former_bound"]["max_pending_bytes"] = held
            log("  memory, ours holding as much as the former default: %s" % brief(result["former_bound"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _guarded(run):
    """A run's figures, or what failed (the other runs still go ahead)."""
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - a run that failed is reported
        return {"error": "%s: %s" % (type(exc).__name__, str(exc)[-1500:])}


MEDIAN_KEYS = ("peak_mb", "peak_anon_mb", "peak_tree_rss_mb", "all_at_engine_s", "engine_rate_per_s", "lost",
               "duplicated", "oom_kills", "published_s")


def medians(rounds):
    out = {}
    for who in ("zhmc", "generic"):
        runs = [entry[who] for entry in rounds if who in entry and "error" not in entry[who]]
        out[who] = {key: es.median([run[key] for run in runs if run.get(key) is not None]) for key in MEDIAN_KEYS}
        out[who]["runs"] = len(runs)
    if out["zhmc"]["peak_mb"] is not None and out["generic"]["peak_mb"] is not None:
        out["over_generic_mb"] = round(out["zhmc"]["peak_mb"] - out["generic"]["peak_mb"], 1)
    return out


def brief(figures):
    return {key: value for key, value in figures.items() if key not in ("memory", "progress", "output_tail")}


# ------------------------------------------------------------------ slow consumer in a rulebook
def slow_consumer(broker, collections_path, count=50000, every=50, seconds=0.01, timeout=600, log=print):
    """tests/reliability/test_slow_consumer.py's scenario with the source in ansible-rulebook."""
    workdir = tempfile.mkdtemp(prefix="zeda-bench-slow-", dir="/tmp")
    topic = "zeda-slow-consumer"
    source = topics_source(broker, topic)
    source["filters"] = [{"slow_consumer": {"every": every, "seconds": seconds, "expect": count}}]
    path = es.rulebook(workdir, source, [NEVER_RULE], name="slow.yml")
    seen = [0, 0]

    def distinct():
        for line in reversed(run.lines[-50:]):
            match = SLOW_LINE.match(line)
            if match:
                seen[:] = [int(match.group(1)), int(match.group(2))]
                break
        return seen[0]

    try:
        run = es.Rulebook(path, workdir, collections_path, env_vars={PASSWORD_ENV: broker.password},
                          extra_args=["-F", FILTERS])
        with run:
            run.wait_for(CONNECTED, timeout=120)
            sampler = Sampler(run.proc.pid, interval=0.1)
            sampler.start()
            time.sleep(1.0)
            at_ready = es.tree_usage(run.proc.pid)[1] / 2**20
            argv, env = broker.publisher_command(topic, count)
            t0 = time.monotonic()
            publisher = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                _wait_for_count(run, distinct, count, timeout, stall_s=60.0, publisher=publisher)
                publisher.communicate(timeout=120)
            finally:
                if publisher.poll() is None:
                    publisher.kill()
                    publisher.wait(10)
            elapsed = time.monotonic() - t0
            sampler.stop.set()
            sampler.join(2)
            result = {"expected": count, "received": seen[0], "lost": count - seen[0], "duplicated": seen[1],
                      "seconds": round(elapsed, 2), "rss_at_ready_mb": round(at_ready, 1),
                      "peak_rss_mb": sampler.peak(3), "backpressure": BACKPRESSURE in run.output,
                      "slow_consumer": "%.0f ms pause every %d events" % (seconds * 1000, every),
                      "exit_code": run.proc.poll()}
            result["rss_growth_mb"] = round(result["peak_rss_mb"] - result["rss_at_ready_mb"], 1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log("  slow consumer in ansible-rulebook: %s" % result)
    return result
