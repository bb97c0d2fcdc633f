"""The tests/sanity/ignore-<ansible-core>.txt files: only the ignore ansible-lint's `sanity`
rule allows for an Apache-2.0 collection (`validate-modules:missing-gplv3-license`), one line
per module, for every ansible-core release the collection supports.

`make sanity-ignores` rewrites the files; tests/packaging/test_lint.py fails when they differ
from what this module generates (a module was added or removed).
"""
import glob
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANITY_DIR = os.path.join(REPO_ROOT, "tests", "sanity")
# Newest ansible-core minor release tests/requirements.txt allows (ansible-core<2.22).
NEWEST_CORE_MINOR = 21
# The only ignores ansible-lint's production profile accepts (docs.ansible.com lint rules/sanity).
ALLOWED_IGNORES = (
    "validate-modules:missing-gplv3-license",
    "action-plugin-docs",
    "import-2.6", "import-2.6!skip", "import-2.7", "import-2.7!skip", "import-3.5", "import-3.5!skip",
    "compile-2.6", "compile-2.6!skip", "compile-2.7", "compile-2.7!skip", "compile-3.5", "compile-3.5!skip",
    "shellcheck", "shebang", "pylint:used-before-assignment",
)


def oldest_core_minor():
    """The minor version of the oldest ansible-core in meta/runtime.yml requires_ansible."""
    with open(os.path.join(REPO_ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        match = re.search(r"requires_ansible:\s*['\"]>=\s*2\.(\d+)", handle.read())
    if not match:
        raise RuntimeError("meta/runtime.yml: requires_ansible is not of the form '>=2.N...'")
    return int(match.group(1))


def supported_core_versions():
    return ["2.%d" % minor for minor in range(oldest_core_minor(), NEWEST_CORE_MINOR + 1)]


def ignore_lines():
    modules = sorted(glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py")))
    return [
        "%s validate-modules:missing-gplv3-license  # Apache-2.0 collection (see LICENSE)" % os.path.relpath(path, REPO_ROOT)
        for path in modules
        if os.path.basename(path) != "__init__.py"
    ]


def expected_files():
    """{path: content} of every ignore file that should exist."""
    content = "".join(line + "\n" for line in ignore_lines())
    return {os.path.join(SANITY_DIR, "ignore-%s.txt" % version): content for version in supported_core_versions()}


def write_files():
    os.makedirs(SANITY_DIR, exist_ok=True)
    for path, content in expected_files().items():
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        sys.stdout.write("wrote %s\n" % os.path.relpath(path, REPO_ROOT))


if __name__ == "__main__":
    write_files()
