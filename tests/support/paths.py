"""Where the collection under test is imported from.

`make test` builds the tarball, installs it into a throw-away collections path and exports
ZHMC_EDA_COLLECTIONS_PATH; the tests then import and run that installed copy. Without it
(a quick development run), a symlink farm pointing at this checkout stands in.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEV_COLLECTIONS = os.path.join(REPO_ROOT, ".build", "dev-collections")


def collections_path():
    """Return the directory that holds ansible_collections/zhmc/eda."""
    installed = os.environ.get("ZHMC_EDA_COLLECTIONS_PATH")
    if installed:
        if not os.path.isdir(os.path.join(installed, "ansible_collections", "zhmc", "eda")):
            raise RuntimeError(
                "ZHMC_EDA_COLLECTIONS_PATH=%s holds no ansible_collections/zhmc/eda; run 'make install'"
                % installed
            )
        return installed
    link = os.path.join(DEV_COLLECTIONS, "ansible_collections", "zhmc", "eda")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO_ROOT, link)
    return DEV_COLLECTIONS


def collection_root():
    """Return the directory of the collection under test (installed copy or checkout)."""
    return os.path.join(collections_path(), "ansible_collections", "zhmc", "eda")


def setup_sys_path():
    """Make `ansible_collections.zhmc.eda` and `hmcsim` importable, collection first."""
    path = collections_path()
    if path not in sys.path:
        sys.path.insert(0, path)
    if REPO_ROOT not in sys.path:
        sys.path.append(REPO_ROOT)
