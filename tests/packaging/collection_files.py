"""What goes into the collection tarball: build it, list it, compare it with .config/manifest.txt.

`make manifest` runs `python -m tests.packaging.collection_files <tarball>` and writes its
output to .config/manifest.txt; tests/packaging/test_manifest.py fails when the tarball drifts
from that committed list.
"""
import os
import shutil
import subprocess
import sys
import tarfile

import yaml

from tests.packaging.tools import venv_tool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST_PATH = os.path.join(REPO_ROOT, ".config", "manifest.txt")


def galaxy_metadata():
    """The parsed galaxy.yml of the checkout."""
    with open(os.path.join(REPO_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def tarball_name():
    """`zhmc-eda-<version>.tar.gz` for the version in galaxy.yml."""
    meta = galaxy_metadata()
    return "%s-%s-%s.tar.gz" % (meta["namespace"], meta["name"], meta["version"])


def build_tarball(output_dir):
    """Build the collection from the checkout into `output_dir`; return the tarball path."""
    subprocess.run(
        [venv_tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", output_dir, REPO_ROOT],
        check=True, capture_output=True, text=True, timeout=300,
    )
    path = os.path.join(output_dir, tarball_name())
    if not os.path.isfile(path):
        raise RuntimeError("ansible-galaxy collection build wrote no %s" % path)
    return path


def checkout_files():
    """The checkout's tracked and new (not ignored) files, as `git ls-files` lists them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, check=True, capture_output=True, timeout=60,
    ).stdout.decode("utf-8")
    return sorted(path for path in listed.split("\0") if path and os.path.isfile(os.path.join(REPO_ROOT, path)))


def copy_checkout(dest):
    """Copy the checkout's files (what a fresh clone plus the uncommitted changes holds) to `dest`."""
    for path in checkout_files():
        target = os.path.join(dest, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(REPO_ROOT, path), target, follow_symlinks=False)
    return dest


def tarball_files(path):
    """Sorted regular-file paths inside the tarball (directories are implied by them)."""
    with tarfile.open(path, "r:gz") as archive:
        return sorted(member.name for member in archive.getmembers() if member.isfile())


def committed_manifest():
    """The file list in .config/manifest.txt (comments and blank lines skipped)."""
    with open(MANIFEST_PATH, encoding="utf-8") as handle:
        lines = (line.strip() for line in handle)
        return [line for line in lines if line and not line.startswith("#")]


def render_manifest(files):
    """The text of .config/manifest.txt for `files`."""
    header = [
        "# Files in the zhmc.eda collection tarball (`ansible-galaxy collection build`).",
        "# Regenerate with `make manifest` after adding or removing shipped files;",
        "# tests/packaging/test_manifest.py fails when the tarball differs from this list.",
    ]
    return "\n".join(header + list(files)) + "\n"


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python -m tests.packaging.collection_files <tarball>\n")
        return 2
    sys.stdout.write(render_manifest(tarball_files(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
