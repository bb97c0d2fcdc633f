"""Run ansible-playbook as a subprocess against the collection under test.

    run = run_playbook(collections_path, workdir, "play.yml", extra_vars={...}, verbosity=3)
    run.rc, run.output                    # exit code, stdout+stderr (for secret greps)
    run.result("Open the channel")        # the result of the task of that name (as a callback saw it)
    run.status("Open the channel")        # ok | changed | failed | skipped

Extra vars (which may hold passwords) go through a 0600 file (`-e @file`), never the command
line. Task results are recorded by a small callback plugin written into the work directory:
it receives results after ansible-core has censored no_log ones, exactly like the stdout
callback, so tests see what a user would see.
"""
import json
import os
import subprocess
import sys

import yaml

RESULTS_CALLBACK = '''
from ansible.plugins.callback import CallbackBase
import json, os


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "zhmc_test_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status):
        item = {"task": result.task_name, "host": result.host.get_name(), "status": status,
                "result": result.result}
        with open(os.environ["ZHMC_TEST_RESULTS"], "a") as handle:
            handle.write(json.dumps(item, default=str) + "\\n")

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result, "changed" if result.result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, "skipped")
'''


def _write(path, text, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return path


def write_playbook(workdir, name, plays):
    """Write a playbook (list of plays, or YAML text) into workdir; return its path."""
    text = plays if isinstance(plays, str) else yaml.safe_dump(plays, sort_keys=False)
    return _write(os.path.join(workdir, name), text, 0o644)


def ansible_playbook_command():
    candidate = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return candidate if os.path.exists(candidate) else "ansible-playbook"


def playbook_env(collections_path, workdir, results_file):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path,
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(workdir, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "zhmc_test_results",
        "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ZHMC_TEST_RESULTS": results_file,
        "PYTHONUNBUFFERED": "1",
    })
    return env


class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    def __init__(self, command, rc, output, records):
        self.command = command
        self.rc = rc
        self.output = output
        self.records = records

    def _find(self, task):
        found = [rec for rec in self.records if rec["task"] == task]
        if not found:
            raise AssertionError("no result for task %r; tasks seen: %s\noutput tail:\n%s"
                                 % (task, [rec["task"] for rec in self.records], self.output[-4000:]))
        return found[-1]

    def result(self, task):
        return self._find(task)["result"]

    def status(self, task):
        return self._find(task)["status"]

    def tasks(self):
        return [rec["task"] for rec in self.records]


def run_playbook(collections_path, workdir, playbook, extra_vars=None, check=False, verbosity=0,
                 tags=None, timeout=240, env_extra=None):
    """Run ansible-playbook (a path, or an FQCN like zhmc.eda.watch) on localhost."""
    os.makedirs(os.path.join(workdir, "callback_plugins"), exist_ok=True)
    os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
    _write(os.path.join(workdir, "callback_plugins", "zhmc_test_results.py"), RESULTS_CALLBACK, 0o644)
    inventory = _write(os.path.join(workdir, "inventory.yml"), yaml.safe_dump({
        "all": {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": sys.executable}}}}), 0o644)
    results_file = os.path.join(workdir, "results.jsonl")
    if os.path.exists(results_file):
        os.unlink(results_file)
    command = [ansible_playbook_command(), "-i", inventory, playbook]
    if extra_vars:  # a dict, or the text of a vars file (e.g. with !unsafe values)
        text = extra_vars if isinstance(extra_vars, str) else yaml.safe_dump(extra_vars)
        command += ["-e", "@" + _write(os.path.join(workdir, "extra_vars.yml"), text, 0o600)]
    if check:
        command.append("--check")
    if tags:
        command += ["--tags", tags]
    if verbosity:
        command.append("-" + "v" * verbosity)
    env = playbook_env(collections_path, workdir, results_file)
    env.update(env_extra or {})
    proc = subprocess.run(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    records = []
    if os.path.exists(results_file):
        with open(results_file, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    return PlaybookRun(command, proc.returncode, proc.stdout, records)
