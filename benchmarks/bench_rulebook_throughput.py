"""Events/s through ansible-rulebook: zhmc.eda.notifications vs eda.builtin.generic.

Both runs use the same rulebook rules (one rule that never matches the bulk events, plus a
start and an end marker rule) and the same event dicts: the generic source gets, as its
payload, exactly the events our source builds from the notifications (events.py run on
the same headers and bodies). Our source receives the notifications from hmcsim over
STOMP+TLS (topics-only mode on the HMC-wide audit topic), so the figure includes the
receiver, the hand-over and the shaping, and ansible-rulebook is the bottleneck.

The rate is measured inside ansible-rulebook: from the timestamp of the start marker's
debug banner to the end marker's (N bulk events in between). One JSON line of figures is
printed last. Design target: ours >= 0.9 x generic.

    ZHMC_EDA_COLLECTIONS_PATH=.build/collections .venv/bin/python \
        benchmarks/bench_rulebook_throughput.py [--events 20000] [--runs 1]

The source puts one event dict per `queue.put()` (ansible-rulebook 1.1 accepts nothing
else). On 2026-11-24, when it still put one list per batch, lists measured 1.30x generic and
one put per event 1.12x (docs/source.md, "How it works inside"): both above the target, so one code path for all
ansible-rulebook versions was kept.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.support import paths  # noqa: E402

paths.setup_sys_path()

from hmcsim import HmcSim  # noqa: E402
from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod  # noqa: E402
from tests.support.rulebook import RulebookRun, write_rulebook  # noqa: E402

BANNER = re.compile(r"\*\* (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \[debug\]")
PASSWORD_ENV = "ZHMC_BENCH_PASSWORD"


def rules():
    return [
        {"name": "bulk never matches", "condition": 'event.hmc.headers["bench"] == "never"',
         "action": {"debug": {"msg": "unexpected"}}},
        {"name": "start marker", "condition": 'event.hmc.headers["bench"] == "start"',
         "action": {"debug": {"msg": "BENCH START"}}},
        {"name": "end marker", "condition": 'event.hmc.headers["bench"] == "end"',
         "actions": [{"debug": {"msg": "BENCH END"}},
                     {"shutdown": {"delay": 0.1, "message": "benchmark done"}}]},
    ]


def notification(kind, seq, topic):
    headers = {
        "notification-type": "log-entry",
        "object-uri": "/api/console", "object-id": "console", "class": "console",
        "name": "HMCSIM", "session-sequence-nr": str(seq), "global-sequence-nr": str(seq),
        "timestamp": str(1700000000000 + seq), "bench": kind,
    }
    body = {"log-entries": [{"event-time": 1700000000000 + seq, "event-name": "bench",
                             "event-id": "1950", "userid": "bench",
                             "event-message": "benchmark entry %d" % seq}]}
    return headers, json.dumps(body)


def marker_times(run):
    """(start, end) datetimes of the BENCH START / BENCH END debug banners."""
    found = {}
    lines = run.lines
    for index, line in enumerate(lines):
        match = BANNER.search(line)
        if match and index + 1 < len(lines):
            nxt = lines[index + 1]
            for word in ("BENCH START", "BENCH END"):
                if word in nxt:
                    found[word] = datetime.datetime.strptime(match.group(1),
                                                             "%Y-%m-%d %H:%M:%S.%f")
    return found.get("BENCH START"), found.get("BENCH END")


def rate(run, count):
    start, end = marker_times(run)
    if start is None or end is None:
        raise RuntimeError("markers not found; output tail:\n%s" % run.tail(40))
    seconds = (end - start).total_seconds()
    return (count + 1) / seconds, seconds


def run_generic(collections_path, event_dicts, workdir):
    path = write_rulebook(workdir, [{
        "name": "bench generic", "hosts": "all",
        "sources": [{"eda.builtin.generic": {"payload": "{{ bench_events }}"}}],
        "rules": rules()}], name="generic.yml")
    run = RulebookRun(path, workdir, collections_path, variables={"bench_events": event_dicts},
                      verbosity=0)
    with run:
        code = run.wait(timeout=600)
    if code != 0:
        raise RuntimeError("generic run failed (%s):\n%s" % (code, run.tail(40)))
    return rate(run, len(event_dicts) - 2)


def run_ours(collections_path, sim, notifications, workdir):
    args = {
        "hmc_host": sim.host,
        "hmc_auth": {"userid": sim.userid, "password": "{{ %s }}" % PASSWORD_ENV,
                     "ca_certs": sim.ca_file},
        "stomp_port": sim.stomp_port,
        "topics": [sim.info["audit_topic"]],
    }
    path = write_rulebook(workdir, [{
        "name": "bench zhmc.eda", "hosts": "all",
        "sources": [{"name": "hmc", "zhmc.eda.notifications": args}],
        "rules": rules()}], name="ours.yml")
    run = RulebookRun(path, workdir, collections_path, variables={},
                      env_vars={PASSWORD_ENV: sim.password}, verbosity=1)
    with run:
        run.wait_for(r"zhmc\.eda\.notifications connected to", timeout=60)
        for headers, body in notifications:
            sim.publish_raw(sim.info["audit_topic"], headers, body)
        code = run.wait(timeout=600)
    if code != 0:
        raise RuntimeError("zhmc.eda run failed (%s):\n%s" % (code, run.tail(40)))
    return rate(run, len(notifications) - 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=1)
    opts = parser.parse_args()
    collections_path = paths.collections_path()
    workdir = tempfile.mkdtemp(prefix="zeda-bench-rb-", dir="/tmp")
    sim = HmcSim(os.path.join(workdir, "sim"), heartbeat_ms=5000)
    sim.start()
    try:
        topic = sim.info["audit_topic"]
        notifications = [notification("start", 0, topic)]
        notifications += [notification("bulk", i + 1, topic) for i in range(opts.events)]
        notifications.append(notification("end", opts.events + 1, topic))
        topic_types = {topic: "audit-notification"}
        event_dicts = []
        for headers, body in notifications:
            full = dict(headers, destination="/topic/" + topic)
            event_dicts += events_mod.notification_to_events(full, body, host=sim.host,
                                                             topic_types=topic_types)
        figures = {"events": opts.events, "generic_per_s": [], "cpu_count": os.cpu_count()}
        for _ in range(opts.runs):
            per_s, seconds = run_generic(collections_path, event_dicts, workdir)
            figures["generic_per_s"].append(round(per_s, 1))
            print("eda.builtin.generic: %.0f events/s (%.2f s)" % (per_s, seconds), flush=True)
        figures["zhmc_per_s"] = []
        for _ in range(opts.runs):
            per_s, seconds = run_ours(collections_path, sim, notifications, workdir)
            figures["zhmc_per_s"].append(round(per_s, 1))
            print("zhmc.eda.notifications: %.0f events/s (%.2f s)" % (per_s, seconds), flush=True)
        figures["ratio"] = round(max(figures["zhmc_per_s"]) / max(figures["generic_per_s"]), 3)
        figures["target_ratio"] = 0.9
        print(json.dumps({"bench": "rulebook_throughput", **figures}), flush=True)
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
