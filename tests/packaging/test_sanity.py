"""`ansible-test sanity` on the built tarball, with the local Python only (no containers).

Runs every default sanity test for the running interpreter's version; the only ignores
allowed are those ansible-lint's `sanity` rule accepts (test_lint.py checks the ignore files).
"""
import os
import re
import sys

import pytest

from tests.packaging import ansible_test_offline
from tests.packaging.tools import describe, run, tool_env, venv_tool

PYTHON_VERSION = "%d.%d" % sys.version_info[:2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ansible_test_sanity_passes_on_the_tarball(extracted_collection):
    ansible_test_offline.install_get_pip_standin()
    env = tool_env()
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)  # ansible-test finds the collection from its cwd
    result = run(
        [venv_tool("ansible-test"), "sanity", "--python", PYTHON_VERSION, "--color", "no"],
        cwd=extracted_collection, env=env, timeout=840,
    )
    problems = [line for line in result.stdout.splitlines() if line.startswith(("ERROR:", "FATAL:"))]
    assert result.returncode == 0, "ansible-test sanity failed:\n%s\n\nfull output:\n%s" % ("\n".join(problems), describe(result))
    # Every default sanity test ran: one skipped for lack of its tool would hide problems.
    listed = run([venv_tool("ansible-test"), "sanity", "--list-tests"], cwd=extracted_collection, env=env)
    assert listed.returncode == 0, describe(listed)
    expected = {line.strip() for line in listed.stdout.splitlines() if re.fullmatch(r"[a-z0-9-]+", line.strip())}
    ran = set(re.findall(r'Running sanity test "([^"]+)"', result.stdout))
    assert expected and expected <= ran, "sanity tests that did not run: %s" % sorted(expected - ran)
    skipped = [line for line in result.stdout.splitlines() if "Skipping sanity test" in line]
    assert not skipped, "sanity tests skipped:\n%s" % "\n".join(skipped)


def test_get_pip_standin_is_installed_where_ansible_test_looks(tmp_path, monkeypatch):
    monkeypatch.setattr(ansible_test_offline, "CACHE_DIR", str(tmp_path))
    path = ansible_test_offline.install_get_pip_standin()
    version = ansible_test_offline.bootstrap_pip_version()
    assert os.path.basename(path) == "get_pip_%s.py" % version.replace(".", "_")
    with open(path, encoding="utf-8") as handle:
        assert ansible_test_offline.STANDIN_MARKER in handle.read()
    # A real get-pip script in the cache is never replaced.
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("# the real get-pip.py\n")
    ansible_test_offline.install_get_pip_standin()
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == "# the real get-pip.py\n"
