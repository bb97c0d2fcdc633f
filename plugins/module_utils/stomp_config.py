# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""STOMP retry, timeout and heartbeat configuration (zhmcclient's StompRetryTimeoutConfig).

Pure Python, standard library only: defaults, merging with ``override_with``, validation of
user input (rulebook args, module params) and the keyword arguments for ``stomp.Connection``.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

Number = Union[int, float]

from ansible_collections.zhmc.eda.plugins.module_utils.constants import BOOL_STRINGS

# The HMC-proven defaults (zhmcclient 1.16+): heartbeats and keepalive on, because stomp.py's
# own defaults (no heartbeats, no keepalive) leave a silent network loss undetected.
DEFAULT_STOMP_CONNECT_TIMEOUT = 30
DEFAULT_STOMP_CONNECT_RETRIES = 3
DEFAULT_STOMP_RECONNECT_SLEEP_INITIAL = 0.1
DEFAULT_STOMP_RECONNECT_SLEEP_INCREASE = 0.5
DEFAULT_STOMP_RECONNECT_SLEEP_MAX = 60
DEFAULT_STOMP_RECONNECT_SLEEP_JITTER = 0.1
DEFAULT_STOMP_KEEPALIVE = True
DEFAULT_STOMP_HEARTBEAT_SEND_CYCLE = 5.0
DEFAULT_STOMP_HEARTBEAT_RECEIVE_CYCLE = 5.0
DEFAULT_STOMP_HEARTBEAT_RECEIVE_CHECK = 1.0

# A heartbeat cycle below this (other than 0 = off) would flood the HMC with heart-beats.
MIN_HEARTBEAT_CYCLE = 0.2
MIN_HEARTBEAT_RECEIVE_CHECK = 0.5

ATTRIBUTES = (
    "connect_timeout",
    "connect_retries",
    "reconnect_sleep_initial",
    "reconnect_sleep_increase",
    "reconnect_sleep_max",
    "reconnect_sleep_jitter",
    "keepalive",
    "heartbeat_send_cycle",
    "heartbeat_receive_cycle",
    "heartbeat_receive_check",
)


class StompConfigError(ValueError):
    """A bad value of one StompRetryTimeoutConfig attribute; ``attribute`` names it."""

    def __init__(self, attribute, problem):
        super(StompConfigError, self).__init__(
            "StompRetryTimeoutConfig.%s: %s" % (attribute, problem))
        self.attribute = attribute
        self.problem = problem


def _describe(value: object) -> str:
    return "%r (%s)" % (value, type(value).__name__)


def _to_number(name: str, value: object) -> Number:
    """Return value as int or float; numeric strings are converted, bools rejected."""
    if isinstance(value, bool):
        raise StompConfigError(name, "expected a number, got %s" % _describe(value))
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise StompConfigError(name, "expected a number, got %s" % _describe(value))
    else:
        raise StompConfigError(name, "expected a number, got %s" % _describe(value))
    if isinstance(number, float) and not math.isfinite(number):
        raise StompConfigError(name, "expected a finite number, got %s" % _describe(value))
    return number


def _non_negative(name: str, value: object) -> Number:
    number = _to_number(name, value)
    if number < 0:
        raise StompConfigError(name, "must not be negative, got %s" % _describe(value))
    return number


def _connect_retries(name: str, value: object) -> int:
    number = _to_number(name, value)
    if isinstance(number, float):
        if not number.is_integer():
            raise StompConfigError(
                name, "expected an integer >= -1 (-1 = retry forever), got %s" % _describe(value))
        number = int(number)
    if number < -1:
        raise StompConfigError(
            name, "expected an integer >= -1 (-1 = retry forever), got %s" % _describe(value))
    return number


def _keepalive(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOL_STRINGS:
        return BOOL_STRINGS[value.strip().lower()]
    raise StompConfigError(name, "expected a boolean, got %s" % _describe(value))


def _heartbeat_cycle(name: str, value: object) -> Number:
    number = _non_negative(name, value)
    if number != 0 and number < MIN_HEARTBEAT_CYCLE:
        raise StompConfigError(name, "expected 0 (heartbeats off) or at least %s seconds, "
                               "got %s" % (MIN_HEARTBEAT_CYCLE, _describe(value)))
    return number


def _receive_check(name: str, value: object) -> Number:
    number = _to_number(name, value)
    if number < MIN_HEARTBEAT_RECEIVE_CHECK:
        raise StompConfigError(name, "expected at least %s (a fraction of the receive cycle "
                               "to wait on top of it), got %s"
                               % (MIN_HEARTBEAT_RECEIVE_CHECK, _describe(value)))
    return number


_VALIDATORS: Dict[str, Callable[[str, object], Any]] = {
    "connect_timeout": _non_negative,
    "connect_retries": _connect_retries,
    "reconnect_sleep_initial": _non_negative,
    "reconnect_sleep_increase": _non_negative,
    "reconnect_sleep_max": _non_negative,
    "reconnect_sleep_jitter": _non_negative,
    "keepalive": _keepalive,
    "heartbeat_send_cycle": _heartbeat_cycle,
    "heartbeat_receive_cycle": _heartbeat_cycle,
    "heartbeat_receive_check": _receive_check,
}


class StompRetryTimeoutConfig:
    """Retry, timeout and heartbeat settings of the STOMP connection to the HMC.

    Every attribute is optional: None means "not specified here", so that a partial
    configuration can be merged over the defaults with ``override_with``.

    connect_timeout: seconds to wait for the connection (0 = no timeout).
    connect_retries: retries after the first failed connect attempt (-1 = forever).
    reconnect_sleep_initial / _increase / _max / _jitter: the back-off between attempts:
        the first sleep, the factor it grows by (1 + increase), its ceiling, and the random
        fraction added to each sleep.
    keepalive: enable TCP keepalive on the socket.
    heartbeat_send_cycle / heartbeat_receive_cycle: STOMP heart-beat periods in seconds
        (0 = off) that the client offers to send and wants to receive.
    heartbeat_receive_check: the fraction of the receive cycle waited on top of it before a
        silent connection counts as lost.
    """

    __slots__ = ATTRIBUTES

    connect_timeout: Optional[Number]
    connect_retries: Optional[int]
    reconnect_sleep_initial: Optional[Number]
    reconnect_sleep_increase: Optional[Number]
    reconnect_sleep_max: Optional[Number]
    reconnect_sleep_jitter: Optional[Number]
    keepalive: Optional[bool]
    heartbeat_send_cycle: Optional[Number]
    heartbeat_receive_cycle: Optional[Number]
    heartbeat_receive_check: Optional[Number]

    def __init__(self, connect_timeout: object = None, connect_retries: object = None,
                 reconnect_sleep_initial: object = None, reconnect_sleep_increase: object = None,
                 reconnect_sleep_max: object = None, reconnect_sleep_jitter: object = None,
                 keepalive: object = None, heartbeat_send_cycle: object = None,
                 heartbeat_receive_cycle: object = None,
                 heartbeat_receive_check: object = None) -> None:
        values = locals()
        for name in ATTRIBUTES:
            value = values[name]
            if value is not None:
                value = _VALIDATORS[name](name, value)
            object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls, mapping: Optional[Mapping[str, Any]]) -> "StompRetryTimeoutConfig":
        """Build a config from user input (rulebook args, module params).

        None values are "not specified". Unknown keys raise ValueError naming the key and
        the closest valid one.
        """
        if mapping is None:
            return cls()
        if not isinstance(mapping, dict):
            raise ValueError(
                "stomp_retry_timeout_config: expected a dictionary, got %s"
                % type(mapping).__name__)
        for key in mapping:
            if key not in ATTRIBUTES:
                close = difflib.get_close_matches(str(key), ATTRIBUTES, n=1)
                hint = " (did you mean %r?)" % close[0] if close else ""
                raise ValueError(
                    "stomp_retry_timeout_config: unknown key %r%s; valid keys: %s"
                    % (key, hint, ", ".join(ATTRIBUTES)))
        return cls(**mapping)

    def to_dict(self) -> Dict[str, Any]:
        """Return all ten attributes as a dict (None for unspecified ones)."""
        return {name: getattr(self, name) for name in ATTRIBUTES}

    def override_with(self, override_config: Optional["StompRetryTimeoutConfig"]
                      ) -> "StompRetryTimeoutConfig":
        """Return a new config: this one as the default, non-None attributes of
        ``override_config`` winning. Neither input is modified."""
        merged = self.to_dict()
        if override_config is not None:
            for name, value in override_config.to_dict().items():
                if value is not None:
                    merged[name] = value
        return StompRetryTimeoutConfig(**merged)

    def missing(self) -> List[str]:
        """Names of the attributes that are still None."""
        return [name for name in ATTRIBUTES if getattr(self, name) is None]

    def loss_detection_seconds(self) -> Optional[float]:
        """Seconds after which a silent connection counts as lost, or None without
        receive heartbeats: receive cycle x (1 + check) + 1 s of scheduling slack."""
        cycle = self.heartbeat_receive_cycle
        if not cycle:
            return None
        check = self.heartbeat_receive_check
        if check is None:
            check = DEFAULT_STOMP_HEARTBEAT_RECEIVE_CHECK
        return cycle * (1 + check) + 1.0

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            "StompRetryTimeoutConfig is immutable; use override_with() to derive a new one")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StompRetryTimeoutConfig):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in ATTRIBUTES))

    def __repr__(self) -> str:
        return "StompRetryTimeoutConfig(%s)" % ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in ATTRIBUTES)

    def __copy__(self) -> "StompRetryTimeoutConfig":
        return StompRetryTimeoutConfig(**self.to_dict())

    def __deepcopy__(self, memo: Dict[int, Any]) -> "StompRetryTimeoutConfig":
        return self.__copy__()

    def __reduce__(self) -> Any:
        return (_rebuild, (self.to_dict(),))


def _rebuild(values: Dict[str, Any]) -> StompRetryTimeoutConfig:
    return StompRetryTimeoutConfig(**values)


DEFAULT_STOMP_RT_CONFIG = StompRetryTimeoutConfig(
    connect_timeout=DEFAULT_STOMP_CONNECT_TIMEOUT,
    connect_retries=DEFAULT_STOMP_CONNECT_RETRIES,
    reconnect_sleep_initial=DEFAULT_STOMP_RECONNECT_SLEEP_INITIAL,
    reconnect_sleep_increase=DEFAULT_STOMP_RECONNECT_SLEEP_INCREASE,
    reconnect_sleep_max=DEFAULT_STOMP_RECONNECT_SLEEP_MAX,
    reconnect_sleep_jitter=DEFAULT_STOMP_RECONNECT_SLEEP_JITTER,
    keepalive=DEFAULT_STOMP_KEEPALIVE,
    heartbeat_send_cycle=DEFAULT_STOMP_HEARTBEAT_SEND_CYCLE,
    heartbeat_receive_cycle=DEFAULT_STOMP_HEARTBEAT_RECEIVE_CYCLE,
    heartbeat_receive_check=DEFAULT_STOMP_HEARTBEAT_RECEIVE_CHECK,
)


# ActiveMQ (the HMC's broker) checks a connection once per heart-beat cycle and sends a
# heart-beat only when it wrote nothing since its last check: after a message, the next
# heart-beat can come almost two cycles later (measured: 9.95 s with a 5 s cycle). The
# receiver therefore asks the broker for heart-beats this many times as often as it wants
# to hear from it, so that a quiet but healthy connection never looks dead.
BROKER_HEARTBEAT_DIVISOR = 2


def broker_heartbeat_ms(receive_cycle: float) -> int:
    """The receive heart-beat interval to ask the broker for (ms; 0: none)."""
    return int(round(receive_cycle * 1000 / BROKER_HEARTBEAT_DIVISOR))


def stomp_connection_kwargs(config: StompRetryTimeoutConfig) -> Dict[str, Any]:
    """Keyword arguments for ``stomp.Connection`` from a fully merged config.

    connect_retries counts retries *after* the first attempt (as in zhmcclient's docs),
    while stomp.py's reconnect_attempts_max counts all attempts: hence the + 1.
    -1 (retry forever) stays -1, which stomp.py reads as "no limit".
    """
    missing = config.missing()
    if missing:
        raise ValueError(
            "stomp_connection_kwargs needs a fully merged config "
            "(DEFAULT_STOMP_RT_CONFIG.override_with(config)); unset: %s" % ", ".join(missing))
    values = config.to_dict()   # every value set (checked above)
    retries = values["connect_retries"]
    return {
        "timeout": values["connect_timeout"] or None,
        "reconnect_attempts_max": -1 if retries == -1 else retries + 1,
        "reconnect_sleep_initial": values["reconnect_sleep_initial"],
        "reconnect_sleep_increase": values["reconnect_sleep_increase"],
        "reconnect_sleep_max": values["reconnect_sleep_max"],
        "reconnect_sleep_jitter": values["reconnect_sleep_jitter"],
        "keepalive": values["keepalive"] or None,
        "heartbeats": (int(round(values["heartbeat_send_cycle"] * 1000)),
                       broker_heartbeat_ms(values["heartbeat_receive_cycle"])),
        # stomp.py's own check (it closes the socket) counts in the asked-for interval:
        # it gives up after the configured cycle x (1 + check), as the watchdog does
        "heart_beat_receive_scale": BROKER_HEARTBEAT_DIVISOR * (
            1 + values["heartbeat_receive_check"]),
    }
