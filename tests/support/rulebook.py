"""Run ansible-rulebook as a subprocess for end-to-end tests (generic; any rulebook).

    run = RulebookRun(rulebook_path_or_fqcn, workdir, collections_path,
                      variables={...}, env_vars={"HMC_PASSWORD": sim.password})
    with run:
        run.wait_for(r"connected to", timeout=60)
        ...                                   # drive the system under test
        events = run.wait_for_events(lambda evs: len(evs) >= 3, timeout=30)
    # leaving the block terminates the process group (SIGTERM, then SIGKILL)

Secrets go through environment variables named with `-E` (never on the command line) or a
vars file written with mode 0600. Output (stdout and stderr merged) is collected by a reader
thread; `print_event` output is parsed back into dicts by `printed_events()`.
"""
import ast
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import yaml

DEFAULT_INVENTORY = {"all": {"hosts": {"localhost": {"ansible_connection": "local"}}}}


def write_yaml(path, data, mode=0o600):
    """Write `data` as YAML to `path` with `mode` (0600: it may hold secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        if isinstance(data, str):
            handle.write(data)
        else:
            yaml.safe_dump(data, handle, sort_keys=False)
    os.chmod(path, mode)
    return path


def write_inventory(workdir, inventory=None):
    """A local-connection inventory (localhost) unless `inventory` is given."""
    python = sys.executable
    data = inventory or {
        "all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": python}}}
    }
    return write_yaml(os.path.join(workdir, "inventory.yml"), data, mode=0o644)


def write_vars(workdir, variables, name="vars.yml"):
    """A vars file for `--vars`, mode 0600."""
    return write_yaml(os.path.join(workdir, name), variables, mode=0o600)


def write_rulebook(workdir, rulebook, name="rulebook.yml"):
    """Write a rulebook (a list of rulesets or YAML text) and return its path."""
    return write_yaml(os.path.join(workdir, name), rulebook, mode=0o644)


def rulebook_env(collections_path, extra=None):
    """Environment for ansible-rulebook: our collections path, the venv's tools on PATH."""
    env = dict(os.environ)
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = collections_path
    env["ANSIBLE_LOCAL_TEMP"] = env.get("ANSIBLE_LOCAL_TEMP", "/tmp")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def ansible_rulebook_command():
    """The ansible-rulebook executable next to the running Python (the venv's)."""
    candidate = os.path.join(os.path.dirname(sys.executable), "ansible-rulebook")
    return candidate if os.path.exists(candidate) else "ansible-rulebook"


def parse_printed_event(line):
    """The dict a `print_event` action printed on `line`, or None."""
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return None
    try:
        value = ast.literal_eval(line)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        try:
            value = json.loads(line)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


class RulebookTimeout(AssertionError):
    """Expected output did not appear in time; the message carries the output tail."""


class RulebookRun:
    """One ansible-rulebook process, its output collected line by line."""

    def __init__(self, rulebook, workdir, collections_path, variables=None, env_vars=None,
                 verbosity=1, inventory=None, extra_args=(), source_dirs=None,
                 shutdown_delay=2, extra_env=None, user=None, executable=None, unset_env=()):
        self.workdir = workdir
        self.rulebook = rulebook
        self.collections_path = collections_path
        self.variables = variables
        self.env_vars = dict(env_vars or {})      # exported and named with -E (also variables)
        self.extra_env = dict(extra_env or {})    # only exported (e.g. EDA_CONTROLLER_URL)
        self.unset_env = tuple(unset_env)         # removed from the environment (e.g. HOME)
        self.user = user                          # run as this uid (and gid), no other groups
        self.executable = executable              # another ansible-rulebook than the venv's
        self.verbosity = verbosity
        self.inventory = inventory
        self.extra_args = list(extra_args)
        self.source_dirs = source_dirs
        self.shutdown_delay = shutdown_delay
        self.proc = None
        self.lines = []
        self.line_times = []  # time.monotonic() when each line arrived
        self.started_at = None
        self._cond = threading.Condition()
        self._reader = None
        self._eof = False

    # ------------------------------------------------------------ process

    def command(self):
        cmd = [self.executable or ansible_rulebook_command(), "-r", self.rulebook,
               "-i", self._own(write_inventory(self.workdir, self.inventory))]
        if self.variables is not None:
            cmd += ["--vars", self._own(write_vars(self.workdir, self.variables))]
        if self.env_vars:
            cmd += ["-E", ",".join(sorted(self.env_vars))]
        if self.source_dirs:
            cmd += ["-S", self.source_dirs]
        if self.shutdown_delay is not None:
            cmd += ["--shutdown-delay", str(self.shutdown_delay)]
        if self.verbosity:
            cmd.append("-" + "v" * self.verbosity)
        return cmd + self.extra_args

    def _own(self, path):
        """Files the run reads belong to the user it runs as (they may be mode 0600)."""
        if self.user is not None:
            os.chown(path, self.user, self.user)
        return path

    def start(self):
        if self.proc is not None:
            raise RuntimeError("this RulebookRun was started already")
        env = rulebook_env(self.collections_path, dict(self.extra_env, **self.env_vars))
        for name in self.unset_env:
            env.pop(name, None)
        as_user = {} if self.user is None else {"user": self.user, "group": self.user, "extra_groups": []}
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(), cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            start_new_session=True, **as_user,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self.line_times.append(now)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def output(self):
        with self._cond:
            return "\n".join(self.lines)

    def tail(self, count=60):
        with self._cond:
            return "\n".join(self.lines[-count:])

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # ------------------------------------------------------------ reading

    def wait_for(self, pattern, timeout, start=0):
        """Wait for a line matching `pattern` (regex) at index >= start; return (index, match)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.lines):
                    match = regex.search(self.lines[index])
                    if match:
                        return index, match
                    index += 1
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.5))
        state = "exited with %s" % self.proc.poll() if self._eof else "still running"
        raise RulebookTimeout("no output line matching %r within %.0f s (ansible-rulebook %s); "
                              "output tail:\n%s" % (pattern, timeout, state, self.tail()))

    def printed_events(self, start=0):
        """Every event printed by `print_event` so far (from line index `start`)."""
        with self._cond:
            lines = list(self.lines[start:])
        events = []
        for line in lines:
            event = parse_printed_event(line)
            if event is not None:
                events.append(event)
        return events

    def timed_events(self, start=0):
        """[(arrival time.monotonic(), event)] for every printed event so far."""
        with self._cond:
            lines = list(zip(self.line_times[start:], self.lines[start:], strict=True))
        out = []
        for arrived, line in lines:
            event = parse_printed_event(line)
            if event is not None:
                out.append((arrived, event))
        return out

    def wait_for_events(self, predicate, timeout, start=0):
        """Wait until predicate(printed events) is true; return the events."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.printed_events(start)
            if predicate(events):
                return events
            with self._cond:
                if self._eof:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.5))
        raise RulebookTimeout("printed events did not satisfy the condition within %.0f s "
                              "(%d events); output tail:\n%s"
                              % (timeout, len(self.printed_events(start)), self.tail()))

    # ------------------------------------------------------------ ending

    def wait(self, timeout):
        """Wait for the process to end by itself; return its exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RulebookTimeout("ansible-rulebook did not exit within %.0f s; output tail:\n%s"
                                  % (timeout, self.tail())) from None
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code

    def terminate(self, timeout=15, sig=signal.SIGTERM):
        """Send `sig` to ansible-rulebook; return (exit code, seconds until it exited)."""
        sent = time.monotonic()
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        code = self.wait(timeout)
        return code, time.monotonic() - sent

    def stop(self):
        """End the whole process group, politely first (always safe to call)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
