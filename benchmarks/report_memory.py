"""The memory and checkpoint figures (benchmarks/bench_memory.py, bench_checkpoint.py) in
docs/performance.md: table rows, plots, how each is measured and notes. Called by
benchmarks/report.py."""
try:
    from benchmarks import report_estate
except ImportError:  # run as a script from benchmarks/
    import report_estate

KEYS = ("memory", "slow_consumer", "checkpoint")
SERIES_FILE = "memory_series.json"
PLOTS = {
    "memory": ("memory.png", "Memory in a 200 MB cgroup"),
    "slow_consumer": (None, "Slow consumer in ansible-rulebook"),
    "checkpoint": ("checkpoint.png", "With and without checkpoint_file"),
}


def _mark(ok):
    return "met" if ok else "**missed**"


def _range(values, fmt="%.0f"):
    return ("%s-%s" % (fmt % values[0], fmt % values[1])) if values else "-"


# ------------------------------------------------------------------ table rows
def rows(results):
    out = ["| %s | | not measured: %s | |" % (PLOTS[key][1], results[key]["error"].replace("|", "/")[:300])
           for key in KEYS if "error" in (results.get(key) or {})]
    memory = results.get("memory")
    if memory and (memory.get("median") or {}).get("zhmc", {}).get("runs"):
        ours, generic = memory["median"]["zhmc"], memory["median"]["generic"]
        over = memory["median"].get("over_generic_mb")
        ok = (ours["lost"] == 0 and not ours["oom_kills"] and over is not None
              and over <= memory["target_over_generic_mb"])
        out.append(
            "| memory: %s notifications of %.1f KB at full speed, a debug action per event, the whole "
            "ansible-rulebook process tree in a %d MB memory cgroup (medians of %d rounds) | 0 lost, no OOM kill, "
            "peak within %.0f MB of `eda.builtin.generic` emitting as many events of the same size | zhmc.eda: "
            "%d lost, %d duplicated, %d OOM kills, peak %.0f MB (anonymous %.0f MB), all at the rules engine after "
            "%.0f s; `eda.builtin.generic`: peak %.0f MB (anonymous %.0f MB), %d OOM kills; +%.1f MB | %s |" % (
                "{:,}".format(memory["count"]), memory["frame_bytes"] / 1024.0, memory["limit_mb"], ours["runs"],
                memory["target_over_generic_mb"], ours["lost"], ours["duplicated"], ours["oom_kills"],
                ours["peak_mb"], ours["peak_anon_mb"], ours["all_at_engine_s"] or 0, generic["peak_mb"],
                generic["peak_anon_mb"], generic["oom_kills"] or 0, over, _mark(ok)))
    slow = results.get("slow_consumer")
    if slow and "error" not in slow:
        ok = slow["lost"] == 0 and slow["duplicated"] == 0 and slow["peak_rss_mb"] <= 200
        out.append("| slow consumer in ansible-rulebook's process (tests/reliability/test_slow_consumer.py's scenario: "
                   "%s at full speed, %s) | 0 lost, RSS <= 200 MB | %d lost, %d duplicated, peak RSS %.0f MB "
                   "(%.0f MB when connected), all through in %.1f s | %s |" % (
                       "{:,}".format(slow["expected"]), slow["slow_consumer"], slow["lost"], slow["duplicated"],
                       slow["peak_rss_mb"], slow["rss_at_ready_mb"], slow["seconds"], _mark(ok)))
    check = results.get("checkpoint")
    if check and check.get("median"):
        out.append("| `checkpoint_file`: the source with vs without (%d rounds each, medians) | < %.0f%% lower "
                   "throughput, <= %.0f%% more CPU per event | %s | %s |" % (
                       check["rounds"], check["target"] * 100, check["target"] * 100, _checkpoint_cell(check),
                       _mark(check.get("met"))))
    return out


def _checkpoint_cell(check):
    parts = []
    for mode, label in (("offered", "at %d/s offered" % check["offered_rate"]), ("full_speed", "at full speed")):
        entry = check["median"].get(mode)
        if not entry:
            continue
        on, off = entry["on"], entry["off"]
        share = entry.get("checkpoint_cpu_share")
        parts.append("%s: %.0f/s with, %.0f/s without (%.3fx); CPU %.0f vs %.0f us per event (%.3fx)%s; %d lost, "
                     "%d duplicated" % (label, on["rate_per_s"], off["rate_per_s"], entry.get("throughput_ratio", 0),
                                        on["cpu_us_per_event"], off["cpu_us_per_event"], entry.get("cpu_ratio", 0),
                                        ", the checkpoint's share %.1f%%" % (share * 100) if share is not None else "",
                                        on["lost"] + off["lost"], on["duplicated"] + off["duplicated"]))
    path = check.get("data_path") or {}
    if path:
        parts.append("the data path without a broker, %d pairs: +%.1f us per event (%.1f vs %.1f us, %.3fx)" % (
            path["pairs"], path["cost_us_per_event"], path["on_cpu_us_per_event"], path["off_cpu_us_per_event"],
            path["ratio"]))
    counted = check.get("instructions")
    if counted:
        parts.append("its user-space instructions per event: +%s (%.3fx)" % (
            "{:,}".format(counted["added_per_event"]), counted["ratio"]))
    return "; ".join(parts)


# ------------------------------------------------------------------ series and plots
def split_series(results, directory):
    report_estate.split_series(results, directory, keys=KEYS, filename=SERIES_FILE)


def plot_all(results, directory):
    results = report_estate.with_series(results, directory, keys=KEYS, filename=SERIES_FILE)
    made = []
    if (results.get("memory") or {}).get("rounds"):
        _plot_memory(results["memory"], "%s/%s" % (directory, PLOTS["memory"][0]))
        made.append("memory")
    if (results.get("checkpoint") or {}).get("median"):
        _plot_checkpoint(results["checkpoint"], "%s/%s" % (directory, PLOTS["checkpoint"][0]))
        made.append("checkpoint")
    return made


def images(results):
    return ["![%s](../benchmarks/results/%s)" % (PLOTS[key][1], PLOTS[key][0]) for key in KEYS
            if PLOTS[key][0] and (results.get(key) or {}).get("median")]


def _plot_memory(memory, path):
    plt = report_estate.pyplot()
    figure, (usage, engine) = plt.subplots(1, 2, figsize=(11, 4.4))
    styles = {"zhmc": ("#1f77b4", "zhmc.eda (x: since the publisher started)"),
              "generic": ("#ff7f0e", "eda.builtin.generic (x: since ansible-rulebook started)")}
    for number, entry in enumerate(memory["rounds"]):
        for who, (color, label) in styles.items():
            data = entry.get(who) or {}
            if data.get("memory"):
                usage.plot([s[0] for s in data["memory"]], [s[1] for s in data["memory"]], color=color,
                           alpha=0.9 if number == 0 else 0.45, label=label if number == 0 else None)
            if data.get("progress"):
                engine.plot(*zip(*data["progress"], strict=True), color=color, alpha=0.9 if number == 0 else 0.45,
                            label=label if number == 0 else None)
    former = memory.get("former_bound") or {}
    if former.get("memory"):
        usage.plot([s[0] for s in former["memory"]], [s[1] for s in former["memory"]], color="#9467bd",
                   linestyle=":", label="zhmc.eda holding as much as the former default (peak %.0f MB)"
                   % former["peak_mb"])
    generic_peak = memory["median"]["generic"]["peak_mb"]
    usage.axhline(memory["limit_mb"], color="red", linestyle="--", linewidth=1, label="cgroup limit")
    if generic_peak:
        usage.axhline(generic_peak + memory["target_over_generic_mb"], color="grey", linestyle="--", linewidth=1,
                      label="target: generic's peak + %.0f MB" % memory["target_over_generic_mb"])
    usage.set_ylim(0, memory["limit_mb"] * 1.1)
    usage.set_xlabel("seconds")
    usage.set_ylabel("memory of the cgroup, MB")
    usage.legend(fontsize=6.5, loc="lower right")
    engine.set_xlabel("seconds")
    engine.set_ylabel("events handled by the rules engine")
    engine.legend(fontsize=7, loc="lower right")
    figure.suptitle("%s notifications of %.1f KB at full speed, a debug action per event, in a %d MB cgroup "
                    "(%d rounds)" % ("{:,}".format(memory["count"]), memory["frame_bytes"] / 1024.0,
                                     memory["limit_mb"], len(memory["rounds"])), fontsize=10)
    report_estate.save(plt, figure, path)


def _plot_checkpoint(check, path):
    plt = report_estate.pyplot()
    figure, axis = plt.subplots(figsize=(8.5, 4.6))
    groups = []
    for mode, label in (("offered", "end to end,\n%d/s offered" % check["offered_rate"]),
                        ("full_speed", "end to end,\nfull speed")):
        entry = check["median"].get(mode)
        if entry:
            groups.append((label, [(entry[name]["cpu_us_per_event"], entry[name]["cpu_us_per_event_range"])
                                   for name in ("off", "on")], entry.get("cpu_ratio")))
    path_figures = check.get("data_path") or {}
    if path_figures:
        groups.append(("data path without a broker,\n%d pairs" % path_figures["pairs"],
                       [(path_figures["off_cpu_us_per_event"], path_figures["off_range"]),
                        (path_figures["on_cpu_us_per_event"], path_figures["on_range"])], path_figures["ratio"]))
    for index, (_label, bars, ratio) in enumerate(groups):
        for offset, (value, spread), color, name in zip((-0.2, 0.2), bars, ("#9ecae1", "#1f77b4"),
                                                        ("without checkpoint_file", "with checkpoint_file"), strict=True):
            axis.bar(index + offset, value, 0.38, color=color, label=name if index == 0 else None,
                     yerr=[[value - spread[0]], [spread[1] - value]] if spread else None, capsize=3)
        top = max(spread[1] if spread else value for value, spread in bars)
        axis.annotate("%.3fx" % ratio if ratio else "", (index, top), ha="center", va="bottom", fontsize=8,
                      xytext=(0, 4), textcoords="offset points")
    axis.set_ylim(0, max(spread[1] if spread else value for _l, bars, _r in groups for value, spread in bars) * 1.15)
    axis.set_xticks(range(len(groups)))
    axis.set_xticklabels([label for label, _b, _r in groups], fontsize=8)
    axis.set_ylabel("CPU per event, us (medians; bars: min-max)")
    axis.set_title("The source with and without checkpoint_file (the ratio on top)", fontsize=10)
    axis.legend(fontsize=7, loc="upper right")
    report_estate.save(plt, figure, path)


# ------------------------------------------------------------------ text
HOW = [
    "- **Memory** (issue 17; `benchmarks/bench_memory.py`): ansible-rulebook (`-v`, the 1.3 line as in "
    "tests/requirements.txt, the collection installed from its tarball) runs the source topics-only on ActiveMQ "
    "over STOMP+TLS with one rule whose `debug` action prints every event; the whole process tree, the rules "
    "engine's JVM included, runs in a cgroup v1 memory group limited "
    "to 200 MB (`memory.limit_in_bytes` and `memory.memsw.limit_in_bytes`, as podman --memory does for an EDA "
    "controller activation; benchmarks/estate_support.py). Once the source is connected a publisher process sends "
    "the notifications at full speed (the broker's topic policy blocks the producer instead of discarding). "
    "`eda.builtin.generic` emits as many copies of the event the source makes of that notification (with an "
    "index) through the same rule in the same limit. Rounds interleave the two, after a short run of each that is "
    "not counted (the first ansible-rulebook to import a freshly installed collection writes its .pyc files, page "
    "cache the cgroup is charged for). Lost and duplicated: from the numbers the rule prints; OOM kills: "
    "`memory.oom_control`; peak: `memory.max_usage_in_bytes` (page cache included), anonymous: `memory.stat` rss "
    "sampled every 0.25 s. One more run holds as much as the former default of `max_pending_bytes` did.",
    "- **Slow consumer in ansible-rulebook**: the reliability suite's slow-consumer scenario with the source in an "
    "ansible-rulebook process instead of pytest's: the pause (10 ms after every 50 events) is a benchmark-only "
    "event filter (benchmarks/filters/slow_consumer.py) in the source's put, the rule matches nothing; the peak RSS "
    "of the process tree is sampled from /proc every 0.1 s. No cgroup.",
    "- **Checkpoint** (issue 15; `benchmarks/bench_checkpoint.py`): end to end, the source alone in a fresh process "
    "(benchmarks/source_worker.py burst, a consumer that never pauses) receives OS-message notifications of one "
    "partition over STOMP+TLS, at 2,000/s and at full speed; rate at the queue (first to last event) and the "
    "process's CPU per event; rounds interleave with and without `checkpoint_file`, medians. The data path: "
    "benchmarks/replay_worker.py runs the source after its receiver (shaping, dedupe, emitter, checkpoint) on "
    "prepared notifications without a broker, pairs of runs with and without one after the other; the "
    "checkpoint's cost per event is the median of the pairs' differences, and its share is that cost over the "
    "end-to-end CPU per event without a checkpoint (the end-to-end rounds vary by more than 5% on this shared "
    "machine). The same data path under valgrind's callgrind counts user-space instructions per event with and "
    "without (runs of 5,000 and 15,000 events, so that the start-up cancels out): a figure other work on the "
    "machine cannot change. The pairs can also be timed as whole processes with "
    "`/usr/bin/time -v python -m benchmarks.replay_worker [--checkpoint-file F]`.",
]


def notes(results):
    out = []
    loads = ["%s %s (waited %d s for it to drop below the threshold)" % (
        key.replace("_", " "), results[key]["load_average"]["start"][0],
        results[key]["load_average"]["waited_for_quiet_s"] or 0)
        for key in KEYS if (results.get(key) or {}).get("load_average")]
    if loads:
        out.append("Load average (1 minute) when each of the memory and checkpoint benchmarks started: %s; "
                   "measured at %s." % ("; ".join(loads), ", ".join(
                       "%s %s" % (key.replace("_", " "), results[key].get("measured_at")) for key in KEYS
                       if (results.get(key) or {}).get("measured_at"))))
    memory = results.get("memory")
    if memory and (memory.get("median") or {}).get("zhmc", {}).get("runs"):
        ours = memory["median"]["zhmc"]
        former = memory.get("former_bound") or {}
        text = ("Memory: the source's peak over `eda.builtin.generic`'s was %.1f MB. What the source adds: its "
                "libraries and code (stomp.py, requests, zhmc.eda's module_utils: about 10 MB once imported, "
                "measured with tracemalloc and /proc in a Python that had imported ansible-rulebook), the "
                "receiver's thread, and what it holds while the rules engine is behind: at most "
                "`max_pending_bytes` (4 MiB; each notification counts as its size as received plus 1.6 KB for its "
                "headers as Python objects: a 2 KB notification takes 3.7 KB while held) and the batch of up to "
                "500 taken for delivery. The rules engine took %.0f events/s, so the publisher was pushed back "
                "(back-pressure, nothing dropped) and the broker held the rest." % (
                    memory["median"]["over_generic_mb"], ours.get("engine_rate_per_s") or 0))
        if former.get("peak_mb"):
            text += (" The bottleneck was what the source held: with the former default (8 MiB counted as received: "
                     "%s of these notifications, about 15 MB as Python objects) its peak was %.0f MB (anonymous "
                     "%.0f MB) in this run; on 2026-12-02, before the change, 23.5 and 31.6 MB over generic's (1 round "
                     "each, the machine loaded)." % ("{:,}".format(8 * 2**20 // memory["frame_bytes"]),
                                                     former["peak_mb"], former.get("peak_anon_mb") or 0))
        out.append(text)
    slow = results.get("slow_consumer")
    if slow and "error" not in slow:
        burst = results.get("burst") or {}
        text = ("Slow consumer: the RSS of the ansible-rulebook process tree (its rules engine's JVM and the "
                "source) grew %.0f MB from the connection to the peak while the events went through; what the "
                "source holds while the consumer pauses is bounded by `max_pending_bytes` (back-pressure on the "
                "broker: %s)." % (slow["rss_growth_mb"], "yes" if slow.get("backpressure") else "no"))
        if burst.get("peak_rss_mb"):
            text += (" The source alone in a process (the burst row) peaked at %.0f MB (%.0f MB when connected)."
                     % (burst["peak_rss_mb"], burst.get("rss_at_ready_mb") or 0))
        out.append(text)
    check = results.get("checkpoint")
    if check and check.get("median"):
        out.append(_checkpoint_note(check))
    return out


def _checkpoint_note(check):
    path = check.get("data_path") or {}
    counted = check.get("instructions") or {}
    full = check["median"].get("full_speed") or {}
    text = ("Checkpoint: recording an OS message costs a journal line written with one `write` right after "
            "ansible-rulebook took the event, and a snapshot with fsync every 5,000 lines.")
    if path:
        text += " On the data path that came to %.1f us per event (paired runs)" % path["cost_us_per_event"]
        if counted:
            text += ", %s user-space instructions (callgrind: %.3fx the data path without)" % (
                "{:,}".format(counted["added_per_event"]), counted["ratio"])
        text += "."
    text += (" The bottleneck was the recording itself: as first written it added 76,500 instructions per event "
             "(callgrind, 2026-12-02), of which comparing each new fingerprint with the object's last 64 took a "
             "quarter, hashing the message a second time (the dedupe had just done it) a tenth, and json.dumps "
             "building an encoder for every line much of the rest; those three changes took it to about a third. "
             "What remains is mostly the `write` per event (a system call, which callgrind does not count) and the "
             "snapshot's fsync, about 8 ms each on this machine (measured alone), during which the loop waits: "
             "about 1.6 us per event. The write per event is the price of never emitting an OS message twice "
             "after a SIGKILL: the line must be in the page cache before the source lets the rules engine run "
             "again, which it does at every event (ansible-rulebook's queue holds one), so writes cannot be "
             "batched; the fsync keeps a snapshot whole across a machine crash.")
    on, off = full.get("on") or {}, full.get("off") or {}
    if on.get("rate_per_s_range") and off.get("rate_per_s_range"):
        text += (" At full speed the throughput with a checkpoint was %.3fx, within the rounds' spread (with: %s/s, "
                 "without: %s/s), and the end-to-end CPU per event without one ranged %s us: on this shared "
                 "machine a spread larger than the 5%% the target is about, hence the paired figure for the "
                 "checkpoint's share (%.1f%% at full speed, %.1f%% at 2,000/s)." % (
                     full.get("throughput_ratio", 0), _range(on["rate_per_s_range"]),
                     _range(off["rate_per_s_range"]), _range(off["cpu_us_per_event_range"]),
                     (full.get("checkpoint_cpu_share") or 0) * 100,
                     ((check["median"].get("offered") or {}).get("checkpoint_cpu_share") or 0) * 100))
    text += (" At 2,000/s the CPU per event is higher than at full speed with and without (the broker delivers one "
             "notification at a time, so each costs a read, a wake-up and a hand-over of its own).")
    return text
