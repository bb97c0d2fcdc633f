"""Secrets the source reads itself (hmc_auth.*_env, *_file), untouched by templating, and
option checks that reject at the door what a lower layer would refuse later."""
import os

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.source_options import parse_source_args

SECRET = "0x1F"  # what ansible-rulebook's native templating would turn into 31


def args(**auth):
    return {"hmc_host": "hmc1", "hmc_auth": dict({"userid": "u"}, **auth),
            "topic_types": ["object"]}


def test_password_from_an_environment_variable_keeps_its_text(monkeypatch):
    monkeypatch.setenv("ZHMC_TEST_PASSWORD", SECRET)
    options = parse_source_args(args(password_env="ZHMC_TEST_PASSWORD"))
    assert options.hmc_auth.password == SECRET


def test_password_from_a_file_without_its_trailing_newline(tmp_path):
    path = tmp_path / "password"
    path.write_text(SECRET + "\n")
    assert parse_source_args(args(password_file=str(path))).hmc_auth.password == SECRET


def test_session_credential_from_env_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv("ZHMC_TEST_CRED", "cred-1")
    options = parse_source_args({"hmc_host": "hmc1", "topic_types": ["job"], "hmc_auth": {
        "session_id": "sid", "session_credential_env": "ZHMC_TEST_CRED"}})
    assert options.hmc_auth.session_credential == "cred-1"
    path = tmp_path / "cred"
    path.write_text("cred-2")
    options = parse_source_args({"hmc_host": "hmc1", "topic_types": ["job"], "hmc_auth": {
        "session_id": "sid", "session_credential_file": str(path)}})
    assert options.hmc_auth.session_credential == "cred-2"


@pytest.mark.parametrize("auth, message", [
    ({"password": "x", "password_env": "V"},
     "option 'hmc_auth': give only one of 'hmc_auth.password', 'hmc_auth.password_env'"),
    ({"password_env": "ZHMC_TEST_UNSET_VARIABLE"},
     "option 'hmc_auth.password_env': the environment variable ZHMC_TEST_UNSET_VARIABLE is not "
     "set or empty"),
    ({"password_file": "/nonexistent/pw"},
     "option 'hmc_auth.password_file': no such file or directory: '/nonexistent/pw'"),
])
def test_bad_secret_sources_are_named(auth, message):
    os.environ.pop("ZHMC_TEST_UNSET_VARIABLE", None)
    with pytest.raises(ValueError) as info:
        parse_source_args(args(**auth))
    assert str(info.value).startswith(message)


def test_an_empty_or_oversized_password_file_is_refused_without_its_content(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="password_file': .* is empty"):
        parse_source_args(args(password_file=str(empty)))
    big = tmp_path / "big"
    big.write_text("s3cret" * 2000)
    with pytest.raises(ValueError) as info:
        parse_source_args(args(password_file=str(big)))
    assert "larger than 4096 bytes" in str(info.value) and "s3cret" not in str(info.value)


@pytest.mark.parametrize("topic", ["with blank", "trailing-newline\n", "tab\there", "x" * 257])
def test_topics_the_receiver_would_refuse_are_refused_at_the_door(topic):
    with pytest.raises(ValueError, match=r"option 'topics\[1\]': "):
        parse_source_args({"hmc_host": "h", "hmc_auth": {"userid": "u", "password": "p"},
                           "topics": ["good", topic]})


def test_a_nul_in_the_control_socket_path_is_named():
    with pytest.raises(ValueError, match="option 'control_socket': the path contains a NUL"):
        parse_source_args(dict(args(password="p"), control_socket="/tmp/a\0b"))


def test_a_regex_too_deep_to_compile_is_an_option_error():
    deep = "(" * 5000 + "a" + ")" * 5000
    with pytest.raises(ValueError, match=r"option 'os_message_channels\[0\]\.partition': "
                                         "invalid regular expression"):
        parse_source_args(dict(args(password="p"), os_message_channels=[
            {"cpc": "CPC1", "partition": deep}]))


@pytest.mark.parametrize("host", ["evil.com\\@127.0.0.1", "https://hmc1", "hmc1/api",
                                  "user@hmc1", "hmc1:6794"])
def test_hmc_host_is_a_host_name_or_address_only(host):
    with pytest.raises(ValueError, match=r"option 'hmc_host\[1\]': "):
        parse_source_args({"hmc_host": ["hmc0", host], "topic_types": ["job"],
                           "hmc_auth": {"userid": "u", "password": "p"}})
