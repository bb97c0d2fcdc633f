"""Shared pytest set-up: import the collection under test, shared fixtures.

Fixture groups live in their own modules under tests/support/ (one owner each).
"""
import pytest

from tests.support import paths

paths.setup_sys_path()

pytest_plugins = [
    "tests.support.fixtures_hmcsim",
    "tests.support.fixtures_activemq",
]


@pytest.fixture(scope="session")
def collection_root():
    """The directory of the collection under test (the installed tarball under `make test`)."""
    return paths.collection_root()


@pytest.fixture(scope="session")
def collections_path():
    """The collections path to pass to ansible-rulebook / ansible-playbook."""
    return paths.collections_path()


@pytest.fixture
def tmp_state_dir(tmp_path_factory):
    """A short private directory (Unix socket paths must stay below 108 bytes)."""
    import tempfile

    return tempfile.mkdtemp(prefix="zeda-", dir="/tmp")
