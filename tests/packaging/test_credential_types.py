"""The credential type files the collection ships (extensions/eda/plugins/event_source/
credential_types/<name>/input.yml and injectors.yml, the layout of ansible.eda) have the shapes
EDA controller and automation controller accept, and inject what the collection's rulebooks
and job-template playbooks read.

The rules are those of the servers' validation, read from their public code (not imported):
eda-server aap_eda/core/utils/credentials.py (validate_schema, validate_injectors:
SUPPORTED_KEYS_IN_INJECTORS = env, extra_vars, file) and AWX awx/main/fields.py
(CredentialTypeInputField, CredentialTypeInjectorField).
"""
import glob
import os
import re

import jinja2
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tests.support.credential_types import credential_type, credential_types_dir

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EDA_TYPE = "hmc-eda-controller"
CONTROLLER_TYPE = "hmc-automation-controller"

# eda-server
EDA_INJECTOR_KEYS = {"env", "extra_vars", "file"}
EDA_RESERVED_EXTRA_VARS = {"ansible", "eda"}
EDA_FIELD_FORMATS = {"aes_key", "aes_salt", "binary_base64", "pem_certificate", "ssh_private_key", "url", "vault_id"}
# AWX
AWX_FIELD_KEYS = {"id", "label", "type", "format", "choices", "help_text", "multiline", "secret", "ask_at_runtime", "default"}
AWX_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
AWX_FILE_KEY = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")


@pytest.fixture(scope="module")
def shipped(collection_root):
    return {name: credential_type(name, collection_root) for name in (EDA_TYPE, CONTROLLER_TYPE)}


def _fields(ctype):
    return {field["id"]: field for field in ctype.inputs["fields"]}


def test_the_tarball_ships_exactly_the_two_credential_types(collection_root):
    found = sorted(os.path.relpath(path, credential_types_dir(collection_root))
                   for path in glob.glob(os.path.join(credential_types_dir(collection_root), "*", "*")))
    assert found == sorted("%s/%s" % (name, part) for name in (EDA_TYPE, CONTROLLER_TYPE)
                           for part in ("injectors.yml", "input.yml"))


def test_eda_controller_accepts_the_inputs(shipped):
    inputs = shipped[EDA_TYPE].inputs
    assert set(inputs) <= {"fields", "required"}
    assert isinstance(inputs["fields"], list) and inputs["fields"]
    ids = [field.get("id") for field in inputs["fields"]]
    assert len(ids) == len(set(ids)), "duplicate field ids"
    for field in inputs["fields"]:
        assert isinstance(field.get("id"), str) and isinstance(field.get("label"), str), field
        assert re.fullmatch(r"\w+", field["id"]) and not field["id"].upper().startswith("EDA_"), field
        assert field.get("type", "string") in ("string", "boolean"), field
        for key, kind in (("secret", bool), ("multiline", bool), ("help_text", str), ("format", str)):
            assert key not in field or isinstance(field[key], kind), (field["id"], key)
        assert "format" not in field or field["format"] in EDA_FIELD_FORMATS
        assert field.get("default") is None or isinstance(field["default"], (str, bool))
        assert not field.get("choices") or all(isinstance(c, str) for c in field["choices"])
    assert set(inputs.get("required", [])) <= set(ids)


def _eda_default_context(ctype):
    """What eda-server validates injector templates against: "" (True for booleans) per field,
    and eda.filename.<key> per file template."""
    context = {field["id"]: True if field.get("type") == "boolean" else field.get("default") or ""
               for field in ctype.inputs["fields"]}
    keys = [key.split(".", 1)[1] for key in (ctype.injectors.get("file") or {}) if "." in key]
    context["eda"] = {"filename": {key: "" for key in keys}}
    return context


def test_eda_controller_accepts_the_injectors(shipped):
    ctype = shipped[EDA_TYPE]
    injectors = ctype.injectors
    assert set(injectors) <= EDA_INJECTOR_KEYS
    seen = []
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    context = _eda_default_context(ctype)
    for section in ("extra_vars", "env", "file"):
        entries = injectors.get(section) or {}
        assert isinstance(entries, dict), section
        if section in ("extra_vars", "env"):
            assert not set(entries) & EDA_RESERVED_EXTRA_VARS, section
        for key, template in entries.items():
            assert key not in seen, "injector key %s twice (eda-server refuses duplicates across sections)" % key
            seen.append(key)
            if section == "file":
                parts = key.split(".")
                assert parts[0] == "template" and len(parts) <= 2, key
            env.from_string(template).render(context)  # no undefined field


def test_eda_credential_keeps_secrets_out_of_templating(shipped):
    """Secret fields reach the activation only as environment variables (the source reads them
    itself); the session id is the one secret that travels as a variable, as ibm.ibm_zhmc's does."""
    ctype = shipped[EDA_TYPE]
    secrets = {name for name, field in _fields(ctype).items() if field.get("secret")}
    assert {"password", "session_credential"} <= secrets
    for template in (ctype.injectors.get("extra_vars") or {}).values():
        used = set(re.findall(r"\{\{\s*(\w+)", template))
        assert not used & {"password", "session_credential"}, template
    env_of = {field: name for name, template in ctype.injectors["env"].items()
              for field in re.findall(r"\{\{\s*(\w+)", template)}
    assert env_of == {"password": "HMC_PASSWORD", "session_credential": "HMC_SESSION_CREDENTIAL"}


def _source_args(rulebook_path):
    with open(rulebook_path, encoding="utf-8") as handle:
        rulesets = yaml.safe_load(handle)
    return [source["zhmc.eda.notifications"] for ruleset in rulesets for source in ruleset["sources"]
            if "zhmc.eda.notifications" in source]


@pytest.mark.parametrize("rulebook", ["controller_job_completion", "controller_partition_not_operating",
                                      "controller_os_message_reply"])
def test_controller_rulebooks_read_what_the_eda_credential_injects(shipped, collection_root, rulebook):
    ctype = shipped[EDA_TYPE]
    [args] = _source_args(os.path.join(collection_root, "extensions", "eda", "rulebooks", rulebook + ".yml"))
    auth = args["hmc_auth"]
    injected_env = set(ctype.injectors["env"])
    for option in ("password_env", "session_credential_env"):
        assert option not in auth or auth[option] in injected_env, (option, auth[option])
    assert "password" not in auth and "session_credential" not in auth, "secrets must not be templated"
    ca_keys = [key.split(".", 1)[1] for key in ctype.injectors["file"]]
    assert auth["ca_certs"] == "{{ eda.filename.%s | default(none) }}" % ca_keys[0]
    variables = set(re.findall(r"\{\{\s*(\w+)", yaml.safe_dump(args)))
    assert {"hmc_host", "hmc_userid"} <= variables <= set(ctype.injectors["extra_vars"]) | {
        "eda", "hmc_ws_port", "hmc_stomp_port", "cpc_name", "partition_pattern"}


def test_automation_controller_accepts_the_inputs(shipped):
    inputs = shipped[CONTROLLER_TYPE].inputs
    assert set(inputs) <= {"fields", "required"}
    ids = []
    for field in inputs["fields"]:
        assert set(field) <= AWX_FIELD_KEYS and {"id", "label"} <= set(field), field
        assert AWX_NAME.match(field["id"]) and field["id"] != "tower", field
        assert field.get("type", "string") in ("string", "boolean")
        assert "format" not in field or field["format"] in ("ssh_private_key", "url")
        if field.get("type", "string") != "string":
            assert not set(field) & {"choices", "multiline", "format", "secret"}, field
        if "default" in field:
            assert isinstance(field["default"], str if field.get("type", "string") == "string" else bool)
        ids.append(field["id"])
    assert len(ids) == len(set(ids))
    assert set(inputs.get("required", [])) <= set(ids)


class _Namespace:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def test_automation_controller_accepts_the_injectors(shipped):
    ctype = shipped[CONTROLLER_TYPE]
    injectors = ctype.injectors
    assert set(injectors) <= {"file", "env", "extra_vars"}
    assert all(AWX_FILE_KEY.match(key) for key in injectors.get("file") or {})
    file_keys = [key.split(".", 1)[1] for key in injectors.get("file") or {}]
    assert "template" not in (injectors.get("file") or {}) or len(file_keys) == 0
    for name, value in (injectors.get("env") or {}).items():
        assert AWX_NAME.match(name) and not name.startswith("ANSIBLE_") and value.isascii()
    for name, value in (injectors.get("extra_vars") or {}).items():
        assert AWX_NAME.match(name) and isinstance(value, str)
    # Every template renders against the fields (AWX validates with 'EXAMPLE' values).
    context = {field["id"]: "EXAMPLE" for field in ctype.inputs["fields"]}
    context["tower"] = _Namespace(filename=_Namespace(**{key: "EXAMPLE_FILENAME" for key in file_keys}))
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    for section in injectors.values():
        for template in section.values():
            env.from_string(template).render(context)


@pytest.mark.parametrize("playbook", ["controller_reply_os_message", "controller_status_change"])
def test_job_playbooks_read_what_the_controller_credential_injects(shipped, collection_root, playbook):
    injected = set(shipped[CONTROLLER_TYPE].injectors["extra_vars"])
    with open(os.path.join(collection_root, "playbooks", playbook + ".yml"), encoding="utf-8") as handle:
        text = handle.read()
    expressions = " ".join(re.findall(r"\{\{(.*?)\}\}", text.split("\n- name:", 1)[1]))
    used = set(re.findall(r"\b(hmc_\w+)", expressions))
    # hmc_host and hmc_ws_port come from the rulebook (extra vars of the launch).
    assert used - {"hmc_host", "hmc_ws_port"} == injected, used
