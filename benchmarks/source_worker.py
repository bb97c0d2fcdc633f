"""The source alone in a fresh process, for figures that the benchmark process would distort.

    python -m benchmarks.source_worker burst --port P --ca-file F --topic T --count N \
        [--slow-every 50 --slow-seconds 0.01] [--checkpoint-file PATH]
    python -m benchmarks.source_worker watch --port STOMP --ws-port WS --ca-file F \
        --channels '[{"cpc": ".*", "partition": ".*"}]'

watch: the source with an HMC session (userid and password from ZEDA_HMC_USERID and
ZEDA_HMC_PASSWORD), started with tracemalloc on; once connected (and 2 s later, after a
garbage collection) one JSON line: the Python memory it holds (tracemalloc) and the RSS of
this process, to tell the memory of one watched partition without a rules engine's JVM.

Runs zhmc.eda.notifications' main(queue, args) in-process (tests/reliability/harness.py:
ansible-rulebook's queue of size 1 and one consumer that pauses `slow-seconds` after every
`slow-every` events; 0: a consumer that never pauses), prints READY once connected, then
counts distinct zeda-test-id headers until it has N or times out, and prints one JSON line:
received, duplicated, seconds, the rate at the queue (first to last event), the process's
user+system CPU (all threads) from READY to the last event, peak RSS of this process.
Broker userid/password come from the environment.
"""
import argparse
import json
import os
import resource
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def burst(options):
    from tests.reliability import harness

    args = {
        "hmc_host": options.host,
        "stomp_port": options.port,
        "hmc_auth": {"userid": os.environ["ZEDA_AMQ_USERID"], "password": os.environ["ZEDA_AMQ_PASSWORD"],
                     "ca_certs": options.ca_file},
        "topics": [options.topic],
        "status_events": True,
    }
    if options.checkpoint_file:
        args["checkpoint_file"] = options.checkpoint_file
    source = harness.InProcessSource(args, slow_every=options.slow_every, slow_seconds=options.slow_seconds,
                                     keep_events=False)
    seen = set()
    duplicates = [0]
    complete = threading.Event()
    first = [None]
    last = [None]

    def on_event(event, monotonic, _wall):
        item = harness.published_id(event)
        if item is None:
            return
        if first[0] is None:
            first[0] = monotonic
        last[0] = monotonic
        if item in seen:
            duplicates[0] += 1
        seen.add(item)
        if len(seen) >= options.count:
            complete.set()

    source.on_event = on_event
    source.start()
    source.wait_status("connected", 60)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("READY", flush=True)
    started = time.monotonic()
    cpu_ready = _process_cpu()
    complete.wait(options.timeout)
    finished = time.monotonic()
    cpu = _process_cpu() - cpu_ready
    still_running = not source.done.is_set()
    source.stop()
    result = {
        "received": len(seen), "expected": options.count, "lost": options.count - len(seen),
        "duplicated": duplicates[0], "seconds_from_ready": round(finished - started, 3),
        "seconds_from_first_event": round(finished - first[0], 3) if first[0] else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "rss_at_ready_mb": round(rss_before, 1), "source_still_running": still_running,
        "backlog_status_events": source.status_counts.get("backlog", 0),
        "rate_per_s": round((len(seen) - 1) / (last[0] - first[0]), 1) if len(seen) > 1 and last[0] > first[0]
        else None,
        "cpu_s": round(cpu, 3), "cpu_us_per_event": round(cpu / len(seen) * 1e6, 1) if seen else None,
    }
    print(json.dumps(result), flush=True)
    return 0


def _process_cpu():
    """User+system CPU seconds of this process, all threads."""
    times = os.times()
    return times.user + times.system


def watch(options):
    import gc
    import tracemalloc

    from tests.reliability import harness

    tracemalloc.start()
    args = {
        "hmc_host": options.host, "ws_port": options.ws_port, "stomp_port": options.port,
        "hmc_auth": {"userid": os.environ["ZEDA_HMC_USERID"], "password_env": "ZEDA_HMC_PASSWORD",
                     "ca_certs": options.ca_file},
        "os_message_channels": json.loads(options.channels), "status_events": True,
    }
    source = harness.InProcessSource(args, keep_events=False)
    source.start()
    source.wait_status("connected", options.timeout)
    time.sleep(2.0)
    gc.collect()
    current, _peak = tracemalloc.get_traced_memory()
    with open("/proc/self/status") as handle:
        rss_kb = int(next(line for line in handle if line.startswith("VmRSS:")).split()[1])
    source.stop()
    print(json.dumps({"python_heap_mb": round(current / 2**20, 2), "rss_mb": round(rss_kb / 1024.0, 1)}),
          flush=True)
    return 0


def main(argv=None):
    sys.path.insert(0, REPO)
    from tests.support import paths

    paths.setup_sys_path()
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["burst", "watch"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws-port", type=int)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--topic")
    parser.add_argument("--count", type=int)
    parser.add_argument("--channels")
    parser.add_argument("--slow-every", type=int, default=50)
    parser.add_argument("--slow-seconds", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--checkpoint-file")
    options = parser.parse_args(argv)
    return watch(options) if options.mode == "watch" else burst(options)


if __name__ == "__main__":
    sys.exit(main())
