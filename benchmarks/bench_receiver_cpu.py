"""Receiver CPU per notification: ours vs a bare stomp.py listener (the floor) vs zhmcclient.

Each implementation runs in its own process (benchmarks/receiver_worker.py) and receives
N HMC-shaped OS-message notifications from ActiveMQ over STOMP+TLS on loopback. The topic
is non-durable, so the worker subscribes first (READY), then a separate publisher process
sends the N notifications as fast as it can. Implementations are interleaved for several
rounds; the report uses the median per implementation.
"""
import os
import select
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "benchmarks", "receiver_worker.py")
ZHMCCLIENT_PYTHON = os.path.join(REPO, ".venv-zhmcclient", "bin", "python")


def _read_line(proc, timeout):
    """The next stdout line of `proc` within `timeout` seconds, or None."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    return proc.stdout.readline()


def run_once(broker, impl, count, collections_path, round_number):
    import json

    python = ZHMCCLIENT_PYTHON if impl == "zhmcclient" else sys.executable
    topic = "zeda-cpu-%s-%d" % (impl, round_number)
    argv = [python, WORKER, "--impl", impl, "--port", str(broker.stomp_ssl_port), "--ca-file",
            broker.ca_file, "--topic", topic, "--count", str(count), "--collections-path", collections_path]
    env = dict(os.environ, ZEDA_AMQ_USERID=broker.userid, ZEDA_AMQ_PASSWORD=broker.password)
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = _read_line(worker, max(0.1, deadline - time.monotonic())) or ""
            if line.strip() == "READY" or worker.poll() is not None:
                break
        if line.strip() != "READY":
            raise RuntimeError("%s worker not ready: %s %s" % (impl, line, worker.stderr.read()[-2000:]
                                                                if worker.poll() is not None else ""))
        time.sleep(0.3)
        pub_argv, pub_env = broker.publisher_command(topic, count)
        publisher = subprocess.run(pub_argv, env=pub_env, capture_output=True, text=True, timeout=300, check=False)
        if publisher.returncode != 0:
            raise RuntimeError("publisher failed: %s" % publisher.stderr[-2000:])
        out, err = worker.communicate(timeout=300)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    lines = [item for item in out.splitlines() if item.startswith("{")]
    if not lines:
        raise RuntimeError("%s worker printed no result (exit %s): %s" % (impl, worker.returncode, err[-2000:]))
    result = json.loads(lines[-1])
    result["round"] = round_number
    return result


def run(broker, collections_path, count=20000, rounds=3, implementations=None, log=print):
    implementations = implementations or ["floor", "ours-poll", "ours-generator", "zhmcclient"]
    if "zhmcclient" in implementations and not os.path.exists(ZHMCCLIENT_PYTHON):
        log("zhmcclient venv missing (%s): skipping zhmcclient" % ZHMCCLIENT_PYTHON)
        implementations = [item for item in implementations if item != "zhmcclient"]
    results = []
    errors = []
    for round_number in range(rounds):
        # rotate the order each round so no implementation always runs first or last
        order = implementations[round_number % len(implementations):] + \
            implementations[:round_number % len(implementations)]
        for impl in order:
            result = None
            for attempt in (1, 2):   # one retry: a failed run says nothing about CPU cost
                try:
                    result = run_once(broker, impl, count, collections_path, round_number)
                    break
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    error = str(exc).strip().splitlines()[-1][:300]
                    log("  cpu round %d %-15s attempt %d failed: %s" % (round_number, impl, attempt, error))
                    errors.append({"impl": impl, "round": round_number, "attempt": attempt, "error": error})
            if result is None:
                continue
            log("  cpu round %d %-15s %7.1f us/notification (%d received, %.1f s wall)%s" % (
                round_number, impl, result["cpu_us_per_notification"], result["received"], result["wall_s"],
                ", consumer thread %.1f us, %d polls" % (result["consumer_thread_cpu_us_per_notification"], result["polls"])
                if "polls" in result else ""))
            results.append(result)
    summary = summarize(results, implementations)
    summary["errors"] = errors
    return summary


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def summarize(results, implementations):
    summary = {"runs": results, "median_us": {}, "ratio_to_floor": {}}
    for impl in implementations:
        values = [r["cpu_us_per_notification"] for r in results if r["impl"] == impl and r["received"] >= r["expected"]]
        if values:
            summary["median_us"][impl] = round(_median(values), 2)
    floor = summary["median_us"].get("floor")
    if floor:
        for impl, value in summary["median_us"].items():
            summary["ratio_to_floor"][impl] = round(value / floor, 3)
    return summary
