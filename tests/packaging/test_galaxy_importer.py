"""galaxy-importer, the importer Galaxy and Automation Hub run on every upload, accepts the
tarball with no warning other than the one about the sanity ignore files (ansible-test off:
it needs containers; tests/packaging/test_sanity.py runs sanity locally)."""
import json
import os
import sys

import pytest

from tests.packaging import collection_files
from tests.packaging.tools import describe, run, tool_env

CONFIG = os.path.join(collection_files.REPO_ROOT, ".config", "galaxy-importer.cfg")
# The one warning the sanity ignore files earn (they hold only what ansible-lint allows).
ACCEPTED_WARNING = "WARNING: Ignore files skip ansible-test sanity tests"


@pytest.fixture(scope="module")
def importer_run(collection_tarball, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("galaxy-importer")
    env = tool_env(
        GALAXY_IMPORTER_CONFIG=CONFIG,
        # Its scratch space in the test's directory, not under $HOME.
        GALAXY_IMPORTER_TMP_ROOT_DIR=str(workdir),
        GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=str(workdir / "ansible-tmp"),
    )
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)  # it installs the tarball where it wants it
    result = run([sys.executable, "-m", "galaxy_importer.main", collection_tarball], cwd=str(workdir),
                 env=env, timeout=600)
    with open(workdir / "importer_result.json", encoding="utf-8") as handle:
        return result, json.load(handle)


@pytest.mark.slow
@pytest.mark.timeout(660)
def test_galaxy_importer_accepts_the_tarball(importer_run):
    result, _data = importer_run
    assert result.returncode == 0, describe(result)
    assert "Importer processing completed successfully" in result.stdout, describe(result)
    problems = [line for line in result.stdout.splitlines()
                if line.startswith(("WARNING", "ERROR")) and not line.startswith(ACCEPTED_WARNING)]
    assert not problems, "galaxy-importer warned:\n%s\n\n%s" % ("\n".join(problems), describe(result))


def test_galaxy_importer_sees_the_collection_content(importer_run):
    _result, data = importer_run
    meta = collection_files.galaxy_metadata()
    assert data["metadata"]["namespace"] == meta["namespace"] and data["metadata"]["name"] == meta["name"]
    found = {(item["content_type"], item["name"]) for item in data["contents"]}
    assert ("role", "hmcsim") in found and ("role", "watch_os_messages") in found
    assert any(kind == "eda/plugins/event_source" and name == "notifications" for kind, name in found), sorted(found)
    modules = {name for kind, name in found if kind == "module"}
    expected = {os.path.splitext(name)[0] for name in os.listdir(os.path.join(collection_files.REPO_ROOT, "plugins", "modules"))
                if name.endswith(".py") and name != "__init__.py"}
    assert modules == expected
    # The README each role needs ("No role readme found" otherwise) reached the docs Galaxy renders.
    roles = {item["content_name"]: item for item in data["docs_blob"]["contents"] if item["content_type"] == "role"}
    assert all(roles[name]["readme_html"] for name in ("hmcsim", "watch_os_messages")), sorted(roles)
