"""The source and the modules where OpenShift and EDA controller run them: an arbitrary uid
with no passwd entry, no supplementary groups, HOME unset or read-only, and only the places
the user configured writable. Afterwards the uid owns nothing but what the test gave it, and
nothing new appeared in what it was given beyond what the test names below.

ansible-rulebook finds collections by running `ansible-galaxy collection list`, and
ansible-core keeps a galaxy cache under ~/.ansible: with HOME unset (and no passwd entry)
that is a directory literally named "~" in the working directory; with a read-only HOME the
lookup fails unless ANSIBLE_GALAXY_CACHE_DIR names a writable directory (docs/eda-controller.md
says so). Those are ansible-core's files, not the collection's.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest
import yaml

from tests.support.requirements import require
from tests.support.rulebook import RulebookRun, write_rulebook
from tests.support.unprivileged import files_of, give, is_root, shadow_venv, unused_uid

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

CONNECTED_LINE = r"zhmc\.eda\.notifications connected to"
STOPPED_LINE = r"zhmc\.eda\.notifications stopped"
PASSWORD_ENV = "HMC_PASSWORD"


@pytest.fixture(scope="module")
def shadow_bin():
    require(is_root(), "root, to run processes as another uid")
    path = tempfile.mkdtemp(prefix="zeda-shadow-", dir="/tmp")
    os.chmod(path, 0o755)  # every uid runs it
    try:
        yield shadow_venv(os.path.join(path, "venv"))
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def uid():
    return unused_uid()


@pytest.fixture
def workdir(uid):
    """The uid's working directory, the one place it may write to."""
    path = tempfile.mkdtemp(prefix="zeda-uid-", dir="/tmp")
    give(path, uid)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _tree(root):
    """Every path under root, relative to it."""
    found = set()
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


def _dir_for(uid, workdir, name):
    path = os.path.join(workdir, name)
    os.mkdir(path)
    return give(path, uid)


def _inside(workdir):
    """workdir and everything under it, as absolute paths."""
    return {workdir} | {os.path.join(workdir, path) for path in _tree(workdir)}


def _copy_for(uid, source, workdir, name):
    target = os.path.join(workdir, name)
    shutil.copyfile(source, target)
    return give(target, uid, 0o600)


def _rulebook(sim, ca_file):
    return [{
        "name": "zhmc.eda as an arbitrary uid", "hosts": "all", "gather_facts": False,
        "sources": [{"name": "hmc", "zhmc.eda.notifications": {
            "hmc_host": sim.host,
            "hmc_auth": {"userid": sim.userid, "password": "{{ %s }}" % PASSWORD_ENV, "ca_certs": ca_file},
            "ws_port": sim.ws_port, "stomp_port": sim.stomp_port,
            "os_message_channels": [{"cpc": "CPC1", "partition": "PART1"}],
            "include_refresh_messages": False,
        }}],
        "rules": [{"name": "print", "condition": "event.hmc is defined", "action": {"print_event": {}}}],
    }]


def _run_source(sim, collections_path, shadow_bin, uid, workdir, marker, **run_options):
    """ansible-rulebook with the source as `uid`: connect, one OS message, SIGTERM."""
    ca_file = _copy_for(uid, sim.ca_file, workdir, "hmc-ca.pem")
    path = give(write_rulebook(workdir, _rulebook(sim, ca_file)), uid, 0o600)
    run = RulebookRun(path, workdir, collections_path, variables={}, env_vars={PASSWORD_ENV: sim.password},
                      user=uid, executable=os.path.join(shadow_bin, "ansible-rulebook"), **run_options)
    run.extra_env["PATH"] = shadow_bin + os.pathsep + "/usr/bin:/bin"
    with run:
        run.wait_for(CONNECTED_LINE, timeout=90)
        sim.emit_os_messages("CPC1", "PART1", [marker])
        run.wait_for_events(lambda evs: any(marker in json.dumps(ev) for ev in evs), timeout=30)
        code, _seconds = run.terminate(timeout=20, sig=signal.SIGTERM)
        run.wait_for(STOPPED_LINE, timeout=1)
    assert code == 0, run.tail()
    assert sim.password not in run.output
    return run


@pytest.mark.rulebook_lines
def test_source_runs_as_an_arbitrary_uid_without_home(hmcsim, collections_path, shadow_bin, uid, workdir):
    before = _tree(workdir)
    _run_source(hmcsim, collections_path, shadow_bin, uid, workdir, "NO-HOME-1", unset_env=("HOME",))
    # Only ansible-galaxy's cache directory (under a literal "~", HOME being unset) is new.
    new = _tree(workdir) - before - {"hmc-ca.pem", "rulebook.yml", "inventory.yml", "vars.yml"}
    assert new <= {"~", "~/.ansible", "~/.ansible/galaxy_cache"}, sorted(new)
    assert not any(os.path.isfile(os.path.join(workdir, path)) for path in new), sorted(new)
    assert set(files_of(uid)) <= _inside(workdir), "the uid wrote outside its working directory"


def test_source_runs_with_a_read_only_home(hmcsim, collections_path, shadow_bin, uid, workdir):
    home = tempfile.mkdtemp(prefix="zeda-home-", dir="/tmp")   # root's, mode 0555 for the uid
    os.chmod(home, 0o555)
    cache = _dir_for(uid, workdir, "galaxy-cache")
    try:
        before = _tree(workdir)
        _run_source(hmcsim, collections_path, shadow_bin, uid, workdir, "RO-HOME-1",
                    extra_env={"HOME": home, "ANSIBLE_GALAXY_CACHE_DIR": cache})
        assert _tree(home) == set(), "something was written to HOME"
        new = _tree(workdir) - before - {"hmc-ca.pem", "rulebook.yml", "inventory.yml", "vars.yml"}
        assert new == set(), sorted(new)
        assert set(files_of(uid)) == _inside(workdir), "the uid wrote outside its working directory"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_modules_run_as_an_arbitrary_uid_without_home(hmcsim, collections_path, shadow_bin, uid, workdir):
    sim = hmcsim
    ca_file = _copy_for(uid, sim.ca_file, workdir, "hmc-ca.pem")
    tmp = _dir_for(uid, workdir, "ansible-tmp")
    hmc = {"hmc_host": "%s:%d" % (sim.host, sim.ws_port),
           "hmc_auth": {"userid": sim.userid, "password": "{{ hmc_password }}", "ca_certs": ca_file}}
    play = [{
        "name": "zhmc.eda modules as an arbitrary uid", "hosts": "localhost", "connection": "local",
        "gather_facts": False, "vars": {"ansible_python_interpreter": os.path.join(shadow_bin, "python")},
        "tasks": [
            {"name": "Log on", "zhmc.eda.session": hmc, "register": "session"},
            {"name": "Topics", "zhmc.eda.notification_topics_info": {
                "hmc_host": "{{ session.hmc_host }}", "hmc_auth": "{{ session.hmc_auth }}"}},
            {"name": "Find PART1", "zhmc.eda.os_objects_info": {
                "hmc_host": "{{ session.hmc_host }}", "hmc_auth": "{{ session.hmc_auth }}",
                "cpc_name": "CPC1", "partition_name": "PART1"}, "register": "found"},
            {"name": "Check", "ansible.builtin.assert": {"that": ["found.objects | map(attribute='name') | list == ['PART1']"]}},
            {"name": "Log off", "zhmc.eda.session": {
                "hmc_host": "{{ session.hmc_host }}", "hmc_auth": "{{ session.hmc_auth }}", "state": "absent"}},
        ],
    }]
    files = {"play.yml": yaml.safe_dump(play), "secrets.yml": yaml.safe_dump({"hmc_password": sim.password}),
             "inventory.yml": "localhost\n"}
    for name, text in files.items():
        with open(os.path.join(workdir, name), "w", encoding="utf-8") as handle:
            handle.write(text)
        give(os.path.join(workdir, name), uid, 0o600)
    before = _tree(workdir)
    env = {"PATH": shadow_bin + os.pathsep + "/usr/bin:/bin", "ANSIBLE_COLLECTIONS_PATH": collections_path,
           # what the user configures (automation controller's execution environments do)
           "ANSIBLE_LOCAL_TEMP": tmp, "ANSIBLE_REMOTE_TEMP": tmp, "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(
        [os.path.join(shadow_bin, "ansible-playbook"), "-i", "inventory.yml", "play.yml", "-e", "@secrets.yml"],
        cwd=workdir, env=env, user=uid, group=uid, extra_groups=[], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "ok=5" in result.stdout and "failed=0" in result.stdout, result.stdout[-2000:]
    assert sim.password not in result.stdout
    new = _tree(workdir) - before
    assert new == set(), "files left in the working directory: %s" % sorted(new)
    assert os.listdir(tmp) == [], "files left in ANSIBLE_LOCAL_TEMP: %s" % os.listdir(tmp)
    assert set(files_of(uid)) == _inside(workdir), "the uid wrote outside its working directory"
