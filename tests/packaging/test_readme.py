"""The README is what a user reads: its links resolve, it names every module, rulebook,
playbook and role, and its quick start (install the tarball into a fresh collections path,
run an example rulebook against the simulator) works as written."""
import glob
import os
import re
import shutil
import signal

import pytest

from tests.packaging import collection_files
from tests.packaging.tools import describe, run, tool_env
from tests.support.requirements import require

REPO_ROOT = collection_files.REPO_ROOT
README = os.path.join(REPO_ROOT, "README.md")
QUICK_START_MARKER = "<!-- README quick start: tests/packaging/test_readme.py runs this block as it is. -->"
REQUIRED_SECTIONS = [
    "Install", "From the Galaxy tarball", "From source", "Quick start", "Rulebook examples",
    "Event reference", "Modules", "Security", "Recovery behaviour", "Decision environment and EDA controller",
    "Troubleshooting", "The simulator (hmcsim)", "The two commands", "Supported versions",
]
LINKED_DOCS = ["docs/events.md", "docs/source.md", "docs/modules.md", "docs/hmcsim.md", "docs/performance.md",
               "docs/troubleshooting.md", "docs/decision-environment.md", "docs/eda-controller.md"]


def _readme():
    with open(README, encoding="utf-8") as handle:
        return handle.read()


def _names(pattern):
    return sorted(
        os.path.splitext(os.path.basename(path.rstrip("/")))[0]
        for path in glob.glob(os.path.join(REPO_ROOT, pattern))
        if not path.endswith("__init__.py")
    )


def test_readme_has_every_section():
    headings = {line.lstrip("#").strip() for line in _readme().splitlines() if line.startswith("#")}
    missing = [section for section in REQUIRED_SECTIONS if section not in headings]
    assert not missing, "README.md lacks the sections %s" % missing


def test_readme_relative_links_resolve():
    text = _readme()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert set(LINKED_DOCS) <= set(local), "README.md does not link %s" % sorted(set(LINKED_DOCS) - set(local))
    missing = sorted({link for link in local if not os.path.exists(os.path.join(REPO_ROOT, link))})
    assert not missing, "README.md links to files that do not exist: %s" % missing


def test_readme_names_every_module_rulebook_playbook_and_role():
    text = _readme()
    content = {
        "module": _names("plugins/modules/*.py"),
        "rulebook": _names("extensions/eda/rulebooks/*.yml"),
        "playbook": _names("playbooks/*.yml"),
        "role": _names("roles/*/"),
    }
    assert content["module"] and content["rulebook"]
    missing = ["%s zhmc.eda.%s" % (kind, name) for kind, names in content.items() for name in names
               if "zhmc.eda.%s`" % name not in text]
    assert not missing, "README.md does not mention %s" % missing


def _quick_start_script():
    text = _readme()
    assert QUICK_START_MARKER in text, "README.md has no quick start block marker"
    after = text.split(QUICK_START_MARKER, 1)[1]
    match = re.match(r"\s*```bash\n(.*?)\n```", after, re.S)
    assert match, "the quick start marker is not followed by a ```bash block"
    return match.group(1)


def _stop_leftover_simulators(directory):
    """Stop an hmcsim the script started but did not stop (the script failed half-way)."""
    for pid_file in glob.glob(os.path.join(directory, "**", "hmcsim.pid"), recursive=True):
        try:
            with open(pid_file, encoding="utf-8") as handle:
                os.kill(int(handle.read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass  # already gone


@pytest.mark.slow
@pytest.mark.jdk
@pytest.mark.timeout(420)
def test_readme_quick_start_runs_as_written(collection_tarball, tmp_path):
    require(shutil.which("java"), "a JDK >= 17 on PATH (ansible-rulebook)")
    require(shutil.which("curl"), "curl (the README's quick start uses it)")
    script = _quick_start_script()
    workdir = tmp_path / "user"
    workdir.mkdir()
    shutil.copyfile(collection_tarball, workdir / collection_files.tarball_name())
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # A user's shell: the test venv's tools on PATH, no collections path of the test run.
    env = tool_env(TMPDIR=str(scratch))
    for name in ("ANSIBLE_COLLECTIONS_PATH", "ZHMC_EDA_COLLECTIONS_PATH", "HMC_PASSWORD"):
        env.pop(name, None)
    try:
        result = run(["bash", "-c", script], cwd=str(workdir), env=env, timeout=400)
    finally:
        _stop_leftover_simulators(str(scratch))
    assert result.returncode == 0, describe(result)
    output = result.stdout
    # The held message ran the demo playbook (zhmc.eda.demo_report) ...
    assert re.search(r"DEMO PLAYBOOK: os-message[^\n]*PART1[^\n]*IEA000A Operator action needed", output), describe(result)
    # ... and the second message ended the rulebook by itself.
    assert "initiated shutdown" in output, describe(result)
    assert (workdir / "collections" / "ansible_collections" / "zhmc" / "eda" / "MANIFEST.json").is_file()
    # The password was only in the environment: not in the files the user wrote.
    assert "password" not in (workdir / "vars.yml").read_text(encoding="utf-8")
