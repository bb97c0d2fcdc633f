"""ruff and ansible-lint (production profile) are clean; sanity ignore files hold only allowed entries."""
import glob
import os

import pytest

from tests.packaging import collection_files, sanity_ignores
from tests.packaging.tools import describe, run, tool_env, venv_tool

REPO_ROOT = sanity_ignores.REPO_ROOT
RUFF_PATHS = ["plugins", "extensions", "tests/packaging"]


def test_ruff_is_clean_on_plugins_and_extensions():
    paths = [path for path in RUFF_PATHS if os.path.isdir(os.path.join(REPO_ROOT, path))]
    result = run([venv_tool("ruff"), "check", "--no-cache", "--config", os.path.join(REPO_ROOT, "ruff.toml")] + paths, cwd=REPO_ROOT)
    assert result.returncode == 0, describe(result)


@pytest.mark.timeout(600)
def test_ansible_lint_production_profile_passes_plainly_in_a_fresh_clone(tmp_path):
    # As Galaxy's importer, certification and contributors run it: `ansible-lint` with no
    # arguments and no collections path, in a copy of the checkout (tracked and new files,
    # none of the build or venv directories), with the project's own .ansible-lint.
    clone = str(tmp_path / "clone")
    collection_files.copy_checkout(clone)
    env = tool_env()
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
    result = run([venv_tool("ansible-lint")], cwd=clone, env=env, timeout=540)
    assert result.returncode == 0, describe(result)
    # The configuration asks for the production profile; the run says so (an edited config
    # cannot weaken the check silently).
    assert "Profile 'production' was required, and it passed" in result.stdout, describe(result)


def test_sanity_ignore_files_are_current():
    expected = sanity_ignores.expected_files()
    present = set(glob.glob(os.path.join(sanity_ignores.SANITY_DIR, "ignore-*.txt")))
    stale = sorted(os.path.relpath(path, REPO_ROOT) for path in present - set(expected))
    assert not stale, "ignore files for unsupported ansible-core versions: %s" % stale
    for path, content in expected.items():
        assert os.path.isfile(path), "%s is missing; run `make sanity-ignores`" % os.path.relpath(path, REPO_ROOT)
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == content, "%s is out of date; run `make sanity-ignores`" % os.path.relpath(path, REPO_ROOT)


def test_sanity_ignores_are_only_those_ansible_lint_allows():
    for path in glob.glob(os.path.join(sanity_ignores.SANITY_DIR, "ignore-*.txt")):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                entry = line.split("#", 1)[0].split()
                if not entry:
                    continue
                assert len(entry) == 2 and entry[1] in sanity_ignores.ALLOWED_IGNORES, (
                    "%s:%d: ignore %r is not allowed by ansible-lint's sanity rule" % (os.path.relpath(path, REPO_ROOT), number, line.strip())
                )
