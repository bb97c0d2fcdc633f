"""Tools users already have, unmodified, against hmcsim: zhmcclient and zhmccli.

They run in a venv of their own (`make tools-venv`: zhmcclient and zhmccli from PyPI, with
the stomp.py that zhmcclient pins), talking to an hmcsim on a free loopback address with
the HMC's standard ports (zhmccli and zhmcclient's auto-updater cannot be told others).
The `ibm_zhmc` test makes the zhmcclient calls of ibm.ibm_zhmc's modules (not on PyPI),
listed in docs/hmcsim.md.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.requirements import require

TOOLS_VENV = os.environ.get("ZHMC_EDA_TOOLS_VENV", os.path.join(REPO_ROOT, ".venv-zhmctools"))
DRIVER = os.path.join(REPO_ROOT, "tests", "support", "zhmc_tools_driver.py")


@pytest.fixture(scope="module")
def sim(standard_ports_hmcsim):
    require(os.path.isfile(os.path.join(TOOLS_VENV, "bin", "zhmc")),
            "zhmcclient and zhmccli in %s (make tools-venv)" % TOOLS_VENV)
    return standard_ports_hmcsim


def drive(sim, scenario):
    """Run one zhmcclient scenario in the tools venv; return what it saw."""
    settings = {"host": sim.host, "userid": sim.userid, "password": sim.password, "ca_file": sim.ca_file,
                "admin_port": sim.admin_port}
    proc = subprocess.run([os.path.join(TOOLS_VENV, "bin", "python"), DRIVER, scenario],  # noqa: S603
                          input=json.dumps(settings), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sim.password not in proc.stderr
    out = json.loads(proc.stdout)
    # stomp.py 8's TLS race (zhmc_tools_driver.py): at most one reconnect, as zhmcclient documents
    retries = out.pop("stomp_retries")
    assert len(retries) <= 1, retries
    return out


def zhmc(sim, *args):
    """`zhmc -o json ...` with the password from ZHMC_PASSWORD (never on the command line)."""
    env = {"PATH": os.environ.get("PATH", ""), "ZHMC_PASSWORD": sim.password, "HOME": sim.state_dir}
    proc = subprocess.run([os.path.join(TOOLS_VENV, "bin", "zhmc"), "-h", sim.host, "-u", sim.userid,  # noqa: S603
                           "-c", sim.ca_file, "-o", "json", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc.stdout


def test_zhmcclient_session_lists_finds_and_logs(sim):
    out = drive(sim, "inventory")
    assert out["version_info"] == [4, 40]
    assert out["cpcs"] == ["CPC1", "CPC2"] and out["cpc1_dpm"] is True
    assert out["partitions"] == ["PART1", "PART2", "PART3"] and out["active_partitions"] == ["PART1", "PART2"]
    assert out["lpars"] == ["LPAR1", "LPAR2", "LPAR3"]
    assert out["part1_os_type"] == "Linux" and "additional-status" in out["part1_full"]
    assert out["permitted_partitions"] == [["PART1", "CPC1"], ["PART2", "CPC1"]]
    assert out["permitted_lpars"] == [["LPAR1", "hmcsim logical-partition LPAR1"],
                                      ["LPAR2", "hmcsim logical-partition LPAR2"]]
    assert out["topic_types"] == ["audit-notification", "job-notification", "object-notification",
                                  "security-notification"]
    assert "1941" in out["audit_ids"]
    assert out["missing_lpar"] == "NotFound"     # the LPAR list's 404.1 for no match, as zhmcclient expects


def test_zhmcclient_channels_jobs_and_receiver_with_session_credentials(sim):
    out = drive(sim, "channels_jobs_receiver")
    assert out["reopen"] == [409, 331] and out["unsupported"] == [409, 332]
    assert out["refresh"] == ["buffered before the channel\n"]
    assert "uname -a\n" in out["texts"]
    assert out["texts"].index("stopping") < out["texts"].index("stopped")
    assert "property-change" not in out["kinds"] and out["headers_are_strings"]
    assert out["job_result"] is None and out["cancel_ended"] == [404, 1]   # deleted once complete
    assert out["lpar_deactivate_without_force"] == [500, 263]
    assert out["lpar_status"] == "not-activated" and out["start_twice"] == [409, 1]


def test_zhmcclient_auto_update_over_the_standard_stomp_port(sim):
    out = drive(sim, "auto_update")
    assert out == {"status_updated": True, "additional_status": "cpu", "description_updated": True,
                   "added_seen": True, "removed_seen": True}


def test_ibm_zhmc_module_calls(sim):
    out = drive(sim, "ibm_zhmc")
    assert out["session_verified"] is True and out["session_deleted"] == "ServerAuthError"   # 403.5
    assert out["cpc_list"] == [["CPC1", "3931"], ["CPC2", "3931"]] and out["unmanaged"] == []
    assert out["partition_list"] == ["PART1", "PART2", "PART3"]
    assert out["partition_list_additional"] == ["hmcsim partition PART%d" % i for i in (1, 2, 3)]
    assert out["lpar_list"] == [["LPAR%d" % i, "2.16.0", True] for i in (1, 2, 3)]
    assert out["partition_command"] == {"name": "PART1", "output": ["uptime"]}
    assert out["lpar_command"] == {"name": "LPAR1", "output": ["D IPLINFO"]}


def test_zhmccli_lists_and_starts_and_stops(sim):
    cpcs = json.loads(zhmc(sim, "cpc", "list"))
    assert sorted((c["name"], c["dpm-enabled"]) for c in cpcs) == [("CPC1", True), ("CPC2", False)]
    parts = json.loads(zhmc(sim, "partition", "list", "CPC1"))
    assert {p["name"]: p["status"] for p in parts} == {"PART1": "active", "PART2": "active", "PART3": "stopped"}
    assert {p["name"] for p in json.loads(zhmc(sim, "partition", "list"))} == {"PART1", "PART2", "PART3"}
    lpars = json.loads(zhmc(sim, "lpar", "list"))
    assert sorted((p["name"], p["cpc"], p["activation-mode"]) for p in lpars)[2] == ("LPAR3", "CPC2",
                                                                                   "coupling-facility")
    assert "has been stopped" in zhmc(sim, "partition", "stop", "CPC1", "PART2")
    assert sim.uri("CPC1", "PART2") and sim.hmc.find("CPC1", "PART2").status == "stopped"
    assert "has been started" in zhmc(sim, "partition", "start", "CPC1", "PART2")
    assert sim.hmc.find("CPC1", "PART2").status == "active"
