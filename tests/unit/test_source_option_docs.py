"""The plugin's DOCUMENTATION and JSON schema are the ones the option table gives."""
import os
import runpy

import yaml

from ansible_collections.zhmc.eda.plugins.module_utils import source_option_docs as docs
from ansible_collections.zhmc.eda.plugins.module_utils.source_option_table import SOURCE_OPTIONS

PLUGIN_RELATIVE = os.path.join("extensions", "eda", "plugins", "event_source", "notifications.py")


def test_plugin_documentation_is_generated_from_the_option_table(collection_root):
    namespace = runpy.run_path(os.path.join(collection_root, PLUGIN_RELATIVE))
    shipped = yaml.safe_load(namespace["DOCUMENTATION"])
    assert shipped == docs.documentation(), (
        "the plugin's DOCUMENTATION is stale; run make source-docs")


def test_every_description_reaches_documentation_and_schema_alike():
    """One text per option: DOCUMENTATION has it with markup, the schema without."""
    documented = docs.documentation()["options"]
    schema = docs.json_schema()["properties"]
    for name, spec in SOURCE_OPTIONS.items():
        text = documented[name]["description"]
        joined = "\n\n".join(text) if isinstance(text, list) else text
        assert docs.plain(joined) == schema[name]["description"], name
        assert "O(" not in schema[name]["description"] and "C(" not in schema[name]["description"]


def test_markup_is_removed_for_the_schema():
    assert docs.plain("Give O(hmc_auth.password) or C(HMC_PASSWORD).\n\nSecond  line.") == (
        "Give hmc_auth.password or HMC_PASSWORD.\n\nSecond line.")
