"""The estate figures (benchmarks/bench_estate.py) in docs/performance.md: table rows, plots,
how each is measured and notes. Called by benchmarks/report.py."""
import copy
import json
import os

KEYS = ("estate_start", "estate_relogon", "estate_idle", "storm", "follow")
# Time series for the plots (memory over time, events over time, latency samples) are kept in
# a file of their own, one line, so that latest.json stays a page of figures.
SERIES_FILE = "estate_series.json"
SERIES_KEYS = ("memory", "progress", "samples_s")
PLOTS = {
    "estate_start": ("estate_start.png", "Start with 1,000 channels"),
    "estate_relogon": ("estate_relogon.png", "Re-logon with 1,000 channels"),
    "estate_idle": ("estate_idle.png", "Idle with 1,000 watched partitions"),
    "storm": ("storm.png", "IPL storm"),
    "follow": ("follow_latency.png", "Partition active or created -> channel subscribed"),
}


def _mark(ok):
    return "met" if ok else "**missed**"


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ------------------------------------------------------------------ table rows
def rows(results):
    out = ["| %s | | not measured: %s | |" % (PLOTS[key][1], results[key]["error"].replace("|", "/")[:300])
           for key in KEYS if "error" in (results.get(key) or {})]
    start = results.get("estate_start")
    if start and start.get("median"):
        m = start["median"]
        delay_ms = int(start["remote_delay_s"] * 1000)

        def cell(key):
            return "%.1f s (source %.1f s)" % (m[key]["total_s"], m[key]["source_s"]) if key in m else "-"

        ok = "8@0ms" in m and m["8@0ms"]["total_s"] <= start["target_s"]
        sweep = ", ".join("%s: %.1f s" % (key.split("@")[0], value["source_s"]) for key, value in
                          sorted(m.items(), key=lambda item: int(item[0].split("@")[0]))
                          if key.endswith("@%dms" % delay_ms))
        out.append("| start: ansible-rulebook started until all %d channels are subscribed (medians) | <= %.0f s | "
                   "hmcsim: 1 call at a time %s, 8 at a time %s; +%d ms per call: 1 at a time %s, 8 at a time %s "
                   "(the source's part by parallel_hmc_calls: %s) | %s |" % (
                       start["objects"], start["target_s"], cell("1@0ms"), cell("8@0ms"), delay_ms,
                       cell("1@%dms" % delay_ms), cell("8@%dms" % delay_ms), sweep, _mark(ok)))
    relogon = results.get("estate_relogon")
    if relogon and relogon.get("median"):
        src, eng = relogon["median"].get("source", {}), relogon["median"].get("engine", {})
        ok = src.get("backfill_done_s") is not None and src["backfill_done_s"] <= relogon["target_s"]
        out.append("| re-logon with %d channels: session expired until all re-opened, subscribed and backfilled "
                   "(medians) | <= %.0f s | re-opened %.1f s, subscribed %.1f s, backfill done %.1f s; with a debug "
                   "action per OS message every missed message at the rules engine after %.1f s; %d lost, "
                   "%d duplicated | %s |" % (
                       relogon["objects"], relogon["target_s"], src.get("reopened_s", 0), src.get("resubscribed_s", 0),
                       src.get("backfill_done_s", 0), eng.get("all_missed_at_engine_s", 0), relogon["lost"],
                       relogon["duplicated"], _mark(ok)))
    idle = results.get("estate_idle")
    if idle and idle.get("runs"):
        runs = idle["runs"]
        full = runs["all"]
        memory = idle.get("source_memory") or {}
        ok = full["cpu_percent_with_default_resync"] < idle["target_cpu_percent"]
        out.append("| idle: CPU of the ansible-rulebook process tree, %d watched partitions, no traffic (medians) | "
                   "< %.0f%% of a core | %.2f%% (1 channel: %.2f%%; ansible-rulebook with a source that does nothing: "
                   "%.2f%%); a resync of %d: %.2f CPU-s; RSS %.0f MB (1 channel: %.0f MB); the source alone: %.1f KB of "
                   "Python objects and %.1f KB of RSS per watched partition | %s |" % (
                       full["channels"], idle["target_cpu_percent"], full["idle_cpu_percent"],
                       runs["one"]["idle_cpu_percent"], runs["generic_idle"]["idle_cpu_percent"], full["channels"],
                       full["resync_cpu_s"], full["rss_mb"], runs["one"]["rss_mb"],
                       memory.get("heap_kb_per_partition", 0), memory.get("rss_kb_per_partition", 0), _mark(ok)))
    storm = results.get("storm")
    if storm and storm.get("zhmc"):
        ours, replay, generic = storm["zhmc"], storm.get("replay") or {}, storm.get("generic") or {}
        rate, own, gen = ours.get("engine_rate_per_s", 0), replay.get("engine_rate_per_s"), generic.get("engine_rate_per_s")
        ok = (ours["lost"] == 0 and ours["duplicated"] == 0 and not ours.get("oom_kills")
              and ours["peak_mb"] <= storm["limit_mb"] and (gen is None or rate >= 0.9 * gen))
        rates = "the rules engine took them at %.0f events/s" % rate
        if gen:
            rates += " (%.2fx `eda.builtin.generic` with the same events: %.0f/s, peak %.0f MB)" % (
                rate / gen, gen, generic["peak_mb"])
        if own:
            rates += "; the same events replayed from a file: %.0f/s (peak %.0f MB), ours %.2fx that, %.2fx after the " \
                     "last message was published" % (own, replay["peak_mb"], rate / own,
                                                     (ours.get("drain_after_published_per_s") or rate) / own)
        out.append("| IPL storm: %d partitions active at once, %d messages each within %.0f s, a debug action per "
                   "message, the whole process tree in a %d MB memory cgroup | 0 lost, 0 duplicated, no OOM kill; "
                   "drained at the rules engine's own rate (>= 0.9x `eda.builtin.generic`) | %d lost, %d duplicated, "
                   "peak %.0f MB, %s OOM kill(s); all %d at the rules engine %.0f s after the IPL; %s | %s |" % (
                       storm["activated"], storm["messages_each"], storm["within_s"], storm["limit_mb"],
                       ours["lost"], ours["duplicated"], ours["peak_mb"], ours.get("oom_kills"), ours["expected"],
                       ours.get("all_at_engine_s", 0), rates, _mark(ok)))
    follow = results.get("follow")
    if follow:
        parts, worst = [], 0.0
        for delay_key in sorted(k for k in follow if k.endswith("ms")):
            series = follow[delay_key]
            parts.append("%s: one after another p50 %.2f / p99 %.2f s, created p50 %.2f / p99 %.2f s, %d at "
                         "the same moment p50 %.2f / p99 %.2f s" % (
                             "+%s per call" % delay_key if delay_key != "0ms" else "hmcsim as it is",
                             series["activated_one_after_another"]["p50_s"],
                             series["activated_one_after_another"]["p99_s"],
                             series["created_one_after_another"]["p50_s"], series["created_one_after_another"]["p99_s"],
                             follow["count"], series["activated_at_once"]["p50_s"],
                             series["activated_at_once"]["p99_s"]))
            worst = max([worst] + [f["p99_s"] for f in series.values()])
        out.append("| partition active (status-change) or created (inventory-change add) until its channel is "
                   "subscribed, %d partitions | p99 <= %.0f s | %s | %s |" % (
                       follow["count"], follow["target_p99_s"], "; ".join(parts), _mark(worst <= follow["target_p99_s"])))
    return out


# ------------------------------------------------------------------ series
def split_series(results, directory, keys=KEYS, filename=SERIES_FILE):
    """Move the time series of `keys` out of `results` into directory/filename (kept for
    re-rendering: a partial run keeps the series of the benchmarks it did not run)."""
    path = os.path.join(directory, filename)
    series = _load(path)
    for key in keys:
        if key in results and "error" not in results[key]:
            extracted = _extract(results[key])
            if extracted:  # nothing to move: the series of an earlier run stay
                series[key] = extracted
    with open(path, "w") as handle:
        json.dump(series, handle, separators=(",", ":"))
        handle.write("\n")


def _extract(node):
    """Remove SERIES_KEYS from a nested dict; return what was removed, in the same shape."""
    out = {}
    if isinstance(node, dict):
        for name in list(node):
            if name in SERIES_KEYS:
                out[name] = node.pop(name)
            elif isinstance(node[name], (dict, list)):
                inner = _extract(node[name])
                if inner:
                    out[name] = inner
    elif isinstance(node, list):
        inner = {str(i): _extract(item) for i, item in enumerate(node) if isinstance(item, (dict, list))}
        return {k: v for k, v in inner.items() if v}
    return out


def _merge(node, series):
    for name, value in series.items():
        if isinstance(node, list):
            _merge(node[int(name)], value)
        elif name in SERIES_KEYS:
            node[name] = value
        elif name in node:
            _merge(node[name], value)


def _load(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def with_series(results, directory, keys=KEYS, filename=SERIES_FILE):
    """A copy of `results` with the time series of `keys` put back from directory/filename."""
    results = copy.deepcopy(results)
    series = _load(os.path.join(directory, filename))
    for key in keys:
        if key in results and key in series:
            _merge(results[key], series[key])
    return results


# ------------------------------------------------------------------ plots
def plot_all(results, directory):
    results = with_series(results, directory)
    made = []
    for key, function in (("estate_start", _plot_start), ("estate_relogon", _plot_relogon),
                          ("estate_idle", _plot_idle), ("storm", _plot_storm), ("follow", _plot_follow)):
        data = results.get(key)
        if data and "error" not in data:
            function(data, os.path.join(directory, PLOTS[key][0]))
            made.append(key)
    return made


def _plot_start(start, path):
    plt = pyplot()
    figure, (axis, curve) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    delay_ms = int(start["remote_delay_s"] * 1000)
    groups = [("hmcsim as it is", 0), ("+%d ms per WS API call" % delay_ms, delay_ms)]
    labels, xs = [], []
    for group_index, (group, delay) in enumerate(groups):
        for offset, limit in ((-0.2, 1), (0.2, 8)):
            figures = start["median"].get("%d@%dms" % (limit, delay))
            if not figures:
                continue
            x = group_index + offset
            rulebook = figures["total_s"] - figures["source_s"]
            axis.bar(x, rulebook, 0.36, color="#bbbbbb", label="ansible-rulebook start until the logon"
                     if not labels else None)
            axis.bar(x, figures["source_s"], 0.36, bottom=rulebook, color="#1f77b4" if limit == 8 else "#9ecae1",
                     label=("source: logon until all subscribed, %d call%s at a time" % (limit, "s" if limit > 1 else ""))
                     if (limit, "src") not in labels else None)
            labels.append((limit, "src"))
            axis.annotate("%.1f s" % figures["total_s"], (x, figures["total_s"]), ha="center", va="bottom",
                          fontsize=8, xytext=(0, 2), textcoords="offset points")
            xs.append(x)
    axis.axhline(start["target_s"], color="red", linestyle="--", linewidth=1,
                 label="target %.0f s" % start["target_s"])
    axis.set_xticks(range(len(groups)))
    axis.set_xticklabels([g for g, _d in groups])
    axis.set_ylabel("seconds from starting ansible-rulebook (median)")
    axis.set_title("Start with %d OS message channels (10 CPCs x 100), parallel_hmc_calls 1 vs 8" % start["objects"],
                   fontsize=10)
    axis.legend(fontsize=7, loc="upper left")
    points = sorted((int(key.split("@")[0]), value["source_s"]) for key, value in start["median"].items()
                    if key.endswith("@%dms" % delay_ms))
    if points:
        limits = [p for p, _s in points]
        curve.plot(limits, [s for _p, s in points], marker="o", color="#1f77b4", label="measured: logon until all subscribed")
        curve.plot(limits, [start["objects"] * delay_ms / 1000.0 / p for p in limits], linestyle=":", color="grey",
                   label="%d x %d ms / calls at a time" % (start["objects"], delay_ms))
        curve.set_xscale("log", base=2)
        curve.set_xticks(limits)
        curve.set_xticklabels([str(p) for p in limits])
        curve.set_xlabel("parallel_hmc_calls")
        curve.set_ylabel("seconds")
        curve.set_title("+%d ms per call: the source's part" % delay_ms, fontsize=10)
        curve.legend(fontsize=7)
    save(plt, figure, path)


def _plot_relogon(relogon, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 3.6))
    steps = (("detected_and_logged_on_s", "session expired -> noticed, logged on again", "#bbbbbb"),
             ("reopened_s", "1,000 channels opened again", "#9ecae1"),
             ("resubscribed_s", "subscribed on a new connection", "#6baed6"),
             ("backfill_done_s", "backfill done (List OS Messages x 1,000)", "#1f77b4"),
             ("all_missed_at_engine_s", "every missed message at the rules engine", "#ff7f0e"))
    rows = [("no rule acting on\nOS messages", relogon["median"].get("source", {})),
            ("a debug action per\nOS message", relogon["median"].get("engine", {}))]
    for index, (_label, figures) in enumerate(rows):
        before = 0.0
        for key, text, color in steps:
            if figures.get(key) is None:
                continue
            axis.barh(index, figures[key] - before, left=before, color=color, height=0.5,
                      label=text if index == 1 or key != "all_missed_at_engine_s" and index == 0 else None)
            before = figures[key]
        axis.annotate("%.1f s" % before, (before, index), va="center", fontsize=8, xytext=(3, 0),
                      textcoords="offset points")
    axis.axvline(relogon["target_s"], color="red", linestyle="--", linewidth=1, label="target %.0f s" % relogon["target_s"])
    axis.set_yticks(range(len(rows)))
    axis.set_yticklabels([label for label, _f in rows], fontsize=8)
    axis.set_xlabel("seconds after the HMC expired the session (medians)")
    axis.set_title("Re-logon with %d channels" % relogon["objects"], fontsize=10)
    handles, labels = axis.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    axis.legend(unique.values(), unique.keys(), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2,
                frameon=False)
    save(plt, figure, path)


def _plot_idle(idle, path):
    plt = pyplot()
    runs = idle["runs"]
    figure, (cpu, memory) = plt.subplots(1, 2, figsize=(9, 3.8))
    names = ["ansible-rulebook,\nidle source", "zhmc.eda,\n1 channel", "zhmc.eda,\n%d channels" % runs["all"]["channels"]]
    values = [runs["generic_idle"], runs["one"], runs["all"]]
    cpu.bar(range(3), [v["idle_cpu_percent"] for v in values], color=["#bbbbbb", "#9ecae1", "#1f77b4"])
    cpu.axhline(idle["target_cpu_percent"], color="red", linestyle="--", linewidth=1, label="target")
    for index, value in enumerate(values):
        cpu.annotate("%.2f%%" % value["idle_cpu_percent"], (index, value["idle_cpu_percent"]), ha="center",
                     va="bottom", fontsize=8)
    cpu.set_xticks(range(3))
    cpu.set_xticklabels(names, fontsize=7)
    cpu.set_ylabel("CPU, % of one core (process tree)")
    cpu.legend(fontsize=7)
    memory.bar(range(3), [v["rss_mb"] for v in values], color=["#bbbbbb", "#9ecae1", "#1f77b4"])
    for index, value in enumerate(values):
        memory.annotate("%.0f MB" % value["rss_mb"], (index, value["rss_mb"]), ha="center", va="bottom", fontsize=8)
    memory.set_xticks(range(3))
    memory.set_xticklabels(names, fontsize=7)
    memory.set_ylabel("RSS, MB (process tree)")
    per = (idle.get("source_memory") or {}).get("rss_kb_per_partition", idle["kb_per_partition"])
    figure.suptitle("Idle, no traffic (the source: about %.1f KB of RSS per watched partition)" % per, fontsize=10)
    save(plt, figure, path)


def _plot_storm(storm, path):
    plt = pyplot()
    figure, (events, memory) = plt.subplots(1, 2, figsize=(10, 4.2))
    ours, replay, generic = storm["zhmc"], storm.get("replay") or {}, storm.get("generic") or {}
    if ours.get("progress"):
        events.plot(*zip(*ours["progress"]), label="zhmc.eda (x: since the IPL)", color="#1f77b4")
    for data, label, color in ((replay, "same events replayed from a file", "#2ca02c"),
                               (generic, "eda.builtin.generic, same events", "#ff7f0e")):
        if data.get("progress"):
            first = data["progress"][0][0]
            events.plot([t - first for t, _c in data["progress"]], [c for _t, c in data["progress"]],
                        label="%s (x: since its first)" % label, color=color)
    events.axvspan(0, storm["within_s"], color="#eeeeee", label="messages published")
    events.set_xlabel("seconds")
    events.set_ylabel("OS message events handled by the rules engine")
    events.legend(fontsize=7)
    for data, label, color in ((ours, "zhmc.eda", "#1f77b4"), (replay, "replayed from a file", "#2ca02c"),
                               (generic, "eda.builtin.generic", "#ff7f0e")):
        if data.get("memory"):
            memory.plot(*zip(*data["memory"]), label="%s (peak %.0f MB)" % (label, data["peak_mb"]), color=color)
    memory.axhline(storm["limit_mb"], color="red", linestyle="--", linewidth=1, label="cgroup limit")
    memory.set_xlabel("seconds")
    memory.set_ylabel("memory of the cgroup, MB")
    memory.set_ylim(0, storm["limit_mb"] * 1.1)
    memory.legend(fontsize=7, loc="lower right")
    figure.suptitle("IPL storm: %d partitions active at once, %d messages each in %.0f s, a debug action per message"
                    % (storm["activated"], storm["messages_each"], storm["within_s"]), fontsize=10)
    save(plt, figure, path)


def _plot_follow(follow, path):
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.8))
    styles = {"activated_one_after_another": "-", "created_one_after_another": "--", "activated_at_once": ":"}
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c"]
    for index, delay_key in enumerate(sorted(k for k in follow if k.endswith("ms"))):
        for name, style in styles.items():
            values = sorted(follow[delay_key][name]["samples_s"])
            axis.plot(values, [(i + 1) / len(values) for i in range(len(values))], linestyle=style,
                      color=colors[index % len(colors)],
                      label="%s, %s" % ("hmcsim" if delay_key == "0ms" else "+%s per call" % delay_key,
                                        name.replace("_", " ")))
    axis.axvline(follow["target_p99_s"], color="red", linestyle="--", linewidth=1, label="p99 target")
    axis.axhline(0.99, color="grey", linestyle=":", linewidth=1)
    axis.set_xscale("log")
    axis.set_xlabel("published -> channel subscribed at the HMC (s, log scale)")
    axis.set_ylabel("fraction of partitions (CDF)")
    axis.set_title("Following partitions: %d each" % follow["count"], fontsize=10)
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    save(plt, figure, path)


def save(plt, figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


# ------------------------------------------------------------------ text
def images(results):
    return ["![%s](../benchmarks/results/%s)" % (PLOTS[key][1], PLOTS[key][0])
            for key in KEYS if results.get(key) and "error" not in results[key]]


HOW = [
    "- **Estate** (start, re-logon, idle, storm, follow; `benchmarks/bench_estate.py`): hmcsim's generated estate "
    "of 10 CPCs x 100 (odd CPCs DPM with partitions, even ones classic with LPARs), every one running an OS that "
    "talks unless the benchmark stops some, in the benchmark's process; ansible-rulebook (`-v`) runs the installed "
    "collection with `os_message_channels` selecting every partition and LPAR. `+50 ms per call` adds 50 ms to "
    "every WS API request in hmcsim (`set_ws_delay`), for an HMC that is farther away or slower than one on "
    "loopback: no public source gives an HMC's response times.",
    "- **Start**: from starting ansible-rulebook until hmcsim has every channel topic subscribed; `source` is the "
    "part from the source's logon line on. Rounds interleave 1 and 8 calls at a time (`parallel_hmc_calls`).",
    "- **Re-logon**: keepalive_interval 1 s; after one message per partition has reached the source, hmcsim expires "
    "the session and each partition prints a message the source cannot receive; the figures are from the expiry to "
    "the source's log lines (new session, channels opened, recovered, backfill done) and, with a debug action per "
    "OS message, to the last missed message at the rules engine (every one checked once).",
    "- **Idle**: user+system CPU of the ansible-rulebook process tree from /proc over 40 s without traffic or a "
    "resync, and over a 20 s window around a resync (resync_interval 60 s) minus the idle rate; RSS from /proc; "
    "rounds alternate 1,000 channels and 1, medians. The JVM's RSS varies by a few MB from run to run, as much as "
    "1,000 channels take, so the memory per watched partition comes from the source alone in a process of its own "
    "(benchmarks/source_worker.py watch): (Python memory by tracemalloc, and RSS, with 1,000 channels - with 1) / "
    "999.",
    "- **IPL storm**: 200 partitions and LPARs are not running at start; at once they become active and each prints "
    "50 messages over 10 s (10,000). The rule prints every OS message (a debug action), which makes the rules "
    "engine the slow part: the source holds what the engine has not taken yet. The whole process tree runs in a "
    "cgroup v1 memory group limited to 200 MB (memory.limit_in_bytes and memory.memsw.limit_in_bytes, as podman "
    "--memory does for an EDA controller activation): see benchmarks/estate_support.py. The rules engine's own "
    "rate: the same 10,000 events put on its queue one after the other from a file (benchmarks/sources/"
    "replay_events.py, a benchmark-only source), through the same rule in the same limit; `eda.builtin.generic` "
    "emits the same events (one round of them, 50 times) likewise.",
    "- **Follow** (issue 12): hmcsim's observer stamps the status-change (or inventory-change add) when it is "
    "published; a thread polls hmcsim every 2 ms for the channel topic's subscription. 50 partitions one after "
    "another (0.1 s apart), 50 created one after another, 50 active at the same moment.",
]


def notes(results):
    """What each estate figure says, and what the bottleneck was."""
    out = []
    start = results.get("estate_start")
    if start and start.get("median"):
        m = start["median"]
        delay_ms = int(start["remote_delay_s"] * 1000)
        slow, fast = m.get("1@%dms" % delay_ms), m.get("8@%dms" % delay_ms)
        if slow and fast:
            out.append("Start: the bottleneck was one WS API call after the other (Open OS Message Channel per "
                       "partition). With %d ms per call, opening 1,000 channels one at a time takes %.0f s from the "
                       "logon, 8 at a time %.1f s (1,000 x %d ms / 8 = %.1f s, plus the listing: 1 + CPCs calls per "
                       "os_message_channels item, the items listed at the same time). On hmcsim as it is, a call "
                       "costs about a millisecond of CPU on each side and the 2 cores are shared by hmcsim, the "
                       "source and the rules engine starting up, so more calls at a time gain little there; most of "
                       "the total is ansible-rulebook's own start until the logon. The default of 8 stays below the "
                       "10 requests zhmcclient has the HMC run at once for its bulk requests; the sweep shows what "
                       "more would give on an HMC that answers in %d ms." % (
                           delay_ms, slow["source_s"], fast["source_s"], delay_ms, 1000 * delay_ms / 8000.0,
                           delay_ms))
    relogon = results.get("estate_relogon")
    if relogon and relogon.get("median"):
        eng = relogon["median"].get("engine", {})
        out.append("Re-logon: a new session costs two calls per partition: Open OS Message Channel again and List "
                   "OS Messages for the backfill (both 8 at a time). The missed messages also come as refresh "
                   "replays when the channels are subscribed; the backfill runs first and the dedupe drops the "
                   "replays. With a debug action per OS message the last missed message reached the rules engine "
                   "%.1f s after the expiry: the engine's rate, not the source, decides that part." % (
                       eng.get("all_missed_at_engine_s") or 0))
    idle = results.get("estate_idle")
    if idle and idle.get("rounds"):
        threads = idle["rounds"]["all"][0].get("busiest_threads_percent") or {}
        out.append("Idle: the CPU is ansible-rulebook's own. Its busiest threads (%% of a core): %s; "
                   "`ansible-ruleboo` is every Python thread of the process together (the source's included: Python "
                   "does not name its threads for the kernel), the others are the rules engine's JVM threads. "
                   "ansible-rulebook with a source that does nothing takes %.2f%%; the source with 1,000 channels "
                   "adds about a tenth of a percent (heart-beats are per connection, the main loop wakes once a "
                   "second, a resync of 1,000 is %d listing calls)." % (
                       ", ".join("%s %.2f" % (n, p) for n, p in sorted(threads.items(), key=lambda i: -i[1])),
                       idle["runs"]["generic_idle"]["idle_cpu_percent"],
                       idle["runs"]["all"].get("resync_requests", 0)))
    storm = results.get("storm")
    if storm and storm.get("zhmc"):
        ours, replay = storm["zhmc"], storm.get("replay") or {}
        text = ("IPL storm: the rules engine with a debug action per message is what makes it take %.0f s; the "
                "source holds what the engine has not taken yet (about 2 KB a notification), well within the "
                "cgroup." % ours.get("all_at_engine_s", 0))
        if replay.get("engine_rate_per_s") and ours.get("drain_after_published_per_s"):
            ratio = ours["drain_after_published_per_s"] / replay["engine_rate_per_s"]
            text += (" The engine took the same events replayed from a file at %.0f/s, the source's at %.0f/s "
                     "while hmcsim published them (hmcsim's publishing shares the 2 cores) and %.0f/s after "
                     "(%.2fx)" % (replay["engine_rate_per_s"], ours.get("rate_while_published_per_s", 0),
                                  ours["drain_after_published_per_s"], ratio))
            text += (": as fast as the engine takes them." if ratio >= 0.95 else
                     ": the difference is the source's own work per notification (the receiver's thread, the "
                     "shaping on the loop), which shares the Python interpreter with the rules engine's side of "
                     "ansible-rulebook; the receiver's CPU per notification (first rows) is that cost.")
            text += (" From run to run on this shared machine the engine's own rate varied from about 480 to "
                     "630/s and the source's drain after the publication from 0.84x to 1.03x of it (2026-12-02).")
        text += (" `eda.builtin.generic` emits these events slower than the engine takes them from the replay "
                 "source, so the replay is the reference for the engine's own rate.")
        if ours.get("by_origin"):
            text += (" The 200 channels were opened 8 at a time when the partitions became active; the messages "
                     "printed before a channel was subscribed came as refresh replays: %s." % ", ".join(
                         "%s %d" % item for item in sorted(ours["by_origin"].items())))
        out.append(text)
    follow = results.get("follow")
    if follow:
        out.append("Follow: the bottleneck was the follower taking the notified partitions one after the other "
                   "(on 2026-12-02, 50 at the same moment with 50 ms per call: p50 1.44 s, p99 2.89 s); it now "
                   "takes all that arrived together and opens their channels 8 at a time. What remains one after "
                   "the other is the live SUBSCRIBE: the receiver sends each with a receipt and waits for it while "
                   "holding its connection lock, one round trip per channel (a few ms here, one network round trip "
                   "to a real HMC each).")
    return out


# ------------------------------------------------------------------ notes on paper
def paper(results):
    """What no machine here can show: capacity of one activation, when to split, HMC limits.
    Numbers come from this run's figures where there are some."""
    idle = (results.get("estate_idle") or {}).get("runs") or {}
    storm = (results.get("storm") or {}).get("zhmc") or {}
    start = (results.get("estate_start") or {}).get("median") or {}
    per_kb = ((results.get("estate_idle") or {}).get("source_memory") or {}).get("rss_kb_per_partition")
    base_mb = (idle.get("generic_idle") or {}).get("rss_mb")
    full_mb = (idle.get("all") or {}).get("rss_mb")
    rate = storm.get("engine_rate_per_s")
    remote = start.get("8@50ms", {}).get("source_s")

    def num(value, fmt, missing="(not measured in this run)"):
        return fmt % value if value is not None else missing

    return [
        "## One activation, one estate: notes on paper",
        "",
        "What the figures above cannot show, worked out from them. Where the numbers come from this run they "
        "are marked (measured); the rest is arithmetic on them or comes from the public sources named.",
        "",
        "### How many partitions one activation can watch",
        "",
        "- **Memory is not the limit for the watch list.** ansible-rulebook with its rules engine takes %s of "
        "an activation's 200 MB with a source that does nothing, %s with 1,000 watched partitions (measured); the "
        "source itself takes about %s per watched partition (measured without the JVM: the channel in the watch "
        "list, its subscription, the directory's, dedupe's and status book's entries). 5,000 partitions would add "
        "about %s." % (
            num(base_mb, "%.0f MB"), num(full_mb, "%.0f MB"), num(per_kb, "%.1f KB"),
            num(per_kb * 5000 / 1024 if per_kb else None, "%.0f MB")),
        "- **What a burst leaves waiting is bounded.** When the rules take their time, the source holds what "
        "the engine has not taken yet, up to `max_pending_bytes` (default 4 MiB of memory, about 1,100 "
        "notifications of 2 KB), then stops reading from the broker, which holds the rest. The IPL storm of "
        "10,000 messages peaked at %s in the 200 MB cgroup (measured), and 50,000 notifications at full speed "
        "stayed within a few MB of `eda.builtin.generic` (the memory row above), so a larger storm costs time, "
        "not memory. What the HMC's broker does with a subscriber that falls far behind is not published "
        "(see below)." % num(storm.get("peak_mb"), "%.0f MB"),
        "- **The rules engine's rate is the real limit.** With a debug action per OS message the engine took "
        "%s (measured): an IPL of 200 partitions x 50 messages is through after about %s. The sum of the OS "
        "message rates of all watched partitions must stay below what the rulebook's rules handle; a rulebook "
        "that acts only on a few messages (conditions that match rarely) handles thousands per second "
        "(bench_rulebook_throughput). Nothing is lost while the engine is behind, but it is late." % (
            num(rate, "%.0f events/s"), num(10000 / rate if rate else None, "%.0f s")),
        "- **Start and re-logon time grow with the number and the HMC's response time**: about "
        "partitions x seconds per call / `parallel_hmc_calls`, plus the listing (1 + CPCs calls per "
        "`os_message_channels` item). Measured: 1,000 partitions at 50 ms per call, 8 at a time: %s from the "
        "logon. At 200 ms per call that would be about 25 s, 5,000 partitions at 50 ms about 35 s." % (
            num(remote, "%.1f s")),
        "- **Idle costs next to nothing per partition**: the keep-alive is one call per `keepalive_interval`, "
        "heart-beats are per connection, not per topic; a resync is the listing plus one Open OS Message "
        "Channel call per selected partition that is not running (each is tried again).",
        "",
        "So one activation can watch 1,000 partitions and LPARs with room to spare, and a few thousand as far "
        "as memory and CPU go; what decides is how fast the rules must react in a storm and how long a start "
        "or re-logon may take.",
        "",
        "### When to split an estate over several activations (EDA controller)",
        "",
        "- **One activation per HMC** (or per pair of redundant HMCs of the same estate, listed in `hmc_host`): "
        "a source talks to one HMC at a time.",
        "- **Split by CPC group** (disjoint `os_message_channels` CPC patterns, one activation each) when one "
        "rules engine does not keep up with the storm you must handle in time (each activation has its own "
        "engine), when the groups need different rules, or when a start or re-logon of the whole estate takes "
        "longer than you accept.",
        "- **Do not let two activations select the same partition**: each has its own HMC session and its own "
        "channel, and the HMC sends every message to each, so every message would be handled twice.",
        "- **What a split costs**: each activation is another ansible-rulebook (about %s of memory, measured), "
        "another HMC Web Services API session of the user (see the limit below), another STOMP connection to "
        "the HMC's broker, and its own listing at start and at each resync. Raise the activation's memory "
        "limit (`automationedacontroller_podman_mem_limit`) before splitting if only memory is short." % (
            num(base_mb, "%.0f MB")),
        "",
        "### What the HMC itself limits",
        "",
        "- **API sessions per user**: the HMC's User object has `max-web-services-api-sessions` and "
        "`web-services-api-session-idle-timeout` (zhmcclient's mocked HMCs, tests/end2end/mocked_hmc_z16.yaml, "
        "give 1000 and 360). Each activation holds one session (briefly two while it logs on again).",
        "- **Requests at the same time**: not published. zhmcclient asks the HMC to run its bulk Submit Requests "
        "with up to 10 threads (`BULK_MAX_THREADS` in zhmcclient/_manager.py), so about ten requests at once are "
        "ordinary for an HMC; `parallel_hmc_calls` defaults to 8 and is capped at 32. What an HMC answers when "
        "it is overloaded is not published either: HTTP 503 means \"temporarily unable to handle the request\" "
        "(RFC 9110, 15.6.4); some of the HMC's 5xx answers are HTML pages (zhmcclient maps them to reasons 900 "
        "and 999). The source backs off on 503 and on timeouts.",
        "- **OS message channels and topics per session**: not published. A session has at most one channel per "
        "partition or LPAR (HTTP 409 reason 331: already open in this session), there is no operation to close "
        "one, and it lasts as long as the session (zhmcclient PR #167).",
        "- **STOMP connections and subscriptions**: the HMC's broker is an ActiveMQ (its ERROR frames and "
        "message ids are ActiveMQ's); the HMC's configuration of it is not published. ActiveMQ's own defaults: at most 1,000 connections per transport connector in its "
        "stock activemq.xml (`maximumConnections=1000`), no limit on subscriptions per connection "
        "(`maximumConsumersAllowedPerConnection` defaults to Integer.MAX_VALUE in TransportConnector.java). The "
        "source uses one connection for all its topics (1,000 subscriptions here).",
        "- **OS messages kept per partition**: \"a limited amount\" (zhmcclient's `list_os_messages()`), how many "
        "is not published (hmcsim keeps 1,000): a backfill after a long gap can find the oldest gone.",
        "- **Not known** without a real HMC: how many requests at once an HMC takes before it slows down or "
        "answers 503; whether it limits channels per session; how its broker treats a subscriber that falls far "
        "behind (ActiveMQ can block the producer or, with a pending message limit, drop messages for slow topic "
        "consumers): the source keeps reading up to `max_pending_bytes`, so keep the rules' rate above the "
        "sustained message rate.",
        "",
    ]
