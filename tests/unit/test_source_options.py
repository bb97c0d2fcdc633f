"""Unit tests of source_options.py: validation, coercion, mode rules, secrets, JSON schema."""
import dataclasses
import json
import os

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils import source_options as S
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    DEFAULT_STOMP_RT_CONFIG,
    StompRetryTimeoutConfig,
)

SECRET = "s3cr3t-Pa55"
SCHEMA_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "extensions", "eda", "plugins", "event_source", "schemas", "notifications.json")


def args(**overrides):
    """Minimal valid args: WS API mode with userid/password and object topics."""
    base = {
        "hmc_host": "hmc1.example.com",
        "hmc_auth": {"userid": "hmcuser", "password": SECRET},
        "topic_types": ["object"],
    }
    base.update(overrides)
    return base


def error_of(raw_args):
    with pytest.raises(ValueError) as info:
        S.parse_source_args(raw_args)
    message = str(info.value)
    assert SECRET not in message
    return message


# ---------------------------------------------------------------------------------------
# defaults and happy paths


def test_defaults():
    opts = S.parse_source_args(args())
    assert opts.hmc_host == ("hmc1.example.com",)
    assert opts.hmc_auth.userid == "hmcuser" and opts.hmc_auth.password == SECRET
    assert opts.hmc_auth.verify is True and opts.hmc_auth.ca_certs is None
    assert (opts.ws_port, opts.stomp_port) == (6794, 61612)
    assert opts.topics == () and opts.topic_types == ("object",)
    assert opts.os_message_channels == ()
    assert opts.include_refresh_messages is True
    assert opts.notification_types == () and opts.classes == ()
    assert opts.split_os_messages and opts.dedupe_os_messages and opts.backfill_os_messages
    assert opts.job_status is True and opts.status_events is False
    assert opts.stomp_retry_timeout_config == DEFAULT_STOMP_RT_CONFIG
    assert opts.control_socket is None
    assert opts.keepalive_interval == 300.0 and opts.max_pending == 100000
    assert opts.parallel_hmc_calls == 8
    assert opts.needs_ws_api and not opts.topics_only
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.stomp_port = 1


def test_every_table_default_is_what_parse_gives():
    opts = S.parse_source_args(args(topic_types=None, topics=["t"]))
    for name, spec in S.SOURCE_OPTIONS.items():
        if spec["required"] or name in ("stomp_retry_timeout_config", "topics"):
            continue
        value = getattr(opts, name)
        expected = tuple(spec["default"]) if isinstance(spec["default"], list) else spec["default"]
        assert value == expected, name
        field = S.SourceOptions.__dataclass_fields__[name]
        assert field.default == expected, name  # the dataclass defaults agree with the table


def test_all_options_given():
    opts = S.parse_source_args(args(
        hmc_host=["hmc1", " hmc2 ", "hmc1"],
        ws_port=16794, stomp_port="16161",
        topics=["/topic/a.b", "c"],
        topic_types=["object", "job", "audit", "security", "job"],
        os_message_channels=[{"cpc": "CPC1", "partition": "PART[12]"},
                             {"cpc": "CPC2", "lpar": "LPAR.*", "partition": None}],
        include_refresh_messages="no",
        notification_types="os-message",
        classes=["partition", "logical-partition"],
        split_os_messages="false", dedupe_os_messages=0, backfill_os_messages="Off",
        job_status="yes", status_events="True",
        stomp_retry_timeout_config={"heartbeat_receive_cycle": "2", "connect_retries": -1},
        keepalive_interval="60.5", max_pending="5000",
    ))
    assert opts.hmc_host == ("hmc1", "hmc2")
    assert (opts.ws_port, opts.stomp_port) == (16794, 16161)
    assert opts.topics == ("a.b", "c")
    assert opts.topic_types == ("object", "job", "audit", "security")
    assert opts.os_message_channels == ({"cpc": "CPC1", "partition": "PART[12]"},
                                        {"cpc": "CPC2", "lpar": "LPAR.*"})
    assert opts.include_refresh_messages is False
    assert opts.notification_types == ("os-message",)
    assert opts.classes == ("partition", "logical-partition")
    assert (opts.split_os_messages, opts.dedupe_os_messages, opts.backfill_os_messages) == (
        False, False, False)
    assert opts.job_status is True and opts.status_events is True
    config = opts.stomp_retry_timeout_config
    assert isinstance(config, StompRetryTimeoutConfig)
    assert config.heartbeat_receive_cycle == 2 and config.connect_retries == -1
    assert config.heartbeat_send_cycle == DEFAULT_STOMP_RT_CONFIG.heartbeat_send_cycle
    assert config.missing() == []
    assert opts.keepalive_interval == 60.5 and opts.max_pending == 5000


def test_none_means_not_given():
    opts = S.parse_source_args(args(ws_port=None, control_socket=None, classes=None,
                                    stomp_retry_timeout_config=None))
    assert opts.ws_port == 6794 and opts.classes == () and opts.control_socket is None
    assert opts.stomp_retry_timeout_config == DEFAULT_STOMP_RT_CONFIG


# ---------------------------------------------------------------------------------------
# coercion of values that Jinja native rendering changed


def test_numeric_secrets_and_userids_become_strings():
    opts = S.parse_source_args(args(hmc_auth={"userid": 1234, "password": 123456}))
    assert opts.hmc_auth.userid == "1234" and opts.hmc_auth.password == "123456"
    opts = S.parse_source_args(args(hmc_auth={"session_id": 987654321, "session_credential": True}))
    assert opts.hmc_auth.session_id == "987654321"
    assert opts.hmc_auth.session_credential == "True"  # "True" was rendered to a bool


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), ("YES", True), ("on", True), (1, True),
    ("false", False), ("No", False), ("off", False), (0, False),
])
def test_bool_strings(text, expected):
    assert S.parse_source_args(args(status_events=text)).status_events is expected


@pytest.mark.parametrize("value, expected", [("61612", 61612), (" 443 ", 443), (8080.0, 8080)])
def test_port_strings_and_integral_floats(value, expected):
    assert S.parse_source_args(args(stomp_port=value)).stomp_port == expected


# ---------------------------------------------------------------------------------------
# rejections: each names the option and the problem


def test_unknown_option_names_the_closest_valid_one():
    message = error_of(args(stomp_prot=61612))
    assert "unknown option 'stomp_prot'" in message and "did you mean 'stomp_port'" in message
    message = error_of(args(feedback=True))
    assert "unknown option 'feedback'" in message and "did you mean" not in message


def test_unknown_suboptions():
    message = error_of(args(hmc_auth={"userid": "u", "pasword": SECRET}))
    assert "option 'hmc_auth': unknown key 'pasword' (did you mean 'password'?)" in message
    message = error_of(args(os_message_channels=[{"cpc": "C", "partiton": "P"}]))
    assert "option 'os_message_channels[0]': unknown key 'partiton'" in message
    assert "did you mean 'partition'" in message
    message = error_of(args(stomp_retry_timeout_config={"heartbeat_recieve_cycle": 1}))
    assert "option 'stomp_retry_timeout_config': unknown key 'heartbeat_recieve_cycle'" in message
    assert "did you mean 'heartbeat_receive_cycle'" in message


@pytest.mark.parametrize("name, value, expected", [
    ("stomp_port", "abc", "option 'stomp_port': expected an integer between 1 and 65535, got 'abc' (str)"),
    ("stomp_port", 0, "option 'stomp_port': expected an integer between 1 and 65535, got 0 (int)"),
    ("ws_port", 70000, "option 'ws_port': expected an integer between 1 and 65535, got 70000 (int)"),
    ("ws_port", True, "option 'ws_port': expected an integer between 1 and 65535, got True (bool)"),
    ("ws_port", 1.5, "option 'ws_port': expected an integer between 1 and 65535, got 1.5 (float)"),
    ("max_pending", 0, "option 'max_pending': expected an integer of at least 1, got 0 (int)"),
    ("parallel_hmc_calls", 0, "option 'parallel_hmc_calls': expected an integer between 1 and 32, got 0 (int)"),
    ("parallel_hmc_calls", 64, "option 'parallel_hmc_calls': expected an integer between 1 and 32, got 64 (int)"),
    ("keepalive_interval", "soon", "option 'keepalive_interval': expected a number of at least 1, got 'soon' (str)"),
    ("keepalive_interval", 0.5, "option 'keepalive_interval': expected a number of at least 1, got 0.5 (float)"),
    ("keepalive_interval", "nan", "option 'keepalive_interval': expected a number of at least 1, got 'nan' (str)"),
    ("status_events", "maybe", "option 'status_events': expected a boolean (true/false/yes/no), got 'maybe' (str)"),
    ("status_events", 2, "option 'status_events': expected a boolean (true/false/yes/no), got 2 (int)"),
    ("topics", {"a": 1}, "option 'topics': expected a list of strings, got {'a': 1} (dict)"),
    ("topics", ["ok", ""], "option 'topics[1]': must not be empty"),
    ("topics", ["ok", ["x"]], "option 'topics[1]': expected a string, got ['x'] (list)"),
    ("topic_types", ["objects"], "option 'topic_types[0]': 'objects' is not one of object, job, audit, security (did you mean 'object'?)"),
    ("notification_types", ["os-messages"], "option 'notification_types[0]': 'os-messages' is not one of"),
    ("classes", 5, "option 'classes': expected a list of strings, got 5 (int)"),
    ("hmc_host", "", "option 'hmc_host': expected a host name or a non-empty list of host names, got '' (str)"),
    ("hmc_host", [], "option 'hmc_host': expected a host name or a non-empty list of host names, got [] (list)"),
    ("hmc_host", ["a", 5], "option 'hmc_host[1]': expected a host name (string), got 5 (int)"),
    ("hmc_host", "hmc 1", "option 'hmc_host': expected a host name without blanks, got 'hmc 1' (str)"),
    ("hmc_host", {"h": 1}, "option 'hmc_host': expected a host name or a non-empty list"),
    ("hmc_auth", "u:" + SECRET, "option 'hmc_auth': expected a dict, got a string"),
    ("stomp_retry_timeout_config", [1], "option 'stomp_retry_timeout_config': expected a dict, got [1] (list)"),
    ("stomp_retry_timeout_config", {"connect_timeout": "abc"}, "option 'stomp_retry_timeout_config.connect_timeout': expected a number"),
    ("stomp_retry_timeout_config", {"heartbeat_receive_cycle": 0.01}, "option 'stomp_retry_timeout_config.heartbeat_receive_cycle': expected 0"),
    ("os_message_channels", "CPC1/PART1", "option 'os_message_channels': expected a list of dicts"),
    ("os_message_channels", ["CPC1"], "option 'os_message_channels[0]': expected a dict {cpc, partition} or {cpc, lpar}, got 'CPC1' (str)"),
    ("os_message_channels", [{"partition": "P"}], "option 'os_message_channels[0]': 'cpc' is required"),
    ("os_message_channels", [{"cpc": "C"}], "option 'os_message_channels[0]': give exactly one of 'partition' (DPM) or 'lpar' (classic), got neither"),
    ("os_message_channels", [{"cpc": "C", "partition": "P", "lpar": "L"}], "got partition and lpar"),
    ("os_message_channels", [{"cpc": "C", "lpar": "ok"}, {"cpc": "C[", "lpar": "L"}], "option 'os_message_channels[1].cpc': invalid regular expression 'C['"),
    ("os_message_channels", [{"cpc": "C", "partition": "*P"}], "option 'os_message_channels[0].partition': invalid regular expression '*P': nothing to repeat"),
    ("os_message_channels", [{"cpc": "C", "partition": ""}], "option 'os_message_channels[0].partition': must not be empty"),
])
def test_rejections(name, value, expected):
    message = error_of(args(**{name: value}))
    assert expected in message


def test_args_not_a_dict_and_required_options():
    assert "must be a dict, got a list" in error_of(["hmc_host"])
    raw = args()
    del raw["hmc_host"]
    assert error_of(raw) == "option 'hmc_host' is required"
    raw = args(hmc_auth=None)
    assert error_of(raw) == "option 'hmc_auth' is required"


@pytest.mark.parametrize("key", ["password", "session_id", "session_credential"])
@pytest.mark.parametrize("bad", [[SECRET], {"v": SECRET}, 1.5])
def test_bad_secret_types_never_show_the_value(key, bad):
    auth = {"userid": "u", "password": "p", "session_id": "sid", "session_credential": "cred"}
    auth[key] = bad
    message = error_of(args(hmc_auth=auth))
    assert message.startswith("option 'hmc_auth.%s': expected a string, got a " % key)
    assert "1.5" not in message and "[" not in message


def test_repr_does_not_show_secrets():
    opts = S.parse_source_args(args(hmc_auth={
        "userid": "hmcuser", "password": SECRET, "session_id": "SID-" + SECRET,
        "session_credential": "CRED-" + SECRET}))
    for text in (repr(opts), str(opts), repr(opts.hmc_auth), str(opts.hmc_auth)):
        assert SECRET not in text
        assert "hmcuser" in text and "********" in text
    assert sorted(opts.hmc_auth.secrets()) == sorted([SECRET, "SID-" + SECRET, "CRED-" + SECRET])


# ---------------------------------------------------------------------------------------
# mode rules


def test_topics_only_uses_stomp_with_userid_and_password():
    opts = S.parse_source_args({"hmc_host": "broker", "topics": ["t1"],
                                "hmc_auth": {"userid": "u", "password": "p"}})
    assert opts.topics_only and not opts.needs_ws_api
    message = error_of({"hmc_host": "broker", "topics": ["t1"], "hmc_auth": {"userid": "u"}})
    assert "'hmc_auth.userid' and 'hmc_auth.password' are required with only 'topics'" in message


def test_a_given_session_means_ws_api_mode_even_with_only_topics():
    opts = S.parse_source_args({"hmc_host": "h", "topics": ["t1"],
                                "hmc_auth": {"session_id": "sid", "session_credential": "cred"}})
    assert opts.needs_ws_api


@pytest.mark.parametrize("auth, expected", [
    ({}, "give 'userid' and 'password', or 'session_id' and 'session_credential'"),
    ({"userid": "u"}, "give 'userid' and 'password'"),
    ({"password": SECRET}, "option 'hmc_auth.userid' is required with 'hmc_auth.password'"),
    ({"session_credential": "c"}, "option 'hmc_auth.session_id' is required with 'hmc_auth.session_credential'"),
    ({"session_id": "sid"}, "option 'hmc_auth.session_credential' is required with 'hmc_auth.session_id' when no password"),
])
def test_ws_api_mode_credentials(auth, expected):
    assert expected in error_of(args(hmc_auth=auth))


def test_ws_api_mode_accepted_credentials():
    for auth in ({"userid": "u", "password": "p"},
                 {"session_id": "s", "session_credential": "c"},
                 {"userid": "u", "password": "p", "session_id": "s"}):
        opts = S.parse_source_args(args(hmc_auth=auth, topic_types=None,
                                        os_message_channels=[{"cpc": "C", "lpar": "L"}]))
        assert opts.needs_ws_api


def test_something_to_receive_is_required():
    message = error_of(args(topic_types=[]))
    assert message.startswith("nothing to receive: give at least one of the options 'topics'")


# ---------------------------------------------------------------------------------------
# paths


def test_ca_certs_must_exist(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    opts = S.parse_source_args(args(hmc_auth={"userid": "u", "password": "p",
                                              "ca_certs": str(ca), "verify": "false"}))
    assert opts.hmc_auth.ca_certs == str(ca) and opts.hmc_auth.verify is False
    missing = str(tmp_path / "nope.pem")
    message = error_of(args(hmc_auth={"userid": "u", "password": SECRET, "ca_certs": missing}))
    assert message == "option 'hmc_auth.ca_certs': no such file or directory: %r" % missing


def test_control_socket(tmp_path):
    path = str(tmp_path / "ctl.sock")
    assert S.parse_source_args(args(control_socket=path)).control_socket == path
    message = error_of(args(control_socket=str(tmp_path / "no" / "ctl.sock")))
    assert message == "option 'control_socket': directory %r does not exist" % str(tmp_path / "no")
    assert "is a directory" in error_of(args(control_socket=str(tmp_path)))
    long_path = "/tmp/" + "x" * 120
    assert "longer than the 107 bytes" in error_of(args(control_socket=long_path))
    assert error_of(args(control_socket=["x"])) == (
        "option 'control_socket': expected a string, got ['x'] (list)")


# ---------------------------------------------------------------------------------------
# the option table and the JSON schema


def test_option_table_is_well_formed():
    fields = {f.name for f in dataclasses.fields(S.SourceOptions)}
    assert set(S.SOURCE_OPTIONS) == fields
    for name, spec in S.SOURCE_OPTIONS.items():
        assert {"type", "default", "required", "elements", "choices", "description"} <= set(spec), name
        assert spec["type"] in ("str", "int", "float", "bool", "list", "dict", "path", "raw")
        assert spec["description"].strip()
        if spec["type"] == "list":
            assert spec["elements"] in ("str", "dict")
    assert set(S.SOURCE_OPTIONS["stomp_retry_timeout_config"]["suboptions"]) == set(
        DEFAULT_STOMP_RT_CONFIG.to_dict())
    assert [n for n, s in S.SOURCE_OPTIONS.items() if s["required"]] == ["hmc_host", "hmc_auth"]


def test_shipped_schema_is_the_generated_one():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        shipped = json.load(handle)
    assert shipped == S.json_schema(), (
        "schemas/notifications.json is stale; regenerate it (see source_options.json_schema)")


def test_schema_agrees_with_the_table():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema = json.load(handle)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(S.SOURCE_OPTIONS)
    assert set(schema["required"]) == {"hmc_host", "hmc_auth"}
    json_types = {"str": "string", "path": "string", "int": "integer", "float": "number",
                  "bool": "boolean", "list": "array", "dict": "object"}
    for name, spec in S.SOURCE_OPTIONS.items():
        prop = schema["properties"][name]
        if spec["type"] == "raw":
            assert [alt["type"] for alt in prop["anyOf"]] == ["string", "array"]
        else:
            expected = json_types[spec["type"]]
            if not spec["required"]:
                expected = [expected, "null"]  # null = use the default (`default(none)`)
            assert prop["type"] == expected, name
        if spec["default"] is not None:
            assert prop["default"] == spec["default"], name
        if spec["choices"]:
            enum = prop["items"]["enum"] if spec["type"] == "list" else prop["enum"]
            assert enum == spec["choices"], name
    auth = schema["properties"]["hmc_auth"]
    assert auth["additionalProperties"] is False
    assert {k for k, v in auth["properties"].items() if v.get("format") == "password"} == {
        "password", "session_id", "session_credential"}
    stomp = schema["properties"]["stomp_retry_timeout_config"]["properties"]
    assert {k: v["default"] for k, v in stomp.items()} == DEFAULT_STOMP_RT_CONFIG.to_dict()


def test_schema_is_valid_and_matches_what_the_parser_accepts():
    jsonschema = pytest.importorskip("jsonschema")
    schema = S.json_schema()
    validator_class = jsonschema.Draft202012Validator
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    good = args(hmc_host=["a", "b"], stomp_port=61612, topics=["t"],
                os_message_channels=[{"cpc": "C", "partition": "P"}],
                stomp_retry_timeout_config={"heartbeat_receive_cycle": 2.5})
    validator.validate(good)
    S.parse_source_args(good)
    for bad in (args(stomp_prot=1), args(topic_types=["objects"]),
                args(os_message_channels=[{"cpc": "C", "partition": "P", "lpar": "L"}]),
                args(os_message_channels=[{"cpc": "C"}]),
                args(hmc_auth={"userid": "u", "pasword": "p"}), args(hmc_host=[])):
        assert not validator.is_valid(bad), bad
        with pytest.raises(ValueError):
            S.parse_source_args(bad)


# ---------------------------------------------------------------------------------------
# whatever the input, secrets never show


def test_secrets_never_appear_in_errors_or_repr():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    secret_text = st.text(alphabet="abcdefghijKLMNOP0123456789!$%", min_size=12, max_size=20)
    secret_values = st.one_of(secret_text, secret_text, secret_text.map(lambda t: [t]),
                              secret_text.map(lambda t: {"x": t}))
    other_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                             st.lists(st.text(max_size=5), max_size=2))
    option_names = st.sampled_from(sorted(S.SOURCE_OPTIONS) + ["bogus"])
    secret_dicts = st.fixed_dictionaries({}, optional={
        "password": secret_values, "session_id": secret_values, "session_credential": secret_values})

    @settings(max_examples=200, deadline=None)
    @given(secrets=secret_dicts,
           userid=st.one_of(st.none(), st.text(min_size=1, max_size=5)),
           others=st.one_of(st.just({}),
                            st.dictionaries(option_names, other_values, max_size=3)))
    def check(secrets, userid, others):
        auth = dict(secrets)
        if userid is not None:
            auth["userid"] = userid
        raw = {"hmc_host": "h", "topic_types": ["object"]}
        raw.update(others)
        raw["hmc_auth"] = auth
        words = [v if isinstance(v, str) else (v[0] if isinstance(v, list) else v["x"])
                 for v in secrets.values()]
        try:
            shown = repr(S.parse_source_args(raw))
        except ValueError as exc:
            shown = str(exc)
        for word in words:
            assert word not in shown

    check()


@pytest.mark.parametrize("name", sorted(n for n, spec in S.SOURCE_OPTIONS.items() if not spec["required"]))
def test_null_for_an_optional_option_means_its_default(name):
    """The schema allows null for optional options, so the parser must take it as "default"."""
    args = {"hmc_host": "hmc1", "hmc_auth": {"userid": "ops", "password": "s3cret-pw"},
            "topics": ["t1"], "topic_types": ["object"]}
    args[name] = None
    default_args = {k: v for k, v in args.items() if k != name}
    assert S.parse_source_args(args) == S.parse_source_args(default_args)
