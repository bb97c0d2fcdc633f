"""What the estate benchmarks share: hmcsim's generated estate, ansible-rulebook running the
installed collection (optionally in a memory cgroup), the CPU and memory of its process tree.

Memory cgroup (cgroup v1, as on this project's machines, run as root): a directory
/sys/fs/cgroup/memory/zeda-bench-<pid>-<n> with memory.limit_in_bytes (and
memory.memsw.limit_in_bytes, when swap accounting is on, so that nothing is swapped out
instead) set to the limit; ansible-rulebook is started by `sh -c 'echo $$ > .../cgroup.procs;
exec ansible-rulebook ...'`, so it and every process it starts are in the cgroup from their
first instruction. Past the limit the kernel's OOM killer ends a process of the cgroup, as
podman's --memory does in an EDA controller activation. The peak is memory.max_usage_in_bytes
(page cache included, as the container's accounting does); the cgroup is removed afterwards.
"""
import os
import re
import signal
import time

from hmcsim.estate import generate
from tests.support.rulebook import RulebookRun, write_rulebook

PASSWORD_ENV = "ZHMC_BENCH_PASSWORD"
CGROUP_MEMORY = "/sys/fs/cgroup/memory"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
ALL_CHANNELS = [{"cpc": ".*", "partition": ".*"}, {"cpc": ".*", "lpar": ".*"}]


# ------------------------------------------------------------------ the estate
def running_estate(cpcs=10, per_cpc=100, seed=0):
    """hmcsim's generated estate, with every partition and LPAR running an OS that talks
    (so that every one of them has an OS message channel to open)."""
    out = generate(cpcs, per_cpc, seed=seed)
    for cpc in out:
        for child in cpc.get("partitions", []) + cpc.get("lpars", []):
            child["status"] = "active" if cpc["dpm"] else "operating"
            if not child["os_messages"]:
                child["os_messages"] = True
                child["os_type"] = "Linux"
    return out


def objects(cpcs):
    """[(cpc name, object name, dpm)] of an estate, in its order."""
    return [(cpc["name"], child["name"], cpc["dpm"])
            for cpc in cpcs for child in cpc.get("partitions", []) + cpc.get("lpars", [])]


def spread(cpcs, count, skip=0):
    """`count` objects spread evenly over the CPCs (every n-th of each), after `skip` of them."""
    every = objects(cpcs)
    step = max(1, len(every) // count)
    chosen = every[skip % step::step]
    return chosen[:count]


def set_stopped(cpcs, chosen):
    """Configure the chosen objects as not running (their channels are unavailable at start)."""
    wanted = {(cpc, name) for cpc, name, _dpm in chosen}
    for cpc in cpcs:
        for child in cpc.get("partitions", []) + cpc.get("lpars", []):
            if (cpc["name"], child["name"]) in wanted:
                child["status"] = "stopped" if cpc["dpm"] else "not-activated"


def running_status(dpm):
    return "active" if dpm else "operating"


def channel_topic(sim, session_number, uri):
    """The channel topic of an object in a session (hmcsim's documented naming)."""
    return "%s.%dosm.%s" % (sim.userid, session_number, uri.rstrip("/").rsplit("/", 1)[-1].replace("-", ""))


def source_session_number(sim):
    numbers = {channel["session-number"] for channel in sim.open_channels()}
    if len(numbers) != 1:
        raise RuntimeError("expected the channels of one session, found sessions %s" % sorted(numbers))
    return numbers.pop()


def subscribed_channels(sim):
    """How many of the open channels have a STOMP subscription."""
    return sum(1 for channel in sim.open_channels() if sim.subscriptions(channel["topic-name"]))


# ------------------------------------------------------------------ ansible-rulebook
def source_args(sim, **extra):
    args = {
        "hmc_host": sim.host, "ws_port": sim.ws_port, "stomp_port": sim.stomp_port,
        "hmc_auth": {"userid": sim.userid, "password_env": PASSWORD_ENV, "ca_certs": sim.ca_file},
        "os_message_channels": ALL_CHANNELS,
    }
    args.update(extra)
    return args


NEVER = {"name": "never", "condition": "event.never_set == 1", "action": {"debug": {}}}
OS_MESSAGE_DEBUG = {
    "name": "every OS message", "condition": "event.hmc.os_message is defined",
    "action": {"debug": {"msg": "OSM {{ event.hmc.object.name }} {{ event.hmc.os_message.sequence_number }} "
                                "{{ event.hmc.origin | default('live') }}"
                                "{{ '-refresh' if event.hmc.os_message.is_refresh | default(false) else '' }}"}}}
OSM_LINE = re.compile(r"^OSM (\S+) (\d+) (\S+)$")  # origin: live, live-refresh, backfill
BANNER = re.compile(r"\*\* (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \[debug\]")


def rulebook(workdir, source, rules, name="rulebook.yml"):
    return write_rulebook(workdir, [{"name": "estate", "hosts": "all", "sources": [source], "rules": rules}], name=name)


def zhmc_source(sim, **extra):
    return {"name": "hmc", "zhmc.eda.notifications": source_args(sim, **extra)}


class Rulebook(RulebookRun):
    """ansible-rulebook on the installed collection, optionally inside a memory cgroup."""

    def __init__(self, path, workdir, collections_path, sim=None, cgroup=None, variables=None, source_dirs=None,
                 env_vars=None, extra_args=()):
        env = {PASSWORD_ENV: sim.password} if sim is not None else {}
        env.update(env_vars or {})
        super().__init__(path, workdir, collections_path, variables=variables, env_vars=env, verbosity=1,
                         source_dirs=source_dirs, extra_args=extra_args)
        self.cgroup = cgroup

    def command(self):
        cmd = super().command()
        if self.cgroup is None:
            return cmd
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.cgroup.path] + cmd

    def line_time(self, pattern, start=0, timeout=300):
        """(monotonic arrival time, match) of the first line matching `pattern`."""
        index, match = self.wait_for(pattern, timeout=timeout, start=start)
        return self.line_times[index], match

    def osm_lines(self):
        """[(arrival monotonic time, name, seq, origin)] of every OS message the rule printed."""
        with self._cond:
            lines = list(zip(self.line_times, self.lines, strict=True))
        out = []
        for arrived, line in lines:
            match = OSM_LINE.match(line)
            if match:
                out.append((arrived, match.group(1), int(match.group(2)), match.group(3)))
        return out

    def lines_since(self, start):
        """([(arrival monotonic time, line)] from line index `start` on, the next index)."""
        with self._cond:
            out = list(zip(self.line_times[start:], self.lines[start:], strict=True))
        return out, start + len(out)

    def count_osm(self):
        with self._cond:
            return sum(1 for line in self.lines if line.startswith("OSM "))

    def osm_times(self):
        """The engine's time stamps (seconds) of the debug banners before each OSM line."""
        with self._cond:
            lines = list(self.lines)
        out = []
        for index in range(1, len(lines)):
            if lines[index].startswith("OSM "):
                match = BANNER.search(lines[index - 1])
                if match:
                    out.append(time.mktime(time.strptime(match.group(1)[:19], "%Y-%m-%d %H:%M:%S"))
                               + float("0." + match.group(1).split(".")[1]))
        return out


# ------------------------------------------------------------------ CPU and memory
def tree_pids(root):
    """The process and all its descendants (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sorted(tree)


def tree_usage(root):
    """(CPU seconds user+system, RSS bytes) of a process tree, now."""
    cpu, rss = 0.0, 0
    for pid in tree_pids(root):
        try:
            with open("/proc/%d/stat" % pid) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK
            rss += int(fields[21]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return cpu, rss


def thread_cpu(pid):
    """{thread name: CPU seconds} of a process's threads (names as the kernel keeps them, 15
    characters; threads of one name summed)."""
    out = {}
    task_dir = "/proc/%d/task" % pid
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "stat")) as handle:
                text = handle.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


class MemoryCgroup:
    """A cgroup v1 memory group with a limit (see the module docstring)."""

    def __init__(self, limit_mb, name="zeda-bench"):
        if not os.path.isdir(CGROUP_MEMORY) or not os.access(CGROUP_MEMORY, os.W_OK):
            raise RuntimeError("no writable cgroup v1 memory hierarchy at %s (needs root)" % CGROUP_MEMORY)
        self.limit = int(limit_mb * 2**20)
        self.path = os.path.join(CGROUP_MEMORY, "%s-%d-%d" % (name, os.getpid(), int(time.time() * 1000)))
        os.mkdir(self.path)
        self._write("memory.limit_in_bytes", self.limit)
        if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
            self._write("memory.memsw.limit_in_bytes", self.limit)

    def _write(self, name, value):
        with open(os.path.join(self.path, name), "w") as handle:
            handle.write(str(value))

    def _read(self, name):
        with open(os.path.join(self.path, name)) as handle:
            return handle.read()

    def usage_mb(self):
        return int(self._read("memory.usage_in_bytes")) / 2**20

    def peak_mb(self):
        return int(self._read("memory.max_usage_in_bytes")) / 2**20

    def stat(self):
        """memory.stat as {name: bytes or count} (rss: anonymous memory; cache: page cache)."""
        out = {}
        for line in self._read("memory.stat").splitlines():
            name, _, value = line.partition(" ")
            if value.isdigit():
                out[name] = int(value)
        return out

    def oom_kills(self):
        match = re.search(r"^oom_kill (\d+)", self._read("memory.oom_control"), re.M)
        return int(match.group(1)) if match else None

    def failcnt(self):
        return int(self._read("memory.failcnt"))

    def remove(self):
        """Remove the group; processes still in it after 5 s (all started into it by the
        benchmark) are killed first."""
        for attempt in range(100):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if attempt == 50:
                    self._kill_members()
                time.sleep(0.1)  # its processes are still exiting

    def _kill_members(self):
        try:
            pids = [int(pid) for pid in self._read("cgroup.procs").split()]
        except (OSError, ValueError):
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))]


def median(values):
    return percentile(values, 0.5)
