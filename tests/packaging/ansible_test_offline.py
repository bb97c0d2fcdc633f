"""Let `ansible-test sanity` run without access to ci-files.testing.ansible.com.

ansible-test creates one virtualenv per sanity test and bootstraps pip in it with a script it
downloads, unless ~/.ansible/test/cache/get_pip_<version>.py already exists. A fresh machine
has no such cache and this project's machines cannot reach that host, so the test set-up puts
get_pip_standin.py there (it bootstraps pip from the interpreter's ensurepip). A real cached
get-pip script is left alone.
"""
import os
import re
import shutil

import ansible_test

STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "get_pip_standin.py")
CACHE_DIR = os.path.expanduser("~/.ansible/test/cache")
STANDIN_MARKER = "Offline stand-in for ansible-test's pip bootstrap script"


def bootstrap_pip_version():
    """The pip version ansible-test bootstraps into its venvs (from its own source)."""
    source = os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")
    with open(source, encoding="utf-8") as handle:
        match = re.search(r"pip='([0-9.]+)'", handle.read())
    if not match:
        raise RuntimeError("cannot find the bootstrap pip version in %s; update %s" % (source, __file__))
    return match.group(1)


def install_get_pip_standin():
    """Put the stand-in at ansible-test's cache path unless a real script is there; return the path."""
    path = os.path.join(CACHE_DIR, "get_pip_%s.py" % bootstrap_pip_version().replace(".", "_"))
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            if STANDIN_MARKER not in handle.read():
                return path  # a real get-pip script: use it
    os.makedirs(CACHE_DIR, exist_ok=True)
    shutil.copyfile(STANDIN, path)
    return path
