"""CHANGELOG.md from the changelog fragments, as `antsibull-changelog release` will write it.

The version in galaxy.yml is released by running `antsibull-changelog release` in the
checkout (it records the fragments in changelogs/changelog.yaml). Until then the committed
CHANGELOG.md is this preview, so that readers see what is coming; `make changelog` rewrites
it and tests/packaging/test_changelog.py fails when it is out of date with the fragments.

antsibull-changelog lists new modules with ansible-doc, so it runs on a copy of the built
collection at <tmp>/ansible_collections/zhmc/eda with the checkout's changelogs/ and galaxy.yml.
"""
import os
import shutil
import sys
import tarfile
import tempfile

import yaml

from tests.packaging import collection_files
from tests.packaging.tools import describe, run, tool_env, venv_tool

REPO_ROOT = collection_files.REPO_ROOT
CHANGELOG_PATH = os.path.join(REPO_ROOT, "CHANGELOG.md")
# antsibull-changelog stores the date in changelog.yaml only; CHANGELOG.md does not show it.
PREVIEW_DATE = "2000-01-01"


def render(tarball, workdir):
    """Return the CHANGELOG.md text for the fragments in the checkout."""
    meta = collection_files.galaxy_metadata()
    collections = os.path.join(workdir, "collections")
    root = os.path.join(collections, "ansible_collections", meta["namespace"], meta["name"])
    os.makedirs(root)
    with tarfile.open(tarball, "r:gz") as archive:
        archive.extractall(root, filter="data")
    shutil.rmtree(os.path.join(root, "changelogs"), ignore_errors=True)
    shutil.copytree(os.path.join(REPO_ROOT, "changelogs"), os.path.join(root, "changelogs"))
    shutil.copyfile(os.path.join(REPO_ROOT, "galaxy.yml"), os.path.join(root, "galaxy.yml"))
    with open(os.path.join(root, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        released = (yaml.safe_load(handle) or {}).get("releases") or {}
    if str(meta["version"]) in released:
        command = [venv_tool("antsibull-changelog"), "generate"]
    else:
        command = [venv_tool("antsibull-changelog"), "release", "--version", str(meta["version"]), "--date", PREVIEW_DATE]
    result = run(command, cwd=root, env=tool_env(ANSIBLE_COLLECTIONS_PATH=collections), timeout=300)
    if result.returncode != 0:
        raise RuntimeError(describe(result))
    with open(os.path.join(root, "CHANGELOG.md"), encoding="utf-8") as handle:
        return handle.read()


def main():
    with tempfile.TemporaryDirectory(prefix="zeda-changelog-") as workdir:
        tarball = collection_files.build_tarball(os.path.join(workdir, "dist"))
        text = render(tarball, os.path.join(workdir, "work"))
    with open(CHANGELOG_PATH, "w", encoding="utf-8") as handle:
        handle.write(text)
    sys.stdout.write("wrote %s\n" % os.path.relpath(CHANGELOG_PATH, REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
