"""An IBM Z estate on one source: hmcsim's generated estate of 10 CPCs x 100 partitions and
LPARs, the source run by ansible-rulebook from the installed collection.

- start: from starting ansible-rulebook until all 1,000 channels are subscribed (hmcsim says
  so), one call at a time (parallel_hmc_calls: 1) and 8 at a time (the default), on hmcsim as
  it is and with 50 ms added to every WS API request (an HMC that is farther away or slower);
- relogon: the source's session expires; until its 1,000 channels are open again in a new
  session, subscribed, and the messages they missed meanwhile have reached the rules engine;
- idle: CPU of the ansible-rulebook process tree with 1,000 watched partitions and no
  traffic, a resync's share, and the memory per watched partition;
- storm: 200 partitions become active at once and each prints 50 messages within 10 s; the
  whole process tree in a 200 MB memory cgroup; compared with eda.builtin.generic emitting
  the same events through the same rule;
- follow (issue 12): from a status-change to active (or an inventory-change add) being
  published until hmcsim has the partition's channel subscribed, 50 one after another and 50
  at the same moment.

    ZHMC_EDA_COLLECTIONS_PATH=.build/collections .venv/bin/python -m benchmarks.bench_estate \
        [--only start,relogon,idle,storm,follow] [--quick]

Prints one JSON line of figures per benchmark.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.support import paths  # noqa: E402

paths.setup_sys_path()

from hmcsim import HmcSim  # noqa: E402
from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod  # noqa: E402
from benchmarks import estate_support as es  # noqa: E402

ALL = ("start", "relogon", "idle", "storm", "follow")
SOURCES = os.path.join(REPO, "benchmarks", "sources")  # replay_events: the rules engine's own rate
REMOTE_DELAY = 0.05  # seconds added to each WS API request: "an HMC 50 ms away"
CONNECTED = r"zhmc\.eda\.notifications connected to"


class Bench:
    """One hmcsim and a work directory; ansible-rulebook runs made on it."""

    def __init__(self, cpcs, collections_path):
        self.workdir = tempfile.mkdtemp(prefix="zeda-bench-estate-", dir="/tmp")
        self.cpcs = cpcs
        self.collections_path = collections_path
        self.sim = HmcSim(os.path.join(self.workdir, "sim"), config={"cpcs": cpcs}, heartbeat_ms=5000,
                          job_delay=0.2)
        self.sim.start()
        self.runs = 0

    def rulebook(self, source, rules, cgroup=None, variables=None, source_dirs=None):
        self.runs += 1
        path = es.rulebook(self.workdir, source, rules, name="rulebook-%d.yml" % self.runs)
        return es.Rulebook(path, self.workdir, self.collections_path, sim=self.sim, cgroup=cgroup,
                           variables=variables, source_dirs=source_dirs)

    def close(self):
        self.sim.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("%s not reached within %.0f s" % (what, timeout))
        time.sleep(interval)
    return time.monotonic()


def all_subscribed(sim, count):
    return lambda: es.subscribed_channels(sim) >= count


# ------------------------------------------------------------------ start
def start(collections_path, rounds=3, remote_rounds=1, sweep=(2, 4, 16), log=print):
    cpcs = es.running_estate()
    total = len(es.objects(cpcs))
    bench = Bench(cpcs, collections_path)
    runs = []
    try:
        plan = [(limit, 0.0) for _ in range(rounds) for limit in (1, 8)]
        plan += [(limit, REMOTE_DELAY) for _ in range(remote_rounds) for limit in (1, 8)]
        plan += [(limit, REMOTE_DELAY) for limit in sweep]  # the curve the default was chosen from
        for limit, delay in plan:
            bench.sim.set_ws_delay(delay)
            run = bench.rulebook(es.zhmc_source(bench.sim, parallel_hmc_calls=limit), [es.NEVER])
            with run:
                t_logon, _ = run.line_time(r"Logged on to HMC", timeout=120)
                t_opened, match = run.line_time(r"OS message channels of (\d+) object\(s\) opened", timeout=300)
                t_connected, _ = run.line_time(CONNECTED, timeout=300)
                t_all = wait_until(all_subscribed(bench.sim, total), 60, interval=0.02, what="all subscribed")
                figures = {
                    "parallel_hmc_calls": limit, "ws_delay_s": delay,
                    "objects": int(match.group(1)), "subscribed": es.subscribed_channels(bench.sim),
                    "to_logon_s": round(t_logon - run.started_at, 2),
                    "logon_to_opened_s": round(t_opened - t_logon, 2),
                    "opened_to_connected_s": round(t_connected - t_opened, 2),
                    "source_s": round(t_all - t_logon, 2),
                    "total_s": round(t_all - run.started_at, 2),
                }
            runs.append(figures)
            log("  start, %d at a time, +%d ms per call: %s" % (limit, delay * 1000, figures))
            time.sleep(1.0)  # the old session's logoff, the process gone
    finally:
        bench.close()
    summary = {}
    for limit in sorted({r["parallel_hmc_calls"] for r in runs}):
        for delay in (0.0, REMOTE_DELAY):
            chosen = [r for r in runs if r["parallel_hmc_calls"] == limit and r["ws_delay_s"] == delay]
            if chosen:
                summary["%d@%dms" % (limit, delay * 1000)] = {
                    key: es.median([r[key] for r in chosen])
                    for key in ("total_s", "source_s", "to_logon_s", "logon_to_opened_s", "opened_to_connected_s")}
    return {"objects": total, "runs": runs, "median": summary, "remote_delay_s": REMOTE_DELAY,
            "target_s": 15.0}


# ------------------------------------------------------------------ relogon
def emit_one_each(sim, chosen, text):
    for cpc, name, _dpm in chosen:
        sim.emit_os_messages(cpc, name, [text])


def relogon(collections_path, rounds=1, log=print):
    """Each round twice: with no rule acting on OS messages (the source's own time: the missed
    messages handed to the rules engine, counted by the backfill's log line) and with a debug
    action per OS message (every missed message checked at the rules engine, at its rate)."""
    cpcs = es.running_estate()
    every = es.objects(cpcs)
    total = len(every)
    runs = []
    for number in range(1, rounds + 1):
        for variant in ("source", "engine"):
            bench = Bench(cpcs, collections_path)  # fresh: no messages of an earlier run replayed
            try:
                figures = _relogon_once(bench, every, "%s-%d" % (variant, number), variant == "engine")
            finally:
                bench.close()
            figures["variant"] = variant
            runs.append(figures)
            log("  re-logon (%s): %s" % (variant, figures))
    keys = ("detected_and_logged_on_s", "reopen_only_s", "reopened_s", "resubscribed_s", "backfill_done_s",
            "all_missed_at_engine_s")
    median = {}
    for variant in ("source", "engine"):
        chosen = [r for r in runs if r["variant"] == variant]
        median[variant] = {k: es.median([r[k] for r in chosen if r.get(k) is not None]) for k in keys
                           if any(r.get(k) is not None for r in chosen)}
    return {"objects": total, "runs": runs, "median": median, "keepalive_interval_s": 1, "target_s": 15.0,
            "lost": sum(r.get("lost") or 0 for r in runs), "duplicated": sum(r.get("duplicated") or 0 for r in runs)}


def _relogon_once(bench, every, label, at_engine):
    total = len(every)
    rules = [es.OS_MESSAGE_DEBUG] if at_engine else [es.NEVER]
    run = bench.rulebook(es.zhmc_source(bench.sim, keepalive_interval=1), rules)
    with run:
        run.line_time(CONNECTED, timeout=300)
        wait_until(all_subscribed(bench.sim, total), 60, what="all subscribed")
        seen = run.count_osm()  # refresh replays of earlier runs' messages
        emit_one_each(bench.sim, every, "before the re-logon %s\n" % label)
        if at_engine:
            wait_until(lambda: run.count_osm() >= seen + total, 300, what="the first messages")
        time.sleep(3.0)
        mark = len(run.lines)
        emitted = []  # (name, the sequence number the HMC gave) of each message missed
        t0 = time.monotonic()
        bench.sim.expire_session()
        for cpc, name, _dpm in every:  # while the source has no session
            emitted.append((name, bench.sim.emit_os_messages(cpc, name, ["while away %s\n" % label])[0]))
        t_renewed, _ = run.line_time(r"HMC session generation \d+ \(", start=mark, timeout=60)
        t_opened, match = run.line_time(r"OS message channels of (\d+) object\(s\) opened", start=mark, timeout=300)
        t_recovered, _ = run.line_time(r"recovered \(", start=mark, timeout=300)
        t_backfill, done = run.line_time(r"backfill of (\d+) OS message channel\(s\) done .*: (\d+) event", start=mark,
                                         timeout=600)
        figures = {
            "channels": int(match.group(1)), "backfilled_channels": int(done.group(1)),
            "backfill_events": int(done.group(2)),
            "detected_and_logged_on_s": round(t_renewed - t0, 2), "reopen_only_s": round(t_opened - t_renewed, 2),
            "reopened_s": round(t_opened - t0, 2), "resubscribed_s": round(t_recovered - t0, 2),
            "backfill_done_s": round(t_backfill - t0, 2), "missed": len(emitted),
        }
        if at_engine:
            missed = set(emitted)
            wait_until(lambda: missed <= {(n, q) for _t, n, q, _o in run.osm_lines()}, 300, interval=0.2,
                       what="every missed message at the rules engine")
            lines = run.osm_lines()
            arrivals = [(t, n, q, o) for t, n, q, o in lines if (n, q) in missed]
            counts = {}
            for _t, n, q, _o in lines:
                counts[(n, q)] = counts.get((n, q), 0) + 1
            figures.update(
                all_missed_at_engine_s=round(max(t for t, *_rest in arrivals) - t0, 2),
                lost=len(missed - {(n, q) for _t, n, q, _o in arrivals}),
                duplicated=sum(c - 1 for c in counts.values() if c > 1),
                missed_by_origin={o: sum(1 for a in arrivals if a[3] == o) for o in sorted({a[3] for a in arrivals})})
    return figures


# ------------------------------------------------------------------ idle
def idle(collections_path, quiet_s=40.0, resync_window_s=20.0, resync_interval=60.0, rounds=2, log=print):
    """CPU and memory of the ansible-rulebook process tree: 1,000 channels, no traffic.

    Rounds alternate 1,000 channels and one; the figures are medians (a JVM's RSS varies by a
    few MB from run to run, as much as 1,000 channels take)."""
    cpcs = es.running_estate()
    total = len(es.objects(cpcs))
    bench = Bench(cpcs, collections_path)
    samples = {"all": [], "one": []}
    try:
        for _round in range(rounds):
            for label, channels, count in (
                    ("all", es.ALL_CHANNELS, total),
                    ("one", [{"cpc": cpcs[0]["name"], "partition": cpcs[0]["partitions"][0]["name"]}], 1)):
                figures = _idle_once(bench, channels, count, label == "all", quiet_s, resync_window_s,
                                     resync_interval)
                samples[label].append(figures)
                log("  idle, %d channel(s): %s" % (count, figures))
        generic = _idle_generic(bench, quiet_s)
        log("  idle, ansible-rulebook with a source that does nothing: %s" % generic)
    finally:
        bench.close()
    runs = {label: {key: es.median([f[key] for f in figures]) for key in figures[0]
                    if key not in ("window_s", "busiest_threads_percent")}
            for label, figures in samples.items()}
    runs["generic_idle"] = generic
    per = (runs["all"]["rss_mb"] - runs["one"]["rss_mb"]) * 1024 / (total - 1)
    heap = source_memory(cpcs, rounds, log)
    return {"objects": total, "runs": runs, "rounds": samples, "kb_per_partition": round(per, 1),
            "source_memory": heap, "target_cpu_percent": 1.0}


def source_memory(cpcs, rounds, log=print):
    """The source without ansible-rulebook (benchmarks/source_worker.py watch): Python memory
    (tracemalloc) and RSS with every channel and with one; per watched partition."""
    import subprocess

    total = len(es.objects(cpcs))
    sim = HmcSim(tempfile.mkdtemp(prefix="zeda-bench-mem-", dir="/tmp"), config={"cpcs": cpcs}, heartbeat_ms=5000)
    sim.start()
    out = {"all": [], "one": []}
    try:
        env = dict(os.environ, ZEDA_HMC_USERID=sim.userid, ZEDA_HMC_PASSWORD=sim.password)
        for _round in range(rounds):
            for label, channels in (("all", es.ALL_CHANNELS),
                                    ("one", [{"cpc": cpcs[0]["name"], "partition": cpcs[0]["partitions"][0]["name"]}])):
                result = subprocess.run(
                    [sys.executable, "-m", "benchmarks.source_worker", "watch", "--host", sim.host, "--port",
                     str(sim.stomp_port), "--ws-port", str(sim.ws_port), "--ca-file", sim.ca_file,
                     "--channels", json.dumps(channels)],
                    capture_output=True, text=True, timeout=300, check=False, cwd=REPO, env=env)
                line = [x for x in result.stdout.splitlines() if x.startswith("{")]
                if not line:
                    raise RuntimeError("source_worker watch failed: %s" % (result.stdout + result.stderr)[-1500:])
                out[label].append(json.loads(line[-1]))
                log("  source memory, %s: %s" % (label, out[label][-1]))
    finally:
        sim.stop()
    heap = {label: es.median([r["python_heap_mb"] for r in runs]) for label, runs in out.items()}
    rss = {label: es.median([r["rss_mb"] for r in runs]) for label, runs in out.items()}
    return {"python_heap_mb": heap, "rss_mb": rss, "runs": out,
            "heap_kb_per_partition": round((heap["all"] - heap["one"]) * 1024 / (total - 1), 2),
            "rss_kb_per_partition": round((rss["all"] - rss["one"]) * 1024 / (total - 1), 2)}


def _cpu_percent(pid, seconds, threads=None):
    """(% of a core, RSS bytes, CPU seconds) of the process tree over `seconds`; with a dict in
    `threads`, the % of each of the process's busiest threads goes there."""
    cpu0, _rss = es.tree_usage(pid)
    before = es.thread_cpu(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    cpu1, rss = es.tree_usage(pid)
    elapsed = time.monotonic() - t0
    if threads is not None:
        after = es.thread_cpu(pid)
        busy = sorted(((after[n] - before.get(n, 0.0)) / elapsed * 100, n) for n in after)
        threads.update((name, round(percent, 3)) for percent, name in busy[-6:] if percent > 0)
    return (cpu1 - cpu0) / elapsed * 100, rss, cpu1 - cpu0


def _idle_once(bench, channels, count, with_resync, quiet_s, resync_window_s, resync_interval):
    run = bench.rulebook(es.zhmc_source(bench.sim, os_message_channels=channels, resync_interval=resync_interval),
                         [es.NEVER])
    with run:
        t_connected, _ = run.line_time(CONNECTED, timeout=300)
        wait_until(all_subscribed(bench.sim, count), 60, what="all subscribed")
        # the first resync comes resync_interval after the follower started (just after
        # `connected`): quiet_s of pure idle before it, then a window around it
        time.sleep(max(0.0, t_connected + 8.0 - time.monotonic()))
        threads = {}
        percent, rss, _cpu = _cpu_percent(run.proc.pid, quiet_s, threads)
        figures = {"channels": count, "pids": len(es.tree_pids(run.proc.pid)), "idle_cpu_percent": round(percent, 3),
                   "rss_mb": round(rss / 2**20, 1), "window_s": quiet_s, "busiest_threads_percent": threads}
        if with_resync:
            time.sleep(max(0.0, t_connected + resync_interval - resync_window_s / 2 - time.monotonic()))
            requests = bench.sim.ws_stats()["requests"]
            _percent, _rss, cpu = _cpu_percent(run.proc.pid, resync_window_s)
            extra = cpu - percent / 100 * resync_window_s
            figures.update(resync_cpu_s=round(extra, 2), resync_requests=bench.sim.ws_stats()["requests"] - requests,
                           cpu_percent_with_default_resync=round(percent + max(extra, 0) / 300 * 100, 3))
    return figures


def _idle_generic(bench, quiet_s):
    run = bench.rulebook({"eda.builtin.generic": {"payload": [{"x": 1}], "startup_delay": 3600}}, [es.NEVER])
    with run:
        run.wait_for(r"Waiting for actions on events", timeout=120)
        time.sleep(8.0)
        threads = {}
        percent, rss, _cpu = _cpu_percent(run.proc.pid, quiet_s, threads)
    return {"idle_cpu_percent": round(percent, 3), "rss_mb": round(rss / 2**20, 1), "busiest_threads_percent": threads}


# ------------------------------------------------------------------ storm
def storm_events(sim, chosen, rounds):
    """The events the source builds for the storm's messages, for eda.builtin.generic."""
    out = []
    for round_number in range(rounds):
        for cpc, name, _dpm in chosen:
            uri = sim.uri(cpc, name)
            headers = {"notification-type": "os-message", "object-uri": uri, "object-id": uri.rsplit("/", 1)[-1],
                       "class": "partition" if "/partitions/" in uri else "logical-partition", "name": name,
                       "session-sequence-nr": "1", "global-sequence-nr": "1", "timestamp": "1700000000000",
                       "destination": "/topic/hmcuser.1osm.x"}
            body = json.dumps({"os-messages": [{
                "sequence-number": round_number + 1, "message-text": "IPL %d of %s\n" % (round_number, name),
                "message-id": "0", "timestamp": 1700000000000, "sound-alarm": False, "is-priority": False,
                "is-held": False, "prompt-text": None, "os-name": None, "is-refresh": False}]})
            out += events_mod.notification_to_events(headers, body, host=sim.host,
                                                     topic_types={"hmcuser.1osm.x": "os-message-notification"})
    return out


class MemorySampler(threading.Thread):
    """The cgroup's memory every `interval` seconds: [(monotonic, MB)]."""

    def __init__(self, cgroup, interval=0.25):
        super().__init__(daemon=True)
        self.cgroup, self.interval, self.samples = cgroup, interval, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.samples.append((time.monotonic(), round(self.cgroup.usage_mb(), 1)))
            except OSError:
                return
            self.stop.wait(self.interval)


def _drain(run, cgroup, expected, t0, timeout, published_at=None):
    """Wait until `expected` OS messages reached the rules engine (or the run ended)."""
    deadline = time.monotonic() + timeout
    while run.count_osm() < expected and run.running() and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = run.osm_lines()
    engine = run.osm_times()
    counts = {}
    for _t, name, seq, _origin in lines:
        counts[(name, seq)] = counts.get((name, seq), 0) + 1
    figures = {
        "expected": expected, "received": len(counts),
        "duplicated": sum(c - 1 for c in counts.values() if c > 1),
        "exit_code": run.proc.poll(), "peak_mb": round(cgroup.peak_mb(), 1), "oom_kills": cgroup.oom_kills(),
        "limit_hits": cgroup.failcnt(),
    }
    figures["lost"] = expected - figures["received"]
    first = {}
    for _t, name, seq, origin in lines:
        first.setdefault((name, seq), origin)
    figures["by_origin"] = {o: sum(1 for v in first.values() if v == o) for o in sorted(set(first.values()))}
    if len(engine) > 1:
        figures["engine_rate_per_s"] = round((len(engine) - 1) / (engine[-1] - engine[0]), 1)
        figures["engine_seconds"] = round(engine[-1] - engine[0], 2)
    if lines:
        arrivals = sorted(t for t, *_rest in lines)
        figures["all_at_engine_s"] = round(arrivals[-1] - t0, 2)
        figures["first_at_engine_s"] = round(arrivals[0] - t0, 2)
        if published_at is not None:
            figures["after_last_published_s"] = round(arrivals[-1] - published_at, 2)
            behind = [t for t in arrivals if t > published_at]
            if len(behind) > 1:  # the drain of what waited in the source, nothing published meanwhile
                figures["drain_after_published_per_s"] = round((len(behind) - 1) / (behind[-1] - behind[0]), 1)
            during = [t for t in arrivals if t <= published_at]
            if len(during) > 1:
                figures["rate_while_published_per_s"] = round((len(during) - 1) / (during[-1] - during[0]), 1)
        figures["progress"] = _progress(arrivals, t0)
    return figures


def _progress(arrivals, t0, points=300):
    """[(seconds since t0, events so far)] at most `points` of them, for the plot."""
    step = max(1, len(arrivals) // points)
    out = [(round(t - t0, 2), index + 1) for index, t in enumerate(arrivals) if index % step == 0]
    out.append((round(arrivals[-1] - t0, 2), len(arrivals)))
    return out


def storm(collections_path, count=200, per=50, seconds=10.0, limit_mb=200, log=print):
    cpcs = es.running_estate()
    chosen = es.spread(cpcs, count)
    es.set_stopped(cpcs, chosen)
    total = len(es.objects(cpcs))
    expected = count * per
    bench = Bench(cpcs, collections_path)
    result = {"objects": total, "activated": count, "messages_each": per, "within_s": seconds,
              "limit_mb": limit_mb}
    try:
        cgroup = es.MemoryCgroup(limit_mb)
        sampler = MemorySampler(cgroup)
        try:
            run = bench.rulebook(es.zhmc_source(bench.sim), [es.OS_MESSAGE_DEBUG], cgroup=cgroup)
            with run:
                run.line_time(CONNECTED, timeout=300)
                wait_until(all_subscribed(bench.sim, total - count), 60, what="all running subscribed")
                time.sleep(3.0)
                sampler.start()
                t0 = time.monotonic()
                for cpc, name, dpm in chosen:  # the IPL: all at once
                    bench.sim.set_status(cpc, name, es.running_status(dpm))
                for round_number in range(per):
                    time.sleep(max(0.0, t0 + seconds * round_number / per - time.monotonic()))
                    for cpc, name, _dpm in chosen:
                        bench.sim.emit_os_messages(cpc, name, ["IPL %d of %s\n" % (round_number, name)])
                published = time.monotonic()
                ours = _drain(run, cgroup, expected, t0, timeout=600, published_at=published)
                ours["published_s"] = round(published - t0, 2)
                ours["memory"] = [(round(t - t0, 2), mb) for t, mb in sampler.samples]
        finally:
            sampler.stop.set()
            cgroup.remove()
        log("  storm, zhmc.eda: %s" % _brief(ours))
        result["zhmc"] = ours
        # the rules engine's own rate: the same 10,000 events put on its queue from a file
        events = storm_events(bench.sim, chosen, per)
        path = os.path.join(bench.workdir, "storm-events.jsonl")
        with open(path, "w") as handle:
            for event in events:
                handle.write(json.dumps(event) + "\n")
        result["replay"] = _reference(bench, {"replay_events": {"path": path}}, expected, limit_mb,
                                      source_dirs=SOURCES)
        log("  storm, the same events replayed from a file: %s" % _brief(result["replay"]))
        # eda.builtin.generic: one round of the same events, looped (10,000 distinct ones in the
        # vars take more than 200 MB to template before the first is emitted)
        generic = _reference(bench, {"eda.builtin.generic": {"payload": "{{ storm_events }}", "startup_delay": 2,
                                                             "loop_count": per}},
                             expected, limit_mb, variables={"storm_events": events[:count]})
        generic.update(lost=None, duplicated=None)  # looped: the same events again, not distinct
        log("  storm, eda.builtin.generic: %s" % _brief(generic))
        result["generic"] = generic
    finally:
        bench.close()
    return result


def _reference(bench, source, expected, limit_mb, variables=None, source_dirs=None):
    """Another source emitting the storm's events through the same rule, in the same cgroup limit."""
    cgroup = es.MemoryCgroup(limit_mb)
    sampler = MemorySampler(cgroup)
    try:
        run = bench.rulebook(source, [es.OS_MESSAGE_DEBUG], cgroup=cgroup, variables=variables,
                             source_dirs=source_dirs)
        with run:
            sampler.start()
            t0 = time.monotonic()
            figures = _drain(run, cgroup, expected, t0, timeout=900)
            figures["memory"] = [(round(t - t0, 2), mb) for t, mb in sampler.samples]
            figures["received"] = run.count_osm()
    finally:
        sampler.stop.set()
        cgroup.remove()
    return figures


def _brief(figures):
    return {k: v for k, v in figures.items() if k not in ("memory", "progress")}


# ------------------------------------------------------------------ follow (issue 12)
class FollowWatch(threading.Thread):
    """When each object's change was published on the source's object topic (observer) and
    when hmcsim first had its channel topic subscribed (polled every 2 ms)."""

    def __init__(self, sim, session_number):
        super().__init__(daemon=True)
        self.sim, self.session_number = sim, session_number
        self.published, self.subscribed, self.pending = {}, {}, set()
        self.names = set()  # objects about to be created (their URI is not known before)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        sim.add_observer(self._observe)

    def _observe(self, topic, headers, body):
        if headers.get("notification-type") in ("status-change", "inventory-change"):
            uri = headers.get("object-uri")
            with self.lock:
                if headers.get("name") in self.names and headers.get("action") == "add":
                    self.pending.add(uri)
                if uri in self.pending and uri not in self.published:
                    self.published[uri] = time.monotonic()

    def expect_created(self, name):
        with self.lock:
            self.names.add(name)

    def expect(self, uri):
        with self.lock:
            self.pending.add(uri)

    def run(self):
        while not self.stop.is_set():
            with self.lock:
                waiting = [uri for uri in self.pending if uri not in self.subscribed]
            for uri in waiting:
                if self.sim.subscriptions(es.channel_topic(self.sim, self.session_number, uri)):
                    with self.lock:
                        self.subscribed[uri] = time.monotonic()
            time.sleep(0.002)

    def latencies(self, uris, timeout=60):
        wait_until(lambda: all(u in self.subscribed for u in uris), timeout, interval=0.01, what="subscribed")
        return [self.subscribed[u] - self.published[u] for u in uris]


def _latency_figures(values):
    return {"n": len(values), "p50_s": round(es.percentile(values, 0.5), 3),
            "p99_s": round(es.percentile(values, 0.99), 3), "max_s": round(max(values), 3),
            "samples_s": [round(v, 4) for v in values]}


def follow(collections_path, count=50, delays=(0.0, REMOTE_DELAY), log=print):
    cpcs = es.running_estate()
    one_by_one = es.spread(cpcs, count, skip=1)
    at_once = es.spread(cpcs, count, skip=3)
    es.set_stopped(cpcs, one_by_one + at_once)
    created = [(cpcs[i % len(cpcs)]["name"], "NEW%02d%03d" % (i % len(cpcs) + 1, i), cpcs[i % len(cpcs)]["dpm"])
               for i in range(count)]
    result = {"count": count, "remote_delay_s": REMOTE_DELAY, "target_p99_s": 10.0}
    for delay in delays:
        bench = Bench([dict(c) for c in cpcs], collections_path)
        try:
            bench.sim.set_ws_delay(delay)
            run = bench.rulebook(es.zhmc_source(bench.sim), [es.NEVER])
            with run:
                run.line_time(CONNECTED, timeout=600)
                wait_until(all_subscribed(bench.sim, len(es.objects(cpcs)) - 2 * count), 120, what="subscribed")
                time.sleep(2.0)
                watch = FollowWatch(bench.sim, es.source_session_number(bench.sim))
                watch.start()
                series = {}
                uris = []
                for cpc, name, dpm in one_by_one:
                    uri = bench.sim.uri(cpc, name)
                    watch.expect(uri)
                    bench.sim.set_status(cpc, name, es.running_status(dpm))
                    watch.latencies([uri])
                    uris.append(uri)
                    time.sleep(0.1)
                series["activated_one_after_another"] = _latency_figures(watch.latencies(uris))
                uris = []
                for cpc, name, dpm in created:
                    watch.expect_created(name)  # the watch learns its URI from the inventory-change
                    add = bench.sim.add_partition if dpm else bench.sim.add_lpar
                    uri = add(cpc, name, status=es.running_status(dpm))
                    watch.latencies([uri])
                    uris.append(uri)
                    time.sleep(0.1)
                series["created_one_after_another"] = _latency_figures(watch.latencies(uris))
                uris = [bench.sim.uri(cpc, name) for cpc, name, _dpm in at_once]
                for uri in uris:
                    watch.expect(uri)
                for cpc, name, dpm in at_once:
                    bench.sim.set_status(cpc, name, es.running_status(dpm))
                series["activated_at_once"] = _latency_figures(watch.latencies(uris))
                watch.stop.set()
            result["%dms" % (delay * 1000)] = series
            log("  follow, +%d ms per call: %s" % (delay * 1000, {
                k: {m: v for m, v in f.items() if m != "samples_s"} for k, f in series.items()}))
        finally:
            bench.close()
    return result


BENCHES = {"start": start, "relogon": relogon, "idle": idle, "storm": storm, "follow": follow}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(ALL))
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args(argv)
    for name in options.only.split(","):
        kwargs = {"rounds": 1} if options.quick and name == "start" else {}
        figures = BENCHES[name](paths.collections_path(), **kwargs)
        print(json.dumps({"bench": name, **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
