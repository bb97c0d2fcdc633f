"""The collection's credential type files, and what EDA controller and automation controller
make of them, for tests that run the zhmc.eda.controller_* rulebooks and their job templates.

    eda = credential_type("hmc-eda-controller")
    injected = inject_into_activation(eda, {"host": ..., "userid": ..., "password": ...}, workdir)
    injected.variables   # extra vars + eda.filename.<key>, as ansible-rulebook --worker sees them
    injected.env         # environment variables, as ansible-rulebook --worker exports them

    ctl = credential_type("hmc-automation-controller")
    job_vars = inject_into_job(ctl, {"userid": ..., "password": ...}, workdir)

The rendering follows the servers' code (read, not copied): eda-server renders extra_vars,
env and file templates with a sandboxed Jinja native environment and StrictUndefined over the
credential's inputs, writes no file for empty content, and ansible-rulebook --worker writes
each file (mode 0400) and exposes its path as eda.filename.<key>, exports the env vars and
also adds them to the variables. Automation controller renders with a sandboxed Jinja
environment, writes every file template and passes the extra vars as unsafe values.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import jinja2
import yaml
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tests.support.paths import collection_root

CREDENTIAL_TYPES_DIR = ("extensions", "eda", "plugins", "event_source", "credential_types")


class _NativeSandbox(ImmutableSandboxedEnvironment, NativeEnvironment):
    """What eda-server renders injectors with (a sandboxed environment with native types)."""


@dataclass
class CredentialType:
    name: str
    inputs: dict
    injectors: dict


@dataclass
class Injected:
    variables: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)


def credential_types_dir(root: str | None = None) -> str:
    return os.path.join(root or collection_root(), *CREDENTIAL_TYPES_DIR)


def credential_type(name: str, root: str | None = None) -> CredentialType:
    """The input.yml / injectors.yml pair of credential_types/<name> (installed collection)."""
    base = os.path.join(credential_types_dir(root), name)
    with open(os.path.join(base, "input.yml"), encoding="utf-8") as handle:
        inputs = yaml.safe_load(handle)
    with open(os.path.join(base, "injectors.yml"), encoding="utf-8") as handle:
        injectors = yaml.safe_load(handle)
    return CredentialType(name, inputs, injectors)


def _write_secret_file(directory: str, key: str, content: str) -> str:
    path = os.path.join(directory, "cred-%s" % key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(path, 0o400)
    return path


def inject_into_activation(ctype: CredentialType, values: dict, workdir: str) -> Injected:
    """What a rulebook activation gets from an EDA credential of this type with `values`."""
    env = _NativeSandbox(undefined=jinja2.StrictUndefined)
    injected = Injected()
    filenames = {}
    for template_key, template in (ctype.injectors.get("file") or {}).items():
        content = str(env.from_string(template).render(values))
        if not content:
            continue  # eda-server sends no file for empty content
        key = template_key.split(".", 1)[1]
        filenames[key] = _write_secret_file(workdir, key, content)
    for name, template in (ctype.injectors.get("extra_vars") or {}).items():
        injected.variables[name] = env.from_string(template).render(values)
    injected.variables["eda"] = {"filename": filenames}
    context = dict(values, eda=injected.variables["eda"])
    for name, template in (ctype.injectors.get("env") or {}).items():
        injected.env[name] = str(env.from_string(template).render(context))
    injected.files = filenames
    return injected


class _Namespace:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def inject_into_job(ctype: CredentialType, values: dict, workdir: str) -> Injected:
    """What a job gets from an automation controller credential of this type with `values`."""
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    files = {}
    for template_key, template in (ctype.injectors.get("file") or {}).items():
        key = template_key.split(".", 1)[1]
        files[key] = _write_secret_file(workdir, key, env.from_string(template).render(values))
    context = dict(values, tower=_Namespace(filename=_Namespace(**files)))
    injected = Injected(files=files)
    for name, template in (ctype.injectors.get("extra_vars") or {}).items():
        injected.variables[name] = env.from_string(template).render(context)
    for name, template in (ctype.injectors.get("env") or {}).items():
        injected.env[name] = env.from_string(template).render(context)
    return injected


class Unsafe(str):
    """A string written with YAML's !unsafe tag (how automation controller passes credential vars)."""


def _unsafe_representer(dumper: yaml.SafeDumper, value: Unsafe) -> yaml.Node:
    return dumper.represent_scalar("!unsafe", str(value), style="'")


class UnsafeDumper(yaml.SafeDumper):
    pass


UnsafeDumper.add_representer(Unsafe, _unsafe_representer)


def unsafe_vars_yaml(variables: dict) -> str:
    """`variables` as a YAML vars file whose string values are !unsafe (never templated)."""
    marked = {key: Unsafe(value) if isinstance(value, str) else value for key, value in variables.items()}
    return yaml.dump(marked, Dumper=UnsafeDumper, sort_keys=False)
