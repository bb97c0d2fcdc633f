"""The changelog is kept with antsibull-changelog fragments, and CHANGELOG.md is generated from them."""
import glob
import os

from tests.packaging import changelog_preview
from tests.packaging.tools import describe, run, venv_tool

REPO_ROOT = changelog_preview.REPO_ROOT


def test_changelog_fragments_and_config_pass_antsibull_changelog_lint():
    assert glob.glob(os.path.join(REPO_ROOT, "changelogs", "fragments", "*.yml")), "no changelog fragments"
    result = run([venv_tool("antsibull-changelog"), "lint"], cwd=REPO_ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), describe(result)


def test_changelog_yaml_is_valid():
    result = run([venv_tool("antsibull-changelog"), "lint-changelog-yaml", "changelogs/changelog.yaml"], cwd=REPO_ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), describe(result)


def test_committed_changelog_is_generated_from_the_fragments(collection_tarball, tmp_path):
    expected = changelog_preview.render(collection_tarball, str(tmp_path / "work"))
    with open(changelog_preview.CHANGELOG_PATH, encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == expected, "CHANGELOG.md is out of date with changelogs/fragments; run `make changelog`"
