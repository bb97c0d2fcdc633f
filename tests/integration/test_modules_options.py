"""The helpers the modules share (module_common): hmc_host and hmc_auth handling, failures,
and the log-on/log-off bracket of hmc_session.

Mostly pure functions; hmc_session runs against hmcsim. The modules' behaviour against
hmcsim is in test_modules.py.
"""
import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlError
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCConnectionError, HMCError

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common
from tests.support.ibm_zhmc import ibm_zhmc_errors, ibm_zhmc_session_result


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


# --- checks at the door (issue 16.6) -------------------------------------------------------

@pytest.mark.parametrize("value, problem", [
    ("evil.com\\@127.0.0.1", "hmc_host entry 'evil.com\\\\@127.0.0.1': not a host name"),
    ("user@hmc1", "no user name"),
    (["hmc1", "hmc2/api"], "hmc_host entry 'hmc2/api'"),
    ("hmc1\nevil.com", "blanks or control characters"),
    ("[fd00::1]:0", "invalid port '0'"),
])
def test_parse_hmc_host_refuses_what_is_no_host(value, problem):
    with pytest.raises(ValueError) as info:
        common.parse_hmc_host(value)
    assert problem in str(info.value)


def test_parse_hmc_host_forgives_whitespace_around_a_single_value():
    assert common.parse_hmc_host("hmc1\n") == (["hmc1"], 6794)  # a YAML block scalar adds it


def test_verify_null_keeps_verification_on():
    """ibm.ibm_zhmc's zhmc_session returns verify: null after a delete; null is not false."""
    assert common.verify_cert_from_auth({"verify": None}) is True
    assert common.verify_cert_from_auth({}) is True


def test_ca_certs_that_name_nothing_are_refused_naming_the_option(tmp_path):
    """Before, tls.py's text reached the user: "verify_cert: the CA file ... does not exist"."""
    params = {"hmc_host": "hmc1", "hmc_auth": {"userid": "u", "password": "p",
                                               "ca_certs": str(tmp_path / "nope.pem")}}
    with pytest.raises(ValueError) as info:
        common.client_from_params(params)
    assert str(info.value) == ("hmc_auth.ca_certs: %s is neither a CA certificate file nor a "
                               "directory of them" % (tmp_path / "nope.pem"))
    params["hmc_auth"]["ca_certs"] = str(tmp_path)
    client, _owns = common.client_from_params(params)
    client.close()


@pytest.mark.parametrize("spec, prefix, problem", [
    ({"cpc_name": "CPC1\n", "partition_name": "P"}, "", "cpc_name 'CPC1\\n': must not contain control"),
    ({"cpc_name": "C", "lpar_name": "L" * 65}, "", "lpar_name 'LLLL"),
    ({"cpc_name": "C", "partition_name": " P"}, "os_message_channel.",
     "os_message_channel.partition_name ' P': must not begin or end with a blank"),
    ({"cpc_name": "C"}, "os_message_channel.", "os_message_channel.partition_name (DPM CPC) or"),
])
def test_target_names_are_checked_naming_the_option(spec, prefix, problem):
    with pytest.raises(ValueError) as info:
        common.target_of(spec, prefix=prefix)
    assert problem in str(info.value)
    assert common.target_of({"cpc_name": "C", "lpar_name": "L"}) == ("lpar", "L")


def test_control_socket_with_a_nul_names_the_option():
    with pytest.raises(ValueError, match="control_socket '/tmp/a\\\\x00b': must not contain a NUL"):
        common.control_client({"control_socket": "/tmp/a\0b"})


def test_warning_for_verify_false():
    class Module:
        def __init__(self, hmc_auth):
            self.params = {"hmc_auth": hmc_auth}
            self.warnings = []

        def warn(self, text):
            self.warnings.append(text)

    for hmc_auth, expected in (({"verify": False}, 1), ({"verify": True}, 0), ({"verify": None}, 0),
                               (None, 0)):
        module = Module(hmc_auth)
        common.warn_if_unverified(module)
        assert len(module.warnings) == expected
    module = Module({"verify": False})
    common.warn_if_unverified(module)
    assert "hmc_auth.verify is false" in module.warnings[0]
    assert "hmc_auth.ca_certs" in module.warnings[0] and "verify_cert" not in module.warnings[0]


# --- sessions interoperate with ibm.ibm_zhmc (issue 17.6; the spec: tests/support/ibm_zhmc.py)

def test_the_ibm_zhmc_spec_mirror_is_strict():
    """The mirror refuses what made ibm.ibm_zhmc modules fail, so the next test means something."""
    errors = ibm_zhmc_errors({"hmc_host": "hmc1", "hmc_auth": {"session_id": "s",
                                                               "session_credential": "c"}})
    assert errors == ["hmc_auth.session_credential. Supported parameters include: ca_certs, "
                      "password, session_id, userid, verify."]


def test_our_session_result_passes_ibm_zhmc_and_theirs_passes_ours(hmcsim):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.zhmc.eda.plugins.modules import session as session_module

    params = _params(hmcsim, userid=hmcsim.userid, password=hmcsim.password)
    ours = session_module._present(params)
    theirs = ibm_zhmc_session_result(ours["hmc_auth"]["session_id"], hmcsim.ca_file)
    try:
        assert ours["session_credential"]  # beside hmc_auth, not in it
        assert ibm_zhmc_errors({"hmc_host": ours["hmc_host"], "hmc_auth": ours["hmc_auth"]}) == []

        our_spec = common.hmc_argument_spec()
        checked = ArgumentSpecValidator(our_spec).validate({"hmc_host": ours["hmc_host"],
                                                            "hmc_auth": theirs})
        assert checked.error_messages == []
        with common.hmc_session(checked.validated_parameters, allow_logon=False) as client:
            assert client.get_notification_topics()
        assert ours["hmc_auth"]["session_id"] in hmcsim.session_ids()  # reused, left open
    finally:
        closer, _owns = common.client_from_params({"hmc_host": ours["hmc_host"], "hmc_auth": theirs})
        closer.logoff(force=True)
    assert ours["hmc_auth"]["session_id"] not in hmcsim.session_ids()
