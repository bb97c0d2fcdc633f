"""`make bench`: every benchmark in one run on one machine, one ActiveMQ broker (STOMP+TLS, loopback).

    python -m benchmarks.run_all [--quick] [--only cpu,latency,burst,recovery,loss,shutdown,throughput,
                                                 estate_start,estate_relogon,estate_idle,storm,follow,
                                                 memory,slow_consumer,checkpoint]
                                 [--quiet-load 0.7 [--quiet-wait 1800]]

Writes benchmarks/results/latest.json, the plots benchmarks/results/*.png and the table in
docs/performance.md (benchmarks/report.py). Figures, not pass/fail: the exit code is 0 even
when a target is missed (the table says so).
"""
import argparse
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.support import paths  # noqa: E402

paths.setup_sys_path()

from benchmarks import (  # noqa: E402
    bench_checkpoint, bench_estate, bench_memory, bench_receiver_cpu, bench_source, report, report_estate,
    report_memory)
from tests.support.activemq import ActiveMQ  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")
ALL = ("cpu", "latency", "burst", "recovery", "loss", "shutdown", "throughput",
       "estate_start", "estate_relogon", "estate_idle", "storm", "follow", "memory", "slow_consumer", "checkpoint")
THROUGHPUT_SCRIPT = os.path.join(REPO, "benchmarks", "bench_rulebook_throughput.py")


def rulebook_throughput(events):
    """The source engineer's ansible-rulebook throughput bench, its last JSON line (or an error)."""
    if not os.path.exists(THROUGHPUT_SCRIPT):
        return {"error": "benchmarks/bench_rulebook_throughput.py is missing"}
    result = subprocess.run([sys.executable, THROUGHPUT_SCRIPT, "--events", str(events), "--runs", "1"],
                            capture_output=True, text=True, timeout=1800, check=False, cwd=REPO)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            figures = json.loads(line)
            print("  " + line, flush=True)
            return figures
    return {"error": "exit %d: %s" % (result.returncode, (result.stdout + result.stderr)[-1500:])}


def estate(selected, quick, results):
    """The estate benchmarks (1,000 partitions on hmcsim, through ansible-rulebook); one that
    fails is reported in the table, the others still run."""
    plan = (
        ("estate_start", "start with 1,000 channels", bench_estate.start, {"rounds": 1 if quick else 3}),
        ("estate_relogon", "re-logon with 1,000 channels", bench_estate.relogon, {}),
        ("estate_idle", "idle with 1,000 channels", bench_estate.idle, {"quiet_s": 20.0} if quick else {}),
        ("storm", "IPL storm in a 200 MB memory cgroup", bench_estate.storm,
         {"count": 50, "per": 20} if quick else {}),
        ("follow", "partition active or created -> channel subscribed", bench_estate.follow, {}),
    )
    for key, title, function, kwargs in plan:
        if key not in selected:
            continue
        print(title, flush=True)
        try:
            results[key] = function(paths.collections_path(), **kwargs)
        except Exception as exc:  # noqa: BLE001 - a figure that could not be measured says why
            results[key] = {"error": "%s: %s" % (type(exc).__name__, exc)}
            print("  failed: %s" % results[key]["error"], flush=True)


def memory_and_checkpoint(selected, quick, broker, results, quiet):
    """Issue 17's memory benchmarks and issue 15's checkpoint cost; each records the load
    average around it (and waits for a quiet machine first when asked)."""
    plan = (
        ("memory", "memory in a 200 MB cgroup: zhmc.eda vs eda.builtin.generic",
         lambda: bench_memory.memory(broker, paths.collections_path(),
                                     **({"count": 5000, "rounds": 1, "former_bound": False} if quick else {}))),
        ("slow_consumer", "slow consumer in ansible-rulebook's process",
         lambda: bench_memory.slow_consumer(broker, paths.collections_path(), count=10000 if quick else 50000)),
        ("checkpoint", "the source with and without checkpoint_file",
         lambda: bench_checkpoint.checkpoint(broker, **({"count": 4000, "full_speed_count": 4000, "rounds": 1,
                                                         "replay_count": 10000, "replay_pairs": 2,
                                                         "instruction_count": 1000}
                                                        if quick else {}))),
    )
    for key, title, function in plan:
        if key not in selected:
            continue
        print(title, flush=True)
        waited = quiet()
        load = [round(value, 2) for value in os.getloadavg()]
        try:
            results[key] = function()
        except Exception as exc:  # noqa: BLE001 - a figure that could not be measured says why
            results[key] = {"error": "%s: %s" % (type(exc).__name__, exc)}
            print("  failed: %s" % results[key]["error"], flush=True)
        results[key]["load_average"] = {"start": load, "end": [round(value, 2) for value in os.getloadavg()],
                                        "waited_for_quiet_s": waited}
        results[key]["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def quiet_machine(max_load, limit_s, step_s=60):
    """A function that waits (in steps of a minute, at most limit_s) until the 1-minute load
    average is below max_load, and returns the seconds it waited; None: do not wait."""
    def wait():
        if max_load is None:
            return 0
        waited = 0
        while os.getloadavg()[0] >= max_load and waited < limit_s:
            print("  load %.2f >= %.2f: waiting" % (os.getloadavg()[0], max_load), flush=True)
            time.sleep(step_s)
            waited += step_s
        return waited
    return wait


def _command_output(argv):
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        return (result.stdout + result.stderr).strip()
    except OSError:
        return ""


def machine():
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as handle:
            memory_gb = round(int(handle.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    import stomp

    zhmcclient_version = _command_output([bench_receiver_cpu.ZHMCCLIENT_PYTHON, "-c",
                                          "import zhmcclient; print(zhmcclient.__version__)"]) \
        if os.path.exists(bench_receiver_cpu.ZHMCCLIENT_PYTHON) else None
    activemq_version = _command_output(["dpkg-query", "-W", "-f=${Version}", "activemq"])
    try:
        rulebook_version = importlib.metadata.version("ansible-rulebook")
    except importlib.metadata.PackageNotFoundError:
        rulebook_version = None
    java = _command_output(["java", "-version"]).splitlines()
    return {
        "cpu": cpu_model, "cpus": os.cpu_count(), "memory_gb": memory_gb,
        "kernel": platform.release(), "python": platform.python_version(),
        "stomp_py": getattr(stomp, "__version__", None), "zhmcclient": zhmcclient_version,
        "activemq": activemq_version, "java": java[0] if java else None, "ansible_rulebook": rulebook_version,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer notifications and rounds (a smoke run)")
    parser.add_argument("--only", default=",".join(ALL))
    parser.add_argument("--output", default=os.path.join(RESULTS, "latest.json"))
    parser.add_argument("--quiet-load", type=float, default=None,
                        help="before the memory and checkpoint benchmarks, wait until the 1-minute load "
                             "average is below this")
    parser.add_argument("--quiet-wait", type=float, default=1800.0, help="the longest such wait, seconds")
    options = parser.parse_args(argv)
    selected = [item for item in options.only.split(",") if item]
    unknown = set(selected) - set(ALL)
    if unknown:
        parser.error("--only: unknown benchmark(s) %s; choose from %s" % (", ".join(sorted(unknown)), ", ".join(ALL)))
    os.makedirs(RESULTS, exist_ok=True)
    # the source's and stomp.py's logs (reconnects are expected here) go to a file, not the console
    log_file = os.path.join(tempfile.gettempdir(), "zeda-bench-%d.log" % os.getpid())
    logging.basicConfig(filename=log_file, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print("logs: %s" % log_file, flush=True)
    quick = options.quick
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": quick,
               "machine": machine()}
    broker = ActiveMQ(tempfile.mkdtemp(prefix="zeda-bench-amq-", dir="/tmp"))
    broker.ensure_installed()
    broker.start()
    print("ActiveMQ on 127.0.0.1:%d (STOMP+TLS)" % broker.stomp_ssl_port, flush=True)
    try:
        if "cpu" in selected:
            print("receiver CPU per notification (broker with TCP_NODELAY)", flush=True)
            cpu_args = dict(count=5000 if quick else 20000, rounds=1 if quick else 5)
            results["cpu"] = bench_receiver_cpu.run(broker, paths.collections_path(), **cpu_args)
            results["cpu"]["broker_transport"] = "tcpNoDelay=true"
            # ActiveMQ's stock transport (Nagle on) packs several MESSAGE frames per packet; a
            # receiver's per-wake-up costs weigh differently there, so measure it too
            print("receiver CPU per notification (stock ActiveMQ transport, Nagle on)", flush=True)
            stock = ActiveMQ(tempfile.mkdtemp(prefix="zeda-bench-amq-stock-", dir="/tmp"), tcp_no_delay=False)
            stock.start()
            try:
                results["cpu_stock_transport"] = bench_receiver_cpu.run(stock, paths.collections_path(), **cpu_args)
                results["cpu_stock_transport"]["broker_transport"] = "ActiveMQ default (Nagle on)"
            finally:
                stock.stop()
        if "latency" in selected:
            print("source -> queue latency", flush=True)
            results["latency"] = bench_source.latency(broker, seconds=2.0 if quick else 8.0)
        if "burst" in selected:
            print("burst into a slow consumer", flush=True)
            results["burst"] = bench_source.burst(broker, count=10000 if quick else 50000)
        if "recovery" in selected:
            print("time to first event after the broker is back", flush=True)
            results["recovery"] = bench_source.recovery(broker, repeats=1 if quick else 3)
        if "loss" in selected:
            print("silent loss detection (broker frozen), default config", flush=True)
            results["loss"] = bench_source.loss_detection(broker, repeats=1 if quick else 3)
        if "shutdown" in selected:
            print("shutdown on cancel", flush=True)
            results["shutdown"] = bench_source.shutdown(broker, repeats=1 if quick else 3)
        if "throughput" in selected:
            print("events/s through ansible-rulebook vs eda.builtin.generic", flush=True)
            results["throughput"] = rulebook_throughput(5000 if quick else 20000)
        estate(selected, quick, results)
        memory_and_checkpoint(selected, quick, broker, results,
                              quiet_machine(options.quiet_load, options.quiet_wait))
    finally:
        broker.stop()
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    if os.path.exists(options.output) and set(selected) != set(ALL):
        # a partial run keeps the other figures of the last full run
        with open(options.output) as handle:
            previous = json.load(handle)
        carried = {}
        for key in ALL + ("cpu_stock_transport",):
            if key not in results and key in previous:
                results[key] = previous[key]
                carried[key] = (previous.get("carried_over") or {}).get(key) or previous.get("started")
        if carried:
            results["carried_over"] = carried   # benchmark -> start of the run that measured it
    samples = report.split_samples(results)
    report_estate.split_series(results, RESULTS)
    report_memory.split_series(results, RESULTS)
    with open(options.output, "w") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
        handle.write("\n")
    report.write_all(results, samples, RESULTS, os.path.join(REPO, "docs", "performance.md"))
    print("wrote %s, plots in %s, docs/performance.md" % (options.output, RESULTS), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
