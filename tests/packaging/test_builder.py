"""The decision environment definition: `ansible-builder create` makes a build context whose
Containerfile installs ansible-rulebook, a JDK, this collection and the collection's Python
dependencies; the installed collection declares those dependencies to ansible-builder."""
import filecmp
import os
import shlex
import shutil
import sys

from importlib import metadata

import pytest
import yaml
from packaging.requirements import Requirement

from tests.packaging import collection_files
from tests.packaging.tools import describe, run, tool_env, venv_tool

REPO_ROOT = collection_files.REPO_ROOT
DE_FILE = os.path.join(REPO_ROOT, "decision-environment.yml")
# What the source plugin and the modules import (requirements.txt) and what runs them.
COLLECTION_PYTHON_DEPS = {"stomp-py", "requests"}
RULEBOOK_PYTHON_DEPS = {"ansible-rulebook"}
JDK_PACKAGES = ("java-17-openjdk-devel", "java-17-openjdk-headless", "java-21-openjdk-devel", "java-21-openjdk-headless")


def _requirement_names(lines):
    names = set()
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            names.add(Requirement(text).name.lower().replace("_", "-").replace(".", "-"))
    return names


def _read_lines(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


@pytest.fixture(scope="module")
def de_definition():
    with open(DE_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def build_context(collection_tarball, tmp_path_factory):
    """`ansible-builder create` run as a user would: next to the DE file, `make build`'s tarball."""
    workdir = tmp_path_factory.mktemp("de")
    shutil.copyfile(DE_FILE, workdir / "decision-environment.yml")
    dist = workdir / ".build" / "dist"
    dist.mkdir(parents=True)
    shutil.copyfile(collection_tarball, dist / collection_files.tarball_name())
    context = workdir / "context"
    result = run(
        [venv_tool("ansible-builder"), "create", "-f", "decision-environment.yml", "--context", str(context),
         "--output-filename", "Containerfile"],
        cwd=str(workdir),
    )
    assert result.returncode == 0, describe(result)
    return context


@pytest.fixture(scope="module")
def galaxy_stage_collections(collection_tarball, tmp_path_factory):
    """The collection installed the way the Containerfile's galaxy stage installs it."""
    path = tmp_path_factory.mktemp("de-collections")
    # Without the test run's collections path: ansible-galaxy would find the collection
    # installed there and install nothing.
    env = tool_env(ANSIBLE_COLLECTIONS_PATH=str(path))
    result = run([venv_tool("ansible-galaxy"), "collection", "install", "--force", "-p", str(path), collection_tarball], env=env)
    assert result.returncode == 0, describe(result)
    return str(path)


def test_decision_environment_uses_ansible_builder_v3_and_the_current_tarball(de_definition):
    assert de_definition["version"] == 3
    name = collection_files.tarball_name()
    collections = de_definition["dependencies"]["galaxy"]["collections"]
    assert [entry["name"] for entry in collections] == ["/build/collections/%s" % name], (
        "decision-environment.yml names another tarball than galaxy.yml's version builds (%s)" % name
    )
    sources = [entry["src"] for entry in de_definition["additional_build_files"]]
    assert sources == [".build/dist/%s" % name]


def test_containerfile_installs_rulebook_jdk_and_the_collection(build_context, collection_tarball):
    containerfile = (build_context / "Containerfile").read_text(encoding="utf-8")
    build = build_context / "_build"
    assert RULEBOOK_PYTHON_DEPS <= _requirement_names(_read_lines(build / "requirements.txt"))
    assert any(package in (build / "bindep.txt").read_text(encoding="utf-8") for package in JDK_PACKAGES)
    assert "install-from-bindep" in containerfile and "ENV JAVA_HOME=" in containerfile
    # The galaxy stage copies _build to /build and installs requirements.yml from there.
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    with open(build / "requirements.yml", encoding="utf-8") as handle:
        entries = yaml.safe_load(handle)["collections"]
    shipped = build / os.path.relpath(entries[0]["name"], "/build")
    assert shipped.is_file(), "the tarball named in requirements.yml is not in the build context"
    assert filecmp.cmp(shipped, collection_tarball, shallow=False)


def test_containerfile_introspection_adds_the_collection_dependencies(build_context, galaxy_stage_collections, tmp_path):
    """Run the context's own introspect.py with the arguments the Containerfile gives it."""
    containerfile = (build_context / "Containerfile").read_text(encoding="utf-8")
    lines = [line for line in containerfile.splitlines() if "/output/scripts/introspect.py" in line]
    assert len(lines) == 1, "no (or several) introspection steps in the Containerfile"
    arguments = shlex.split(lines[0])[3:]  # after RUN $PYCMD /output/scripts/introspect.py
    assert arguments[0] == "introspect"
    build = build_context / "_build"
    mapped = []
    for argument in arguments[1:]:
        option, _, value = argument.partition("=")
        if option in ("--user-pip", "--user-bindep"):
            value = str(build / os.path.basename(value))
        elif option in ("--write-pip", "--write-bindep"):
            value = str(tmp_path / os.path.basename(value))
        mapped.append("%s=%s" % (option, value))
    result = run(
        [sys.executable, str(build / "scripts" / "introspect.py"),
         "introspect"] + mapped + [galaxy_stage_collections],
    )
    assert result.returncode == 0, describe(result)
    python_lines = _read_lines(tmp_path / "requirements.txt")
    system_lines = _read_lines(tmp_path / "bindep.txt")
    names = _requirement_names(python_lines)
    assert COLLECTION_PYTHON_DEPS | RULEBOOK_PYTHON_DEPS <= names, python_lines
    assert any("from collection zhmc.eda" in line for line in python_lines), python_lines
    assert any("openjdk" in line and "[platform:rpm]" in line for line in system_lines), system_lines
    # The image's Python requirements are satisfiable together: this test venv holds one such set.
    for line in python_lines:
        requirement = Requirement(line.split("#", 1)[0].strip())
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), "%s, installed %s" % (requirement, installed)


def test_installed_collection_declares_its_dependencies_to_ansible_builder(collections_path):
    result = run([venv_tool("ansible-builder"), "introspect", "--sanitize", collections_path])
    assert result.returncode == 0, describe(result)
    data = yaml.safe_load(result.stdout.split("\n", 1)[1])  # after the "# Dependency data" line
    from_us = [line for line in data["python"] if "from collection zhmc.eda" in line]
    assert COLLECTION_PYTHON_DEPS == _requirement_names(from_us)
    assert any("openjdk" in line and "from collection zhmc.eda" in line for line in data["system"])
