"""The built tarball ships exactly the committed file list, everything users need, no dev files."""
import fnmatch
import glob
import os

from tests.packaging import collection_files

REPO_ROOT = collection_files.REPO_ROOT
GALAXY_SIZE_LIMIT = 2 * 1024 * 1024  # Galaxy refuses larger collection artifacts

# What a user of the installed collection (or ansible-builder, or ansible-test) relies on.
REQUIRED_FILES = [
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "requirements.txt",
    "bindep.txt",
    "meta/runtime.yml",
    "meta/extensions.yml",
    "meta/execution-environment.yml",
    "extensions/eda/plugins/event_source/notifications.py",
    "extensions/eda/plugins/event_source/schemas/notifications.json",
    "extensions/eda/plugins/event_source/credential_types/hmc-eda-controller/input.yml",
    "extensions/eda/plugins/event_source/credential_types/hmc-eda-controller/injectors.yml",
    "extensions/eda/plugins/event_source/credential_types/hmc-automation-controller/input.yml",
    "extensions/eda/plugins/event_source/credential_types/hmc-automation-controller/injectors.yml",
    "changelogs/changelog.yaml",
    "changelogs/config.yaml",
    "tests/config.yml",
]
# Shipped as a whole: every file of these kinds in the checkout must be in the tarball.
SHIPPED_GLOBS = [
    "plugins/*/*.py",
    "extensions/eda/plugins/event_source/*.py",
    "extensions/eda/plugins/event_source/schemas/*.json",
    "extensions/eda/plugins/event_source/credential_types/*/*.yml",
    "roles/*/README.md",
    "extensions/eda/rulebooks/*.yml",
    "playbooks/*.yml",
    "roles/*/*/*.yml",
    "hmcsim/*.py",
    "docs/*.md",
]
# Development-only content that must never reach users.
FORBIDDEN_PATTERNS = [
    ".git/*", ".venv*", ".build/*", ".config/*", ".ci/*", ".cache/*", ".hypothesis/*",
    "*/__pycache__/*", "*.pyc", "*.tar.gz",
    "tests/unit/*", "tests/integration/*", "tests/reliability/*", "tests/support/*",
    "tests/packaging/*", "tests/output/*", "tests/conftest.py", "tests/__init__.py",
    "benchmarks/*", "demo/*", "Makefile", "pytest.ini", "ruff.toml", ".ansible-lint",
    "decision-environment.yml",
]


def test_tarball_matches_committed_manifest(collection_tarball):
    shipped = collection_files.tarball_files(collection_tarball)
    committed = collection_files.committed_manifest()
    added = sorted(set(shipped) - set(committed))
    removed = sorted(set(committed) - set(shipped))
    assert not added and not removed, (
        "the tarball's file list drifted from .config/manifest.txt; if the change is intended, "
        "run `make manifest` and commit the result.\nnew in the tarball: %s\nmissing from the tarball: %s"
        % (added, removed)
    )


def test_tarball_ships_what_users_need(collection_tarball):
    shipped = set(collection_files.tarball_files(collection_tarball))
    missing = [path for path in REQUIRED_FILES if path not in shipped]
    assert not missing, "the tarball lacks %s" % missing


def test_tarball_ships_every_plugin_rulebook_and_doc_of_the_checkout(collection_tarball):
    shipped = set(collection_files.tarball_files(collection_tarball))
    in_checkout = set()
    for pattern in SHIPPED_GLOBS:
        for path in glob.glob(os.path.join(REPO_ROOT, pattern)):
            in_checkout.add(os.path.relpath(path, REPO_ROOT))
    assert any(path.startswith("plugins/modules/") for path in in_checkout), "no modules found in the checkout"
    missing = sorted(in_checkout - shipped)
    assert not missing, "files of the checkout are missing from the tarball (galaxy.yml build_ignore?): %s" % missing


def test_tarball_ships_no_development_files(collection_tarball):
    shipped = collection_files.tarball_files(collection_tarball)
    leaked = sorted(
        path for path in shipped
        if any(fnmatch.fnmatch(path, pattern) for pattern in FORBIDDEN_PATTERNS)
    )
    assert not leaked, "development files in the tarball (add them to galaxy.yml build_ignore): %s" % leaked


def test_tarball_fits_galaxy_size_limit(collection_tarball):
    size = os.path.getsize(collection_tarball)
    assert size < GALAXY_SIZE_LIMIT, "tarball is %d bytes; Galaxy accepts at most %d" % (size, GALAXY_SIZE_LIMIT)

