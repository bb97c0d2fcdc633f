"""The EDA controller examples end to end: a zhmc.eda.controller_* rulebook runs as an
activation would (the zhmc.eda EDA credential type's injectors rendered into its variables,
environment and CA file, as EDA controller and ansible-rulebook --worker do), against hmcsim;
its run_job_template action launches a job template on a loopback stand-in for automation
controller, which runs the job template's playbook from the installed collection with the
launch's extra vars and the zhmc.eda automation controller credential's variables. What the
job did is checked on hmcsim, not only in what it printed.
"""
import os
import shutil
import tempfile
import uuid

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClient
from tests.support.credential_types import credential_type, inject_into_activation, inject_into_job
from tests.support.fake_controller import FakeController
from tests.support.requirements import require
from tests.support.rulebook import RulebookRun

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

CONNECTED_LINE = r"zhmc\.eda\.notifications connected to"


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="zeda-ctl-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def controller(collections_path, workdir):
    with FakeController(collections_path, os.path.join(workdir, "controller")) as fake:
        yield fake


def _java_available():
    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def eda_credential(sim, **overrides):
    """The inputs of a zhmc.eda EDA credential for hmcsim (the user's form)."""
    values = {"host": sim.host, "userid": sim.userid, "password": sim.password,
              "ca_cert": _read(sim.ca_file)}
    values.update(overrides)
    return values


def controller_credential_vars(sim, workdir, **overrides):
    """The variables a job gets from a zhmc.eda automation controller credential for hmcsim."""
    values = {"userid": sim.userid, "password": sim.password, "ca_cert": _read(sim.ca_file)}
    values.update(overrides)
    job_dir = os.path.join(workdir, "job-credential")
    os.makedirs(job_dir, exist_ok=True)
    return inject_into_job(credential_type("hmc-automation-controller"), values, job_dir).variables


def activation(sim, workdir, collections_path, controller, rulebook, credential, variables=None):
    """ansible-rulebook with `rulebook` as an activation with that credential would run it."""
    injected = inject_into_activation(credential_type("hmc-eda-controller"), credential, workdir)
    # Activation variables: the injected extra vars (and eda.filename), hmcsim's ports.
    all_vars = dict(injected.variables, hmc_ws_port=sim.ws_port, hmc_stomp_port=sim.stomp_port)
    all_vars.update(variables or {})
    # The credential's environment variables are exported and, as --worker does, are
    # variables too (-E); the controller's URL and token only reach ansible-rulebook.
    return RulebookRun(
        "zhmc.eda." + rulebook, workdir, collections_path, variables=all_vars, env_vars=injected.env,
        extra_env={"EDA_CONTROLLER_URL": controller.url, "EDA_CONTROLLER_TOKEN": controller.token,
                   "EDA_JOB_TEMPLATE_REFRESH_DELAY": "0.2"})


def assert_no_secret(secrets, *outputs):
    for secret in secrets:
        for output in outputs:
            assert secret not in output


@pytest.mark.rulebook_lines
def test_os_message_reply_launches_the_reply_job(hmcsim, collections_path, workdir, controller):
    require(_java_available(), "a JDK >= 17 for ansible-rulebook")
    sim = hmcsim
    reply = "R 12,YES-%s" % uuid.uuid4().hex[:6]
    controller.add_template("zhmc.eda reply to OS message", "zhmc.eda.controller_reply_os_message",
                            credential_vars=controller_credential_vars(sim, workdir))
    run = activation(sim, workdir, collections_path, controller, "controller_os_message_reply",
                     eda_credential(sim), {"cpc_name": "CPC1", "partition_pattern": "PART1",
                                           "message_pattern": "^IEF238D", "reply_command": reply})
    with run:
        index, _ = run.wait_for(CONNECTED_LINE, timeout=90)
        sim.emit_os_messages("CPC1", "PART1", ["IEF238D JOB1 - REPLY DEVICE NAME OR 'CANCEL'."])
        job = controller.wait_for_job(timeout=90)
        assert job.status == "successful", job.run.output[-4000:]
        launched = job.launch_body["extra_vars"]
        event = launched["ansible_eda"]["event"]
        assert {key: launched[key] for key in ("hmc_host", "hmc_ws_port", "cpc_name", "partition_name",
                                               "lpar_name", "message_text", "reply_command", "event_uuid")} == {
            "hmc_host": sim.host, "hmc_ws_port": sim.ws_port, "cpc_name": "CPC1", "partition_name": "PART1",
            "lpar_name": "", "message_text": "IEF238D JOB1 - REPLY DEVICE NAME OR 'CANCEL'.",
            "reply_command": reply, "event_uuid": event["meta"]["uuid"]}
        assert "Replied %s to 'IEF238D JOB1" % reply in job.run.output
        # hmcsim echoes a received command on PART1's console, as an OS would; the rulebook
        # logs that message (it does not match the pattern, so no second job).
        run.wait_for(r"PART1: %s" % reply, timeout=30, start=index)
    assert len(controller.jobs) == 1
    assert_no_secret([sim.password], run.output, job.run.output, str(job.launch_body))


def test_partition_not_operating_launches_the_status_job(hmcsim, collections_path, workdir, controller):
    require(_java_available(), "a JDK >= 17 for ansible-rulebook")
    sim = hmcsim
    controller.add_template("zhmc.eda partition not operating", "zhmc.eda.controller_status_change",
                            credential_vars=controller_credential_vars(sim, workdir))
    # Without a CA certificate in the EDA credential, EDA controller writes no file and the
    # rulebook leaves hmc_auth.ca_certs unset: the CA comes from REQUESTS_CA_BUNDLE here, as a
    # CA the decision environment trusts would.
    credential = eda_credential(sim, ca_cert="")
    run = activation(sim, workdir, collections_path, controller, "controller_partition_not_operating",
                     credential)
    run.extra_env["REQUESTS_CA_BUNDLE"] = sim.ca_file
    with run:
        run.wait_for(CONNECTED_LINE, timeout=90)
        sim.set_status("CPC2", "LPAR2", "operating")       # an operating state: no job
        sim.set_status("CPC2", "LPAR2", "not-operating")
        job = controller.wait_for_job(timeout=90)
        assert job.status == "successful", job.run.output[-4000:]
        launched = job.launch_body["extra_vars"]
        assert {key: launched[key] for key in ("hmc_host", "cpc_name", "partition_name", "lpar_name",
                                               "object_class", "old_status", "new_status")} == {
            "hmc_host": sim.host, "cpc_name": "CPC2", "partition_name": "", "lpar_name": "LPAR2",
            "object_class": "logical-partition", "old_status": "operating", "new_status": "not-operating"}
        assert launched["event_uuid"] == launched["ansible_eda"]["event"]["meta"]["uuid"]
        # The job looked the LPAR up on the HMC with the controller credential.
        assert "its status now: not-operating" in " ".join(job.run.output.split()), job.run.output[-3000:]
        sim.set_status("CPC2", "LPAR2", "operating")
    assert len(controller.jobs) == 1
    assert_no_secret([sim.password], run.output, job.run.output, str(job.launch_body))


def test_job_completion_shares_the_jobs_session(hmcsim, collections_path, workdir, controller):
    """The activation watches the job topic of the session the jobs run in (session id and
    credential in the EDA credential); a job started in that session is reported by a job."""
    require(_java_available(), "a JDK >= 17 for ansible-rulebook")
    sim = hmcsim
    operator = HMCClient(sim.host, userid=sim.userid, password=sim.password, port=sim.ws_port,
                         verify_cert=sim.ca_file)
    operator.logon()
    controller.add_template("zhmc.eda job completion", "zhmc.eda.controller_report_job")
    credential = eda_credential(sim, password="", session_id=operator.session_id,
                                session_credential=operator.session_credential)
    run = activation(sim, workdir, collections_path, controller, "controller_job_completion", credential)
    try:
        with run:
            run.wait_for(CONNECTED_LINE, timeout=90)
            sim.set_status("CPC1", "PART3", "stopped")
            job_uri = operator.post(sim.uri("CPC1", "PART3") + "/operations/start")["job-uri"]
            job = controller.wait_for_job(timeout=90)
            assert job.status == "successful", job.run.output[-4000:]
            launched = job.launch_body["extra_vars"]
            assert (launched["job_uri"], launched["job_status"], launched["job_status_code"]) == (
                job_uri, "complete", 200)
            assert launched["event_uuid"] == launched["ansible_eda"]["event"]["meta"]["uuid"]
            assert "job %s ended with status complete, code 200" % job_uri in " ".join(job.run.output.split())
        # The source used the given session and left it logged on.
        assert operator.session_id in sim.session_ids()
        assert_no_secret([operator.session_id, operator.session_credential], run.output, job.run.output)
    finally:
        operator.logoff()
