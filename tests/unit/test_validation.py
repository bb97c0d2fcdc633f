"""validation.py: the shared checks at the door (topic, object and host names, socket paths)."""
import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.validation import (
    MAX_OBJECT_NAME_CHARS,
    host_problem,
    object_name_problem,
    socket_path_problem,
    split_host_port,
    topic_name_problem,
)


@pytest.mark.parametrize("value, expected", [
    ("hmc1", ("hmc1", None)),
    ("hmc1.example.com", ("hmc1.example.com", None)),
    ("hmc1.example.com.", ("hmc1.example.com.", None)),
    ("hmc_1-a.example.com:6794", ("hmc_1-a.example.com", 6794)),
    ("127.0.0.1", ("127.0.0.1", None)),
    ("127.0.0.1:12345", ("127.0.0.1", 12345)),
    ("fd00::1", ("fd00::1", None)),
    ("::1", ("::1", None)),
    ("[fd00::1]", ("fd00::1", None)),
    ("[fd00::1]:7000", ("fd00::1", 7000)),
    ("x" * 63 + "." + "y" * 63, ("x" * 63 + "." + "y" * 63, None)),
])
def test_hosts_that_are_accepted(value, expected):
    assert host_problem(value) is None
    assert split_host_port(value) == expected


@pytest.mark.parametrize("value, problem", [
    ("evil.com\\@127.0.0.1", "only letters, digits"),        # the case of issue 16.6
    ("user@hmc1", "no user name"),
    ("user:pw@hmc1:6794", "no user name"),
    ("hmc1/api", "no user name, path"),
    ("https://hmc1/", "no user name, path, URL"),
    ("hmc1?x=1", "only letters"),
    ("hmc1#x", "only letters"),
    ("fe80::1%eth0", "zone id"),
    ("hmc 1", "blanks or control characters"),
    ("hmc1\n", "blanks or control characters"),
    ("hmc1\x00", "blanks or control characters"),
    ("hmc1\x7f", "blanks or control characters"),
    ("", "non-empty"),
    (None, "non-empty"),
    (6794, "non-empty"),
    ("hmc1:0", "invalid port '0'"),
    ("hmc1:65536", "invalid port '65536'"),
    ("hmc1:http", "invalid port 'http'"),
    ("hmc1:", "invalid port ''"),
    (":6794", "the host is missing"),
    ("[fd00::1", "closing ']'"),
    ("[fd00::1]x", "only ':port' may follow"),
    ("[hmc1]:6794", "not a valid IPv6 address"),
    ("fd00::zz", "not a valid IPv6 address"),
    ("999.1.1.1", "not a valid IPv4 address"),
    ("1.2.3", "not a valid IPv4 address"),
    ("-hmc1", "not a host name"),
    ("hmc1-.example.com", "not a host name"),
    ("hmc1..example.com", "not a host name"),
    ("x" * 64 + ".example.com", "not a host name"),
    (".".join(["abcdefghi"] * 26), "longer than 253 characters"),
])
def test_hosts_that_are_refused(value, problem):
    text = host_problem(value)
    assert text is not None and problem in text, text
    with pytest.raises(ValueError):
        split_host_port(value)


def test_a_port_can_be_refused():
    assert "must not carry a port" in host_problem("hmc1:6794", allow_port=False)
    assert "must not carry a port" in host_problem("[fd00::1]:6794", allow_port=False)
    assert host_problem("fd00::1", allow_port=False) is None
    assert host_problem("hmc1", allow_port=False) is None


@pytest.mark.parametrize("name, problem", [
    ("a.b-c_d", None),
    ("x" * 256, None),
    ("x" * 257, "longer than 256"),
    ("", "non-empty"),
    (5, "non-empty"),
    ("a b", "blanks or control"),
    ("a.b\n", "blanks or control"),    # `topic: |` in YAML keeps the newline
    ("a\tb", "blanks or control"),
    ("a\x01b", "blanks or control"),
])
def test_topic_names(name, problem):
    text = topic_name_problem(name)
    assert (text is None) if problem is None else (problem in text)


@pytest.mark.parametrize("name, problem", [
    ("CPC1", None),
    ("my partition 1", None),                  # partition names may have inner blanks
    ("x" * MAX_OBJECT_NAME_CHARS, None),
    ("x" * (MAX_OBJECT_NAME_CHARS + 1), "longer than 64"),
    ("", "non-empty"),
    ("   ", "non-empty"),
    (None, "non-empty"),
    ("PART1\n", "control characters"),
    ("PA\x00RT", "control characters"),
    (" PART1", "begin or end with a blank"),
    ("PART1 ", "begin or end with a blank"),
])
def test_object_names(name, problem):
    text = object_name_problem(name)
    assert (text is None) if problem is None else (problem in text)


@pytest.mark.parametrize("path, problem", [
    ("/run/user/1000/zhmc-eda.sock", None),
    ("/tmp/a\0b.sock", "NUL"),
    ("", "non-empty"),
    (None, "non-empty"),
    ("/" + "x" * 107, "108 bytes long; Unix sockets allow at most 107"),
    ("/" + "x" * 106, None),
])
def test_socket_paths(path, problem):
    text = socket_path_problem(path)
    assert (text is None) if problem is None else (problem in text)
