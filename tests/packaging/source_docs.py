"""Write the source plugin's DOCUMENTATION and JSON schema from its option table.

    python -m tests.packaging.source_docs           # rewrite both (make source-docs)
    python -m tests.packaging.source_docs --check   # exit 1 when either is stale

The table is plugins/module_utils/source_option_table.py; the generators are in
source_option_docs.py. tests/unit/test_source_option_docs.py fails on drift.
"""
import json
import os
import re
import sys

import yaml

from tests.support import paths

paths.setup_sys_path()

from ansible_collections.zhmc.eda.plugins.module_utils.source_option_docs import (  # noqa: E402
    documentation, json_schema)

PLUGIN = os.path.join(paths.REPO_ROOT, "extensions", "eda", "plugins", "event_source",
                      "notifications.py")
SCHEMA = os.path.join(os.path.dirname(PLUGIN), "schemas", "notifications.json")
_DOC_BLOCK = re.compile(r'^DOCUMENTATION = r"""\n(.*?)^"""\n', re.S | re.M)


class _IndentedDumper(yaml.SafeDumper):
    """Indents list items under their key, as Ansible's documentation does."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def documentation_yaml():
    return yaml.dump(documentation(), Dumper=_IndentedDumper, sort_keys=False, width=92,
                     default_flow_style=False, allow_unicode=True)


def schema_text():
    return json.dumps(json_schema(), indent=4) + "\n"


def plugin_text():
    with open(PLUGIN, encoding="utf-8") as handle:
        text = handle.read()
    if not _DOC_BLOCK.search(text):
        raise SystemExit("%s has no DOCUMENTATION = r\"\"\" ... \"\"\" block" % PLUGIN)
    return _DOC_BLOCK.sub(lambda _m: 'DOCUMENTATION = r"""\n%s"""\n' % documentation_yaml(),
                          text, count=1)


def main(argv):
    wanted = {PLUGIN: plugin_text(), SCHEMA: schema_text()}
    stale = []
    for path, text in wanted.items():
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
        if current == text:
            continue
        stale.append(path)
        if "--check" not in argv:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
    if "--check" in argv and stale:
        sys.stderr.write("stale: %s; run make source-docs\n" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
