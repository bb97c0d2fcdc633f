"""The helpers the modules share (module_common): hmc_host and hmc_auth handling, failures,
and the log-on/log-off bracket of hmc_session.

Mostly pure functions; hmc_session runs against hmcsim. The modules' behaviour against
hmcsim is in test_modules.py.
"""
import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlError
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCConnectionError, HMCError

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common


@pytest.mark.parametrize("value, expected", [
    ("hmc1", (["hmc1"], 6794)),
    ("hmc1:7000", (["hmc1"], 7000)),
    (["hmc1", "hmc2"], (["hmc1", "hmc2"], 6794)),
    (["hmc1:7000", "hmc2:7000"], (["hmc1", "hmc2"], 7000)),
    ("['hmc1', 'hmc2']", (["hmc1", "hmc2"], 6794)),
    ("[fd00::1]:7000", (["fd00::1"], 7000)),
    ("fd00::1", (["fd00::1"], 6794)),
    ("127.0.0.1:12345", (["127.0.0.1"], 12345)),
])
def test_parse_hmc_host(value, expected):
    assert common.parse_hmc_host(value) == expected


@pytest.mark.parametrize("value, problem", [
    ("", "hmc_host is empty"),
    ([], "hmc_host is empty"),
    ("hmc1:0", "invalid port"),
    ("hmc1:70000", "invalid port"),
    ("hmc1:http", "invalid port"),
    (["hmc1:7000", "hmc2:7001"], "different ports"),
    ("https://hmc1/", "not a host name"),
    (42, "got int"),
])
def test_parse_hmc_host_rejects(value, problem):
    with pytest.raises(ValueError) as info:
        common.parse_hmc_host(value)
    assert problem in str(info.value)


def test_format_hmc_host_round_trips():
    for host, port in (("hmc1", 6794), ("hmc1", 7000), ("fd00::1", 7000)):
        assert common.parse_hmc_host(common.format_hmc_host(host, port)) == ([host], port)


def test_auth_mode_follows_ibm_zhmc_rules():
    assert common.auth_mode({"session_id": "s"}) == "session"
    assert common.auth_mode({"session_id": "s", "userid": "u"}) == "session"
    assert common.auth_mode({"userid": "u", "password": "p"}) == "password"
    with pytest.raises(ValueError, match="not both"):
        common.auth_mode({"session_id": "s", "password": "p"})
    with pytest.raises(ValueError, match="missing: hmc_auth.password"):
        common.auth_mode({"userid": "u"})
    with pytest.raises(ValueError, match="hmc_auth.userid, hmc_auth.password"):
        common.auth_mode({})


def test_verify_cert_from_auth():
    assert common.verify_cert_from_auth({"verify": True}) is True
    assert common.verify_cert_from_auth({"verify": True, "ca_certs": "/ca.pem"}) == "/ca.pem"
    assert common.verify_cert_from_auth({"verify": False, "ca_certs": "/ca.pem"}) is False


def test_hmc_error_message_names_status_reason_and_masks_secrets():
    class FakeHMCError(Exception):
        http_status, reason, message = 403, 0, "Logon failed for password sekret-1"

    text = common.hmc_error_message("log on", FakeHMCError(), {"hmc_auth": {"password": "sekret-1"}})
    assert text.startswith("Cannot log on: the HMC answered HTTP 403 reason 0: Logon failed")
    assert "sekret-1" not in text


def test_channel_response_summary():
    assert common.channel_response_summary({"changed": True, "topics": ["t1"]}) == ("t1", "opened")
    assert common.channel_response_summary({"changed": False, "topics": ["t1"]}) == ("t1", "existing")
    assert common.channel_response_summary({"changed": True}, check_mode=True) == (None, "opened")
    assert common.channel_response_summary({"topic_name": "t", "status": "existing"}) == ("t", "existing")


def test_failure_of_an_hmc_error_carries_status_and_reason_without_secrets():
    error = HMCError(403, 1, "denied for sekret-2", method="POST", uri="/api/sessions")
    result = common.failure("log on", error, {"hmc_auth": {"password": "sekret-2"}})
    assert result["http_status"] == 403 and result["reason"] == 1
    assert result["msg"].startswith("Cannot log on: the HMC answered HTTP 403 reason 1: denied for")
    assert "sekret-2" not in result["msg"]


@pytest.mark.parametrize("exc", [ValueError("hmc_host is empty"), LookupError("CPC 'X' not found"),
                                 ControlError("no source listens on /tmp/x.sock")])
def test_failure_of_other_expected_errors_names_the_action(exc):
    assert isinstance(exc, common.EXPECTED_ERRORS)
    assert common.failure("open the channel", exc, {}) == {"msg": "Cannot open the channel: %s" % exc}


def test_describe_target():
    assert common.describe_target({"cpc_name": "C1", "partition_name": "P1"}) == "partition P1 in CPC C1"
    assert common.describe_target({"cpc_name": "C2", "lpar_name": "L1"}) == "LPAR L1 in CPC C2"
    assert common.describe_target({"cpc_name": "C3", "partition_name": ""}) == "the partition or LPAR in CPC C3"


def _params(sim, **auth):
    return {"hmc_host": "127.0.0.1:%d" % sim.ws_port, "hmc_auth": dict(ca_certs=sim.ca_file, verify=True, **auth)}


def test_hmc_session_logs_off_its_own_session_also_after_an_error(hmcsim):
    sessions_before = set(hmcsim.session_ids())
    params = _params(hmcsim, userid=hmcsim.userid, password=hmcsim.password)
    with pytest.raises(LookupError):
        with common.hmc_session(params) as client:
            assert client.session_id in set(hmcsim.session_ids()) - sessions_before
            raise LookupError("the body failed")
    assert set(hmcsim.session_ids()) == sessions_before


def test_hmc_session_leaves_a_reused_session_open(hmcsim):
    owner, owns = common.client_from_params(_params(hmcsim, userid=hmcsim.userid, password=hmcsim.password))
    assert owns
    owner.logon()
    try:
        params = _params(hmcsim, session_id=owner.session_id)
        with common.hmc_session(params, allow_logon=False) as client:
            assert client.get_notification_topics()
        assert owner.session_id in hmcsim.session_ids()
        with pytest.raises(ValueError, match="must carry session_id"):
            with common.hmc_session(_params(hmcsim, userid="u", password="p"), allow_logon=False):
                pass
    finally:
        owner.logoff()


def test_hmc_session_reports_an_unreachable_hmc(hmcsim):
    params = {"hmc_host": "127.0.0.1:1", "hmc_auth": {"userid": "u", "password": "p", "ca_certs": hmcsim.ca_file}}
    with pytest.raises(HMCConnectionError):
        with common.hmc_session(params):
            pass
