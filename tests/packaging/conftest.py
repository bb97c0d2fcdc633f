"""Fixtures for the packaging checks: the collection tarball and an extracted copy of it."""
import os
import tarfile

import pytest

from tests.packaging import collection_files


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    """The tarball under test: the one `make test` built (ZHMC_EDA_TARBALL), else a fresh build."""
    built = os.environ.get("ZHMC_EDA_TARBALL")
    if built:
        if not os.path.isfile(built):
            raise RuntimeError("ZHMC_EDA_TARBALL=%s does not exist; run `make build`" % built)
        return built
    return collection_files.build_tarball(str(tmp_path_factory.mktemp("dist")))


@pytest.fixture(scope="session")
def extracted_collection(collection_tarball, tmp_path_factory):
    """The tarball extracted to <tmp>/ansible_collections/zhmc/eda (ansible-test's required layout)."""
    meta = collection_files.galaxy_metadata()
    root = tmp_path_factory.mktemp("extracted") / "ansible_collections" / meta["namespace"] / meta["name"]
    root.mkdir(parents=True)
    with tarfile.open(collection_tarball, "r:gz") as archive:
        archive.extractall(root, filter="data")
    return str(root)
