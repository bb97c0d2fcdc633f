"""StompRetryTimeoutConfig: defaults, merging, validation, stomp.py kwargs."""
import copy
import os
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.zhmc.eda.plugins.module_utils import stomp_config as sc
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    ATTRIBUTES,
    DEFAULT_STOMP_RT_CONFIG,
    StompRetryTimeoutConfig,
    stomp_connection_kwargs,
)
from tests.support import paths

# --- strategies -------------------------------------------------------------------------

VALID_VALUES = {
    "connect_timeout": st.one_of(st.integers(0, 3600), st.floats(0, 3600)),
    "connect_retries": st.integers(-1, 100),
    "reconnect_sleep_initial": st.floats(0, 10),
    "reconnect_sleep_increase": st.floats(0, 5),
    "reconnect_sleep_max": st.integers(0, 600),
    "reconnect_sleep_jitter": st.floats(0, 1),
    "keepalive": st.booleans(),
    "heartbeat_send_cycle": st.one_of(st.just(0), st.floats(0.2, 60)),
    "heartbeat_receive_cycle": st.one_of(st.just(0), st.floats(0.2, 60)),
    "heartbeat_receive_check": st.floats(0.5, 10),
}


@st.composite
def partial_configs(draw):
    """A config with a random subset of attributes set to valid values."""
    values = {}
    for name in ATTRIBUTES:
        if draw(st.booleans()):
            values[name] = draw(VALID_VALUES[name])
    return StompRetryTimeoutConfig(**values)


# --- the installed collection is what runs -------------------------------------------------


def test_imported_from_collection_under_test():
    """Under `make test` the module comes from the installed tarball, not the checkout."""
    expected_root = os.path.realpath(paths.collection_root())
    assert os.path.realpath(sc.__file__).startswith(expected_root + os.sep)
    if os.environ.get("ZHMC_EDA_COLLECTIONS_PATH"):
        checkout_copy = os.path.join(paths.REPO_ROOT, "plugins") + os.sep
        assert not os.path.realpath(sc.__file__).startswith(checkout_copy)


# --- construction and defaults ---------------------------------------------------------------


def test_all_attributes_default_to_none():
    config = StompRetryTimeoutConfig()
    for name in ATTRIBUTES:
        assert getattr(config, name) is None
    assert config.missing() == list(ATTRIBUTES)


def test_defaults_are_the_hmc_proven_values():
    expected = {
        "connect_timeout": 30,
        "connect_retries": 3,
        "reconnect_sleep_initial": 0.1,
        "reconnect_sleep_increase": 0.5,
        "reconnect_sleep_max": 60,
        "reconnect_sleep_jitter": 0.1,
        "keepalive": True,
        "heartbeat_send_cycle": 5.0,
        "heartbeat_receive_cycle": 5.0,
        "heartbeat_receive_check": 1.0,
    }
    assert DEFAULT_STOMP_RT_CONFIG.to_dict() == expected
    assert sc.DEFAULT_STOMP_CONNECT_TIMEOUT == 30
    assert sc.DEFAULT_STOMP_CONNECT_RETRIES == 3
    assert sc.DEFAULT_STOMP_RECONNECT_SLEEP_INITIAL == 0.1
    assert sc.DEFAULT_STOMP_RECONNECT_SLEEP_INCREASE == 0.5
    assert sc.DEFAULT_STOMP_RECONNECT_SLEEP_MAX == 60
    assert sc.DEFAULT_STOMP_RECONNECT_SLEEP_JITTER == 0.1
    assert sc.DEFAULT_STOMP_KEEPALIVE is True
    assert sc.DEFAULT_STOMP_HEARTBEAT_SEND_CYCLE == 5.0
    assert sc.DEFAULT_STOMP_HEARTBEAT_RECEIVE_CYCLE == 5.0
    assert sc.DEFAULT_STOMP_HEARTBEAT_RECEIVE_CHECK == 1.0


def test_instance_attributes_and_immutability():
    config = StompRetryTimeoutConfig(connect_timeout=5)
    assert config.connect_timeout == 5
    with pytest.raises(AttributeError, match="override_with"):
        config.connect_timeout = 6
    assert config.connect_timeout == 5


def test_repr_is_readable_and_round_trips():
    config = StompRetryTimeoutConfig(connect_timeout=5, keepalive=False)
    text = repr(config)
    assert text.startswith("StompRetryTimeoutConfig(")
    assert "connect_timeout=5" in text and "keepalive=False" in text
    assert "heartbeat_send_cycle=None" in text
    assert eval(text, {"StompRetryTimeoutConfig": StompRetryTimeoutConfig}) == config  # noqa: S307


def test_equality_and_hash():
    a = StompRetryTimeoutConfig(connect_timeout=5)
    b = StompRetryTimeoutConfig(connect_timeout=5)
    c = StompRetryTimeoutConfig(connect_timeout=6)
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert a != "not a config"
    assert len({a, b, c}) == 2


def test_copy_and_pickle():
    config = StompRetryTimeoutConfig(connect_retries=-1, heartbeat_send_cycle=0)
    assert copy.copy(config) == config
    assert copy.deepcopy(config) == config
    assert pickle.loads(pickle.dumps(config)) == config


# --- override_with ---------------------------------------------------------------------------


def test_override_with_non_none_wins():
    base = StompRetryTimeoutConfig(connect_timeout=10, connect_retries=2)
    override = StompRetryTimeoutConfig(connect_retries=5, keepalive=False)
    merged = base.override_with(override)
    assert merged.connect_timeout == 10
    assert merged.connect_retries == 5
    assert merged.keepalive is False
    assert merged.heartbeat_send_cycle is None


def test_override_with_false_and_zero_win():
    """False and 0 are real values, not "unspecified"."""
    merged = DEFAULT_STOMP_RT_CONFIG.override_with(
        StompRetryTimeoutConfig(keepalive=False, heartbeat_send_cycle=0, connect_timeout=0))
    assert merged.keepalive is False
    assert merged.heartbeat_send_cycle == 0
    assert merged.connect_timeout == 0


def test_override_with_none_is_equal_copy():
    merged = DEFAULT_STOMP_RT_CONFIG.override_with(None)
    assert merged == DEFAULT_STOMP_RT_CONFIG
    assert merged is not DEFAULT_STOMP_RT_CONFIG


@settings(max_examples=200, deadline=None)
@given(partial_configs(), partial_configs(), partial_configs())
def test_override_is_associative(a, b, c):
    assert a.override_with(b).override_with(c) == a.override_with(b.override_with(c))


@settings(max_examples=200, deadline=None)
@given(partial_configs())
def test_override_identity(a):
    empty = StompRetryTimeoutConfig()
    assert a.override_with(None) == a
    assert a.override_with(empty) == a
    assert empty.override_with(a) == a


@settings(max_examples=200, deadline=None)
@given(partial_configs(), partial_configs())
def test_override_leaves_inputs_unmodified(a, b):
    before_a, before_b = a.to_dict(), b.to_dict()
    merged = a.override_with(b)
    assert a.to_dict() == before_a
    assert b.to_dict() == before_b
    for name in ATTRIBUTES:
        expected = getattr(b, name) if getattr(b, name) is not None else getattr(a, name)
        assert getattr(merged, name) == expected


# --- from_dict -------------------------------------------------------------------------------


def test_from_dict_builds_and_converts_numeric_strings():
    config = StompRetryTimeoutConfig.from_dict({
        "connect_timeout": "20",
        "heartbeat_send_cycle": "5.0",
        "connect_retries": "-1",
        "keepalive": "false",
        "reconnect_sleep_max": 30,
    })
    assert config.connect_timeout == 20
    assert config.heartbeat_send_cycle == 5.0
    assert config.connect_retries == -1
    assert config.keepalive is False
    assert config.reconnect_sleep_max == 30
    assert config.reconnect_sleep_initial is None


def test_from_dict_none_and_empty():
    assert StompRetryTimeoutConfig.from_dict(None) == StompRetryTimeoutConfig()
    assert StompRetryTimeoutConfig.from_dict({}) == StompRetryTimeoutConfig()
    assert StompRetryTimeoutConfig.from_dict({"connect_timeout": None}) == StompRetryTimeoutConfig()


def test_from_dict_unknown_key_suggests_closest():
    with pytest.raises(ValueError) as info:
        StompRetryTimeoutConfig.from_dict({"heartbeat_recieve_cycle": 5})
    message = str(info.value)
    assert "'heartbeat_recieve_cycle'" in message
    assert "did you mean 'heartbeat_receive_cycle'" in message


def test_from_dict_unknown_key_without_close_match():
    with pytest.raises(ValueError, match="unknown key 'zzz'") as info:
        StompRetryTimeoutConfig.from_dict({"zzz": 1})
    assert "did you mean" not in str(info.value)


def test_from_dict_rejects_non_mapping():
    with pytest.raises(ValueError, match="expected a dictionary, got list"):
        StompRetryTimeoutConfig.from_dict([("connect_timeout", 1)])


def test_from_dict_validates_values():
    with pytest.raises(ValueError, match=r"connect_timeout.*'abc'"):
        StompRetryTimeoutConfig.from_dict({"connect_timeout": "abc"})


# --- validation ------------------------------------------------------------------------------

REJECTIONS = [
    ("connect_timeout", True, "expected a number"),
    ("connect_timeout", "soon", "expected a number"),
    ("connect_timeout", [1], "expected a number"),
    ("connect_timeout", -1, "must not be negative"),
    ("connect_timeout", float("nan"), "finite"),
    ("connect_timeout", float("inf"), "finite"),
    ("connect_retries", -2, "integer >= -1"),
    ("connect_retries", 1.5, "integer >= -1"),
    ("connect_retries", False, "expected a number"),
    ("reconnect_sleep_initial", -0.1, "must not be negative"),
    ("reconnect_sleep_increase", -1, "must not be negative"),
    ("reconnect_sleep_max", -5, "must not be negative"),
    ("reconnect_sleep_jitter", -0.5, "must not be negative"),
    ("keepalive", 1, "expected a boolean"),
    ("keepalive", "maybe", "expected a boolean"),
    ("keepalive", 0.0, "expected a boolean"),
    ("keepalive", "1", "expected a boolean"),
    ("heartbeat_send_cycle", 0.1, "0 \\(heartbeats off\\) or at least 0.2"),
    ("heartbeat_send_cycle", -1, "must not be negative"),
    ("heartbeat_receive_cycle", 0.19, "0 \\(heartbeats off\\) or at least 0.2"),
    ("heartbeat_receive_cycle", True, "expected a number"),
    ("heartbeat_receive_check", 0.4, "at least 0.5"),
    ("heartbeat_receive_check", -1, "at least 0.5"),
    ("heartbeat_receive_check", "x", "expected a number"),
]


@pytest.mark.parametrize("name,value,fragment", REJECTIONS)
def test_rejections_name_attribute_and_value(name, value, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        StompRetryTimeoutConfig(**{name: value})
    assert name in str(info.value)
    assert repr(value) in str(info.value)
    with pytest.raises(ValueError, match=fragment):
        StompRetryTimeoutConfig.from_dict({name: value})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([n for n in ATTRIBUTES if n != "keepalive"]),
       st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False))
def test_any_negative_number_is_rejected(name, value):
    if name == "connect_retries" and value >= -1 and float(value).is_integer():
        return
    with pytest.raises(ValueError, match=name):
        StompRetryTimeoutConfig(**{name: value})


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["heartbeat_send_cycle", "heartbeat_receive_cycle"]),
       st.floats(min_value=1e-6, max_value=0.19999))
def test_tiny_heartbeat_cycles_are_rejected(name, value):
    with pytest.raises(ValueError, match=name):
        StompRetryTimeoutConfig(**{name: value})


def test_boundaries_are_accepted():
    config = StompRetryTimeoutConfig(
        connect_timeout=0, connect_retries=-1, heartbeat_send_cycle=0,
        heartbeat_receive_cycle=0.2, heartbeat_receive_check=0.5, reconnect_sleep_jitter=0)
    assert config.connect_retries == -1
    assert config.heartbeat_receive_cycle == 0.2


# --- stomp.py kwargs -------------------------------------------------------------------------


def test_kwargs_for_defaults():
    kwargs = stomp_connection_kwargs(DEFAULT_STOMP_RT_CONFIG)
    assert kwargs == {
        "timeout": 30,
        "reconnect_attempts_max": 4,
        "reconnect_sleep_initial": 0.1,
        "reconnect_sleep_increase": 0.5,
        "reconnect_sleep_max": 60,
        "reconnect_sleep_jitter": 0.1,
        "keepalive": True,
        # the broker is asked for heart-beats twice as often as the receiver wants them
        # (ActiveMQ may stay silent for two of its intervals); stomp.py's own check gives
        # up after the configured 5 s x (1 + 1.0)
        "heartbeats": (5000, 2500),
        "heart_beat_receive_scale": 4.0,
    }


def test_kwargs_special_values():
    config = DEFAULT_STOMP_RT_CONFIG.override_with(StompRetryTimeoutConfig(
        connect_timeout=0, connect_retries=-1, keepalive=False,
        heartbeat_send_cycle=0, heartbeat_receive_cycle=2.5, heartbeat_receive_check=0.5))
    kwargs = stomp_connection_kwargs(config)
    assert kwargs["timeout"] is None
    assert kwargs["reconnect_attempts_max"] == -1
    assert kwargs["keepalive"] is None
    assert kwargs["heartbeats"] == (0, 1250)
    assert all(isinstance(v, int) for v in kwargs["heartbeats"])
    assert kwargs["heart_beat_receive_scale"] == 3.0


def test_kwargs_zero_retries_means_one_attempt():
    config = DEFAULT_STOMP_RT_CONFIG.override_with(StompRetryTimeoutConfig(connect_retries=0))
    assert stomp_connection_kwargs(config)["reconnect_attempts_max"] == 1


def test_kwargs_need_a_merged_config():
    with pytest.raises(ValueError, match="fully merged.*connect_timeout"):
        stomp_connection_kwargs(StompRetryTimeoutConfig(connect_retries=1))


def test_kwargs_are_accepted_by_stomp_connection():
    stomp = pytest.importorskip("stomp")
    conn = stomp.Connection([("127.0.0.1", 1)], **stomp_connection_kwargs(DEFAULT_STOMP_RT_CONFIG))
    assert not conn.is_connected()


def test_loss_detection_seconds():
    assert DEFAULT_STOMP_RT_CONFIG.loss_detection_seconds() == 11.0
    off = DEFAULT_STOMP_RT_CONFIG.override_with(StompRetryTimeoutConfig(heartbeat_receive_cycle=0))
    assert off.loss_detection_seconds() is None
    fast = StompRetryTimeoutConfig(heartbeat_receive_cycle=0.5, heartbeat_receive_check=0.5)
    assert fast.loss_detection_seconds() == pytest.approx(1.75)
