"""Run the project's command-line tools (installed in the test virtualenv) for packaging tests."""
import os
import subprocess
import sys


def venv_tool(name):
    """Path of a console script installed next to the running interpreter (the .venv)."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise RuntimeError("%s is not installed in %s; run `make venv` (tests/requirements.txt)" % (name, os.path.dirname(path)))
    return path


def tool_env(**extra):
    """The environment for a tool: the venv's bin first on PATH (ansible-test and
    antsibull-changelog start ansible-doc and friends by name), no colour codes."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["NO_COLOR"] = "1"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["PY_COLORS"] = "0"
    env.update(extra)
    return env


def run(command, cwd=None, env=None, timeout=300):
    """Run `command`; return the CompletedProcess with stdout and stderr merged into `.stdout`."""
    return subprocess.run(
        command, cwd=cwd, env=env or tool_env(), timeout=timeout,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )


def describe(result):
    """A failure message with the command, its exit code and its output."""
    return "%s exited with %s:\n%s" % (" ".join(result.args), result.returncode, result.stdout)
