"""Documentation renders and tells the truth: ansible-doc for every module; the source plugin's
DOCUMENTATION, its JSON schema and its argument validation agree on the options."""
import ast
import glob
import importlib
import json
import os
import re

import jinja2
import jsonschema
import pytest
import yaml

from tests.packaging.tools import describe, run, tool_env, venv_tool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION = "zhmc.eda"
SOURCE_NAME = "notifications"
MODULE_NAMES = sorted(
    os.path.splitext(os.path.basename(path))[0]
    for path in glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py"))
    if not path.endswith("__init__.py")
)
# DOCUMENTATION option type -> JSON schema type(s) the source's schema must use for it.
SCHEMA_TYPES = {
    "str": {"string"}, "path": {"string"}, "int": {"integer"}, "float": {"number"},
    "bool": {"boolean"}, "list": {"array"}, "dict": {"object"}, "raw": None,
}


def _ansible_doc(collections_path, *arguments):
    return run([venv_tool("ansible-doc")] + list(arguments), env=tool_env(ANSIBLE_COLLECTIONS_PATH=collections_path))


@pytest.fixture(scope="module")
def module_docs(collections_path):
    """ansible-doc --json of every module, in one call."""
    result = _ansible_doc(collections_path, "--json", "-t", "module", *["%s.%s" % (COLLECTION, name) for name in MODULE_NAMES])
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout[result.stdout.index("{"):])


def test_the_collection_has_modules():
    assert MODULE_NAMES, "no plugins/modules/*.py found"


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_ansible_doc_renders_module(collections_path, name, module_docs):
    fqcn = "%s.%s" % (COLLECTION, name)
    result = _ansible_doc(collections_path, "-t", "module", fqcn)
    assert result.returncode == 0, describe(result)
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, describe(result)
    data = module_docs[fqcn]
    doc = data["doc"]
    rendered = " ".join(result.stdout.split())
    assert rendered.startswith("> MODULE %s " % fqcn), describe(result)
    assert doc.get("short_description"), "%s: DOCUMENTATION has no short_description" % fqcn
    assert not doc.get("options") or "OPTIONS" in rendered, describe(result)
    assert doc.get("version_added"), "%s: DOCUMENTATION has no version_added" % fqcn
    assert doc.get("author"), "%s: DOCUMENTATION has no author" % fqcn
    for option, spec in (doc.get("options") or {}).items():
        assert spec.get("description"), "%s: option %s has no description" % (fqcn, option)
    examples = yaml.safe_load(data["examples"] or "")
    assert isinstance(examples, list) and examples, "%s: EXAMPLES is not a list of tasks" % fqcn
    assert any(fqcn in task for task in examples if isinstance(task, dict)), "%s: no EXAMPLES task uses the FQCN" % fqcn
    assert data.get("return") is not None, "%s: RETURN is missing" % fqcn


def _module_constants(path, names):
    """String constants (DOCUMENTATION, EXAMPLES) of a Python file, read without importing it."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in names and isinstance(node.value, ast.Constant):
                found[node.targets[0].id] = node.value.value
    return found


@pytest.fixture(scope="module")
def source_files(collection_root):
    plugin_dir = os.path.join(collection_root, "extensions", "eda", "plugins", "event_source")
    constants = _module_constants(os.path.join(plugin_dir, SOURCE_NAME + ".py"), ("DOCUMENTATION", "EXAMPLES"))
    assert set(constants) == {"DOCUMENTATION", "EXAMPLES"}, "the source plugin lacks DOCUMENTATION or EXAMPLES"
    with open(os.path.join(plugin_dir, "schemas", SOURCE_NAME + ".json"), encoding="utf-8") as handle:
        schema = json.load(handle)
    return yaml.safe_load(constants["DOCUMENTATION"]), yaml.safe_load(constants["EXAMPLES"]), schema


@pytest.fixture(scope="module")
def source_options_module():
    return importlib.import_module("ansible_collections.zhmc.eda.plugins.module_utils.source_options")


def _example_source_args(examples):
    """The argument dicts of every `zhmc.eda.notifications` source in the EXAMPLES rulebooks."""
    found = []
    for ruleset in examples:
        for source in ruleset.get("sources", []):
            if "%s.%s" % (COLLECTION, SOURCE_NAME) in source:
                found.append(source["%s.%s" % (COLLECTION, SOURCE_NAME)])
    return found


def _rendered_like_ansible_rulebook(args):
    """The arguments as ansible-rulebook hands them to the source: templates rendered with its
    own function (StrictUndefined). Like a user, the test defines only the variables a template
    cannot do without (those without a `default`): a sample string, or an existing CA file for
    a variable that names one. ansible-rulebook has no `omit`: an example that relies on it
    fails here as it would in a real run."""
    import certifi
    from ansible_rulebook.util import substitute_variables

    context = {}
    for _attempt in range(100):
        try:
            rendered = substitute_variables(args, context)
            # A template that is one bare variable renders to the Undefined object itself.
            name = _first_undefined_name(rendered)
        except jinja2.UndefinedError as exc:
            match = re.search(r"'(\w+)' is undefined", str(exc))
            if not match:
                raise
            name = match.group(1)
        if name is None:
            return rendered
        if name == "omit" or name in context:
            raise AssertionError("%r: the variable %r is undefined (ansible-rulebook has no omit)" % (args, name))
        if name == "eda":  # what ansible-rulebook --worker (an activation) always defines
            context[name] = {"filename": {}}
        else:
            context[name] = certifi.where() if ("ca_cert" in name or name.endswith("_file")) else "sample-%s" % name.replace("_", "-")
    raise AssertionError("templates in %r need more than 100 variables" % (args,))


def _first_undefined_name(value):
    if isinstance(value, jinja2.Undefined):
        return getattr(value, "_undefined_name", None) or "?"
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in items:
        name = _first_undefined_name(item)
        if name:
            return name
    return None


def _option_names(table):
    """Option names from SOURCE_OPTIONS, whether it is a dict, or a sequence of names or of specs."""
    if isinstance(table, dict):
        return set(table)
    names = set()
    for item in table:
        names.add(item if isinstance(item, str) else getattr(item, "name", None) or item["name"])
    return names


def test_source_documentation_is_complete(source_files):
    doc, examples, _schema = source_files
    for key in ("short_description", "description", "version_added", "options"):
        assert doc.get(key), "the source's DOCUMENTATION lacks %s" % key
    for option, spec in doc["options"].items():
        assert spec.get("description") and spec.get("type"), "source option %s lacks a description or type" % option
    assert _example_source_args(examples), "EXAMPLES has no rulebook that uses %s.%s" % (COLLECTION, SOURCE_NAME)


def test_source_documentation_and_schema_list_the_same_options(source_files):
    doc, _examples, schema = source_files
    properties = schema.get("properties", {})
    assert set(doc["options"]) == set(properties), (
        "DOCUMENTATION only: %s; schema only: %s" % (sorted(set(doc["options"]) - set(properties)), sorted(set(properties) - set(doc["options"])))
    )
    for option, spec in doc["options"].items():
        expected = SCHEMA_TYPES[spec["type"]]
        declared = properties[option].get("type")
        if expected is not None:
            declared_set = set(declared) if isinstance(declared, list) else {declared}
            assert expected & declared_set, "option %s: DOCUMENTATION type %s, schema type %s" % (option, spec["type"], declared)
        if spec.get("suboptions"):
            # A list of dicts documents the dict's keys as suboptions; the schema has them under items.
            container = properties[option].get("items", {}) if spec["type"] == "list" else properties[option]
            schema_keys = set(container.get("properties", {}))
            assert set(spec["suboptions"]) == schema_keys, (
                "suboptions of %s: DOCUMENTATION %s, schema %s" % (option, sorted(spec["suboptions"]), sorted(schema_keys))
            )
    required = sorted(option for option, spec in doc["options"].items() if spec.get("required"))
    assert sorted(schema.get("required", [])) == required


def test_source_validation_accepts_exactly_the_documented_options(source_files, source_options_module):
    doc, _examples, _schema = source_files
    validated = _option_names(source_options_module.SOURCE_OPTIONS)
    assert validated == set(doc["options"]), (
        "DOCUMENTATION only: %s; validation only: %s" % (sorted(set(doc["options"]) - validated), sorted(validated - set(doc["options"])))
    )


def test_source_examples_pass_the_schema_and_the_validation(source_files, source_options_module):
    _doc, examples, schema = source_files
    for args in _example_source_args(examples):
        rendered = _rendered_like_ansible_rulebook(args)
        jsonschema.validate(rendered, schema)
        source_options_module.parse_source_args(rendered)


def _shipped_rulebooks():
    return sorted(glob.glob(os.path.join(REPO_ROOT, "extensions", "eda", "rulebooks", "*.yml")))


@pytest.mark.parametrize("rulebook", [os.path.basename(path) for path in _shipped_rulebooks()])
def test_shipped_rulebook_source_args_pass_the_schema_and_the_validation(rulebook, collection_root, source_files, source_options_module,
                                                                          monkeypatch):
    _doc, _examples, schema = source_files
    with open(os.path.join(collection_root, "extensions", "eda", "rulebooks", rulebook), encoding="utf-8") as handle:
        rulesets = yaml.safe_load(handle)
    for args in _example_source_args(rulesets):
        rendered = _rendered_like_ansible_rulebook(args)
        jsonschema.validate(rendered, schema)
        # secrets the source reads from the environment: what a credential would inject
        for key, value in (rendered.get("hmc_auth") or {}).items():
            if key.endswith("_env") and isinstance(value, str):
                monkeypatch.setenv(value, "injected-secret")
        source_options_module.parse_source_args(rendered)


def test_source_validation_accepts_documented_defaults_and_rejects_unknown_options(source_files, source_options_module):
    doc, examples, schema = source_files
    base = _rendered_like_ansible_rulebook(_example_source_args(examples)[0])
    for option, spec in doc["options"].items():
        if "default" in spec and spec["default"] is not None:
            args = dict(base, **{option: spec["default"]})
            jsonschema.validate(args, schema)
            source_options_module.parse_source_args(args)
        for suboption, subspec in (spec.get("suboptions") or {}).items():
            if isinstance(base.get(option), dict) and subspec.get("default") is not None:
                source_options_module.parse_source_args(dict(base, **{option: dict(base[option], **{suboption: subspec["default"]})}))
    with pytest.raises(ValueError, match="no_such_option"):
        source_options_module.parse_source_args(dict(base, no_such_option=1))
    for option, spec in doc["options"].items():
        if spec.get("suboptions") and isinstance(base.get(option), dict):
            with pytest.raises(ValueError, match="no_such_suboption"):
                source_options_module.parse_source_args(dict(base, **{option: dict(base[option], no_such_suboption=1)}))
