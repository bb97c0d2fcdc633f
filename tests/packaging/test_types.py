"""The type checker (mypy, configured in mypy.ini) is clean on the collection's Python code:
plugins/module_utils, the event source plugin and hmcsim."""
import os

from tests.packaging.tools import describe, run, venv_tool
from tests.support import paths


def test_mypy_is_clean():
    dev = paths.DEV_COLLECTIONS
    # mypy reads the collection as ansible_collections.zhmc.eda, through the dev symlink farm
    link = os.path.join(dev, "ansible_collections", "zhmc", "eda")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(paths.REPO_ROOT, link)
    base = os.path.join("ansible_collections", "zhmc", "eda")
    files = [os.path.join(base, "extensions", "eda", "plugins", "event_source", "notifications.py")]
    files += sorted(os.path.join(base, "plugins", "module_utils", name)
                    for name in os.listdir(os.path.join(paths.REPO_ROOT, "plugins", "module_utils"))
                    if name.endswith(".py"))
    result = run([venv_tool("mypy"), "--config-file", os.path.join(paths.REPO_ROOT, "mypy.ini"),
                  "--no-incremental"] + files, cwd=dev, timeout=600)
    assert result.returncode == 0, describe(result)
    hmcsim = run([venv_tool("mypy"), "--config-file", os.path.join(paths.REPO_ROOT, "mypy.ini"),
                  "--no-incremental", "-p", "hmcsim"], cwd=paths.REPO_ROOT, timeout=600)
    assert hmcsim.returncode == 0, describe(hmcsim)
