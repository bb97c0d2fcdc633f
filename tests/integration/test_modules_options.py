"""The option helpers the modules share (module_common): hmc_host and hmc_auth handling.

Pure functions, no HMC; the modules' behaviour against hmcsim is in test_modules.py.
"""
import pytest

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
