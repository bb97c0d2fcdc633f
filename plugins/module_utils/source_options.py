# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Options of the zhmc.eda.notifications event source: the table and their validation.

``SOURCE_OPTIONS`` is the one table that the plugin's DOCUMENTATION, the JSON schema
(``extensions/eda/plugins/event_source/schemas/notifications.json``, made by
``json_schema()``) and ``parse_source_args()`` agree on. ansible-rulebook renders
arguments with Jinja2's native environment, so a digits-only string arrives as an int and
"True" as a bool: numbers given as strings and secrets given as numbers are coerced back.
No error message ever contains the value of a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import difflib
import math
import os
import re

from ansible_collections.zhmc.eda.plugins.module_utils.events import NOTIFICATION_TYPES
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    ATTRIBUTES as STOMP_RT_ATTRIBUTES,
    DEFAULT_STOMP_RT_CONFIG,
    StompRetryTimeoutConfig,
)

NOTIFICATION_TYPE_CHOICES = NOTIFICATION_TYPES
TOPIC_TYPE_CHOICES = ("object", "job", "audit", "security")
# A Unix socket path (sun_path) holds at most 107 bytes plus the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107

_BOOL_STRINGS = {
    "true": True, "yes": True, "on": True, "1": True,
    "false": False, "no": False, "off": False, "0": False,
}

# name -> (type, description); each default is the one of DEFAULT_STOMP_RT_CONFIG.
_STOMP_RT_SUBOPTION_DOCS = {
    "connect_timeout": ("float", "Seconds to wait for the broker connection (0 = no timeout)."),
    "connect_retries": ("int", "Retries after a failed connect attempt at start (-1 = forever)."),
    "reconnect_sleep_initial": ("float", "First back-off sleep in seconds."),
    "reconnect_sleep_increase": ("float", "Each sleep grows by the factor 1 + this."),
    "reconnect_sleep_max": ("float", "Ceiling of the back-off sleep in seconds."),
    "reconnect_sleep_jitter": ("float", "Random fraction added to each sleep."),
    "keepalive": ("bool", "Enable TCP keepalive on the broker connection."),
    "heartbeat_send_cycle": ("float", "STOMP heart-beat the source sends, in seconds (0 = off)."),
    "heartbeat_receive_cycle": ("float", "STOMP heart-beat the source wants from the broker, in seconds (0 = off)."),
    "heartbeat_receive_check": ("float", "Fraction of the receive cycle waited on top of it before the connection counts as lost."),
}
_STOMP_RT_SUBOPTIONS = {
    name: {"type": type_name, "description": description, "default": getattr(DEFAULT_STOMP_RT_CONFIG, name)}
    for name, (type_name, description) in _STOMP_RT_SUBOPTION_DOCS.items()
}

# name -> {type, default, required, elements, choices, description[, suboptions, no_log,
# minimum, maximum, mutually_exclusive (exactly one of these suboptions)]}. Types are Ansible's argument spec types (raw = str or list of str).
SOURCE_OPTIONS = {
    "hmc_host": {
        "type": "raw", "default": None, "required": True, "elements": "str", "choices": None,
        "description": "Host name or IP address of the HMC, or a list of redundant HMCs "
                       "(the first that answers is used).",
    },
    "hmc_auth": {
        "type": "dict", "default": None, "required": True, "elements": None, "choices": None,
        "description": "How to authenticate with the HMC: userid and password, or an existing "
                       "Web Services API session (session_id and session_credential).",
        "suboptions": {
            "userid": {"type": "str", "default": None, "required": False, "elements": None,
                       "choices": None, "description": "HMC userid."},
            "password": {"type": "str", "default": None, "required": False, "elements": None,
                         "choices": None, "no_log": True,
                         "description": "Password of the HMC userid."},
            "session_id": {"type": "str", "default": None, "required": False, "elements": None,
                           "choices": None, "no_log": True,
                           "description": "Id of an existing HMC Web Services API session."},
            "session_credential": {"type": "str", "default": None, "required": False,
                                   "elements": None, "choices": None, "no_log": True,
                                   "description": "Session credential of that session (for the "
                                                  "broker logon)."},
            "ca_certs": {"type": "path", "default": None, "required": False, "elements": None,
                         "choices": None,
                         "description": "CA certificate file or directory to verify the HMC "
                                        "certificates with (default: REQUESTS_CA_BUNDLE, "
                                        "CURL_CA_BUNDLE or certifi)."},
            "verify": {"type": "bool", "default": True, "required": False, "elements": None,
                       "choices": None,
                       "description": "Verify the HMC certificates. Only turn this off for tests."},
        },
    },
    "ws_port": {
        "type": "int", "default": 6794, "required": False, "elements": None, "choices": None,
        "minimum": 1, "maximum": 65535,
        "description": "TCP port of the HMC Web Services API.",
    },
    "stomp_port": {
        "type": "int", "default": 61612, "required": False, "elements": None, "choices": None,
        "minimum": 1, "maximum": 65535,
        "description": "TCP port of the HMC message broker (STOMP over TLS).",
    },
    "topics": {
        "type": "list", "default": [], "required": False, "elements": "str", "choices": None,
        "description": "Topic names to subscribe to. With only this option the source talks "
                       "STOMP only (no Web Services API).",
    },
    "topic_types": {
        "type": "list", "default": [], "required": False, "elements": "str",
        "choices": list(TOPIC_TYPE_CHOICES),
        "description": "Topics of the source's own HMC session to subscribe to.",
    },
    "os_message_channels": {
        "type": "list", "default": [], "required": False, "elements": "dict", "choices": None,
        "description": "Partitions (cpc + partition) or LPARs (cpc + lpar) whose operating "
                       "system messages to receive; names are regular expressions that must "
                       "match the whole name.",
        "mutually_exclusive": ["partition", "lpar"],
        "suboptions": {
            "cpc": {"type": "str", "default": None, "required": True, "elements": None,
                    "choices": None, "description": "Regular expression for the CPC name."},
            "partition": {"type": "str", "default": None, "required": False, "elements": None,
                          "choices": None,
                          "description": "Regular expression for partition names (DPM)."},
            "lpar": {"type": "str", "default": None, "required": False, "elements": None,
                     "choices": None,
                     "description": "Regular expression for LPAR names (classic mode)."},
        },
    },
    "include_refresh_messages": {
        "type": "bool", "default": True, "required": False, "elements": None, "choices": None,
        "description": "Ask the HMC to replay the OS messages it still buffers when a channel "
                       "is opened.",
    },
    "notification_types": {
        "type": "list", "default": [], "required": False, "elements": "str",
        "choices": list(NOTIFICATION_TYPE_CHOICES),
        "description": "Only emit notifications of these types. Empty means all.",
    },
    "classes": {
        "type": "list", "default": [], "required": False, "elements": "str", "choices": None,
        "description": "Only emit notifications of objects of these classes. Empty means all.",
    },
    "split_os_messages": {
        "type": "bool", "default": True, "required": False, "elements": None, "choices": None,
        "description": "Emit one event per OS message instead of one per notification.",
    },
    "dedupe_os_messages": {
        "type": "bool", "default": True, "required": False, "elements": None, "choices": None,
        "description": "Drop OS messages already emitted for the same partition or LPAR "
                       "(refresh replays, backfill).",
    },
    "backfill_os_messages": {
        "type": "bool", "default": True, "required": False, "elements": None, "choices": None,
        "description": "After a reconnect or re-logon, emit the OS messages missed meanwhile "
                       "(List OS Messages).",
    },
    "job_status": {
        "type": "bool", "default": True, "required": False, "elements": None, "choices": None,
        "description": "Add the job's status and results to job completion events (needs the "
                       "Web Services API; ignored with only topics).",
    },
    "status_events": {
        "type": "bool", "default": False, "required": False, "elements": None, "choices": None,
        "description": "Emit hmc.status events (connected, disconnected, reconnected, relogon, "
                       "gap, backlog, error).",
    },
    "stomp_retry_timeout_config": {
        "type": "dict", "default": {}, "required": False, "elements": None, "choices": None,
        "description": "Timeouts, retries, back-off and heartbeats of the broker connection; "
                       "missing keys keep their defaults.",
        "suboptions": {name: dict(spec, required=False, elements=None, choices=None)
                       for name, spec in _STOMP_RT_SUBOPTIONS.items()},
    },
    "control_socket": {
        "type": "path", "default": None, "required": False, "elements": None, "choices": None,
        "description": "Path of a Unix socket through which playbooks change the running "
                       "source's subscriptions; its directory must exist.",
    },
    "keepalive_interval": {
        "type": "float", "default": 300, "required": False, "elements": None, "choices": None,
        "minimum": 1,
        "description": "Seconds between the requests that keep the source's HMC session alive.",
    },
    "max_pending": {
        "type": "int", "default": 100000, "required": False, "elements": None, "choices": None,
        "minimum": 1,
        "description": "Most notifications held between the broker connection and the rulebook "
                       "before the source pushes back on the broker.",
    },
}


class HmcAuth(object):
    """Validated hmc_auth; its repr never shows secrets."""

    __slots__ = ("userid", "password", "session_id", "session_credential", "ca_certs", "verify")

    def __init__(self, userid=None, password=None, session_id=None, session_credential=None,
                 ca_certs=None, verify=True):
        for name, value in (("userid", userid), ("password", password),
                            ("session_id", session_id), ("session_credential", session_credential),
                            ("ca_certs", ca_certs), ("verify", verify)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("HmcAuth is immutable")

    def get(self, name, default=None):
        """dict-style access (the runtime reads options from dicts and objects alike)."""
        value = getattr(self, name, None) if name in self.__slots__ else None
        return default if value is None else value

    def secrets(self):
        """The secret values set (for errors.blank_secrets)."""
        return [s for s in (self.password, self.session_id, self.session_credential) if s]

    def __eq__(self, other):
        if not isinstance(other, HmcAuth):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self):
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self):
        return "HmcAuth(userid=%r, password=%s, session_id=%s, session_credential=%s, " \
               "ca_certs=%r, verify=%r)" % (
                   self.userid, _masked(self.password), _masked(self.session_id),
                   _masked(self.session_credential), self.ca_certs, self.verify)

    __str__ = __repr__


def _masked(value):
    return "None" if value is None else "'********'"


@dataclasses.dataclass(frozen=True, repr=False)
class SourceOptions(object):
    """The validated options of one source (see SOURCE_OPTIONS for their meaning)."""

    hmc_host: tuple
    hmc_auth: HmcAuth
    ws_port: int = 6794
    stomp_port: int = 61612
    topics: tuple = ()
    topic_types: tuple = ()
    os_message_channels: tuple = ()
    include_refresh_messages: bool = True
    notification_types: tuple = ()
    classes: tuple = ()
    split_os_messages: bool = True
    dedupe_os_messages: bool = True
    backfill_os_messages: bool = True
    job_status: bool = True
    status_events: bool = False
    stomp_retry_timeout_config: StompRetryTimeoutConfig = DEFAULT_STOMP_RT_CONFIG
    control_socket: str = None
    keepalive_interval: float = 300.0
    max_pending: int = 100000

    @property
    def needs_ws_api(self):
        """True unless the source runs on explicit topics alone with userid/password.

        Session topics and OS channels need the Web Services API; so does a given session
        (to keep it alive and to log on to the broker with its credential).
        """
        return bool(self.topic_types or self.os_message_channels or self.hmc_auth.session_id)

    @property
    def topics_only(self):
        return not self.needs_ws_api

    def get(self, name, default=None):
        """dict-style access to an option."""
        value = getattr(self, name, None) if name in _FIELD_NAMES else None
        return default if value is None else value

    def __repr__(self):
        return "SourceOptions(%s)" % ", ".join(
            "%s=%r" % (f.name, getattr(self, f.name)) for f in dataclasses.fields(self))

    __str__ = __repr__


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(SourceOptions))


# ---------------------------------------------------------------------------------------
# value checks (each raises ValueError naming the option; secrets are never echoed)


def _type_name(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    if value is None:
        return "null"
    return "a %s" % type(value).__name__


def _got(value, secret=False):
    """How an error message shows a bad value: `'abc' (str)`, or only its kind for secrets."""
    if secret:
        return _type_name(value)
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return "%s (%s)" % (text, type(value).__name__)


def _unknown(label, key, valid):
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
    hint = " (did you mean %r?)" % close[0] if close else ""
    return ValueError("%s %r%s; valid: %s" % (label, key, hint, ", ".join(sorted(valid))))


def _str(name, value, secret=False, allow_empty=False):
    if isinstance(value, bool):
        # "True"/"False" arrive as bools after native rendering; str() gives the text back
        value = str(value)
    elif isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("option '%s': expected a string, got %s" % (name, _got(value, secret)))
    if not allow_empty and not value.strip():
        raise ValueError("option '%s': must not be empty" % name)
    return value


def _bool(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    raise ValueError("option '%s': expected a boolean (true/false/yes/no), got %s"
                     % (name, _got(value)))


def _int(name, value, minimum=None, maximum=None):
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None or (minimum is not None and number < minimum) or (
            maximum is not None and number > maximum):
        raise ValueError("option '%s': expected %s, got %s"
                         % (name, _int_range(minimum, maximum), _got(value)))
    return number


def _int_range(minimum, maximum):
    if minimum is not None and maximum is not None:
        return "an integer between %d and %d" % (minimum, maximum)
    if minimum is not None:
        return "an integer of at least %d" % minimum
    return "an integer"


def _float(name, value, minimum=None):
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or (minimum is not None and number < minimum):
        expected = "a number of at least %s" % minimum if minimum is not None else "a number"
        raise ValueError("option '%s': expected %s, got %s" % (name, expected, _got(value)))
    return number


def _str_list(name, value, choices=None):
    """A list of non-empty strings (a single string counts as a one-item list), deduplicated."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError("option '%s': expected a list of strings, got %s" % (name, _got(value)))
    result = []
    for index, raw_item in enumerate(value):
        item_name = "%s[%d]" % (name, index)
        item = _str(item_name, raw_item)
        if choices is not None and item not in choices:
            close = difflib.get_close_matches(item, list(choices), n=1, cutoff=0.6)
            hint = " (did you mean %r?)" % close[0] if close else ""
            raise ValueError("option '%s': %r is not one of %s%s"
                             % (item_name, item, ", ".join(choices), hint))
        if item not in result:
            result.append(item)
    return tuple(result)


def _hosts(name, value):
    if not isinstance(value, (str, list, tuple)) or not value:
        raise ValueError("option '%s': expected a host name or a non-empty list of host names, "
                         "got %s" % (name, _got(value)))
    single = isinstance(value, str)
    if single:
        value = [value]
    hosts = []
    for index, item in enumerate(value):
        item_name = name if single else "%s[%d]" % (name, index)
        if not isinstance(item, str):
            raise ValueError("option '%s': expected a host name (string), got %s"
                             % (item_name, _got(item)))
        host = item.strip()
        if not host or any(c.isspace() for c in host):
            raise ValueError("option '%s': expected a host name without blanks, got %s"
                             % (item_name, _got(item)))
        if host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def _dict(name, value, secret=False):
    if not isinstance(value, dict):
        raise ValueError("option '%s': expected a dict, got %s" % (name, _got(value, secret)))
    return value


def _check_keys(name, value, valid):
    for key in value:
        if key not in valid:
            raise _unknown("option '%s': unknown key" % name, key, valid)


def _existing_path(name, value):
    path = os.path.expanduser(_str(name, value))
    if not os.path.exists(path):
        raise ValueError("option '%s': no such file or directory: %r" % (name, path))
    return path


def _auth(value):
    name = "hmc_auth"
    _dict(name, value, secret=True)  # e.g. "userid:password" given as one string
    _check_keys(name, value, SOURCE_OPTIONS[name]["suboptions"])
    get = value.get
    userid = get("userid")
    userid = None if userid is None else _str("hmc_auth.userid", userid)
    secrets = {}
    for key in ("password", "session_id", "session_credential"):
        raw = get(key)
        secrets[key] = None if raw is None else _str("hmc_auth." + key, raw, secret=True)
    ca_certs = get("ca_certs")
    ca_certs = None if ca_certs is None else _existing_path("hmc_auth.ca_certs", ca_certs)
    verify = get("verify")
    verify = True if verify is None else _bool("hmc_auth.verify", verify)
    return HmcAuth(userid=userid, ca_certs=ca_certs, verify=verify, **secrets)


def _channels(value):
    name = "os_message_channels"
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError("option '%s': expected a list of dicts {cpc, partition} or "
                         "{cpc, lpar}, got %s" % (name, _got(value)))
    valid = SOURCE_OPTIONS[name]["suboptions"]
    channels = []
    for index, entry in enumerate(value):
        entry_name = "%s[%d]" % (name, index)
        if not isinstance(entry, dict):
            raise ValueError("option '%s': expected a dict {cpc, partition} or {cpc, lpar}, got %s"
                             % (entry_name, _got(entry)))
        _check_keys(entry_name, entry, valid)
        present = {k: v for k, v in entry.items() if v is not None}
        if "cpc" not in present:
            raise ValueError("option '%s': 'cpc' is required" % entry_name)
        kinds = [k for k in ("partition", "lpar") if k in present]
        if len(kinds) != 1:
            raise ValueError("option '%s': give exactly one of 'partition' (DPM) or 'lpar' "
                             "(classic), got %s" % (entry_name, " and ".join(kinds) or "neither"))
        channel = {}
        for key in ("cpc", kinds[0]):
            key_name = "%s.%s" % (entry_name, key)
            pattern = _str(key_name, present[key])
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError("option '%s': invalid regular expression %r: %s"
                                 % (key_name, pattern, exc))
            channel[key] = pattern
        channels.append(channel)
    return tuple(channels)


# stomp_config's messages: "StompRetryTimeoutConfig.<key>: <problem>"
_STOMP_RT_ERROR = re.compile(r"^StompRetryTimeoutConfig\.(\w+): (.*)$", re.S)


def _stomp_rt(value):
    name = "stomp_retry_timeout_config"
    if value is None:
        return DEFAULT_STOMP_RT_CONFIG
    _dict(name, value)
    _check_keys(name, value, STOMP_RT_ATTRIBUTES)
    try:
        config = StompRetryTimeoutConfig.from_dict(value)
    except ValueError as exc:
        match = _STOMP_RT_ERROR.match(str(exc))
        if match:
            raise ValueError("option '%s.%s': %s" % (name, match.group(1), match.group(2)))
        raise ValueError("option '%s': %s" % (name, exc))
    return DEFAULT_STOMP_RT_CONFIG.override_with(config)


def _control_socket(value):
    name = "control_socket"
    path = os.path.abspath(os.path.expanduser(_str(name, value)))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ValueError("option '%s': directory %r does not exist" % (name, directory))
    if os.path.isdir(path):
        raise ValueError("option '%s': %r is a directory; give the path of the socket file"
                         % (name, path))
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise ValueError("option '%s': %r is longer than the %d bytes a Unix socket path may "
                         "have" % (name, path, MAX_SOCKET_PATH_BYTES))
    return path


def _check_modes(options):
    auth = options["hmc_auth"]
    if not (options["topics"] or options["topic_types"] or options["os_message_channels"]):
        raise ValueError("nothing to receive: give at least one of the options 'topics', "
                         "'topic_types' or 'os_message_channels'")
    if auth.password is not None and auth.userid is None:
        raise ValueError("option 'hmc_auth.userid' is required with 'hmc_auth.password'")
    if auth.session_credential is not None and auth.session_id is None:
        raise ValueError("option 'hmc_auth.session_id' is required with "
                         "'hmc_auth.session_credential'")
    has_password = auth.userid is not None and auth.password is not None
    ws_mode = bool(options["topic_types"] or options["os_message_channels"] or auth.session_id)
    if not ws_mode:
        if not has_password:
            raise ValueError("options 'hmc_auth.userid' and 'hmc_auth.password' are required "
                             "with only 'topics' (the source logs on to the broker with them)")
        return
    if not (has_password or auth.session_id is not None):
        raise ValueError("option 'hmc_auth': give 'userid' and 'password', or 'session_id' and "
                         "'session_credential' (needed for the Web Services API logon)")
    if not has_password and auth.session_credential is None:
        raise ValueError("option 'hmc_auth.session_credential' is required with "
                         "'hmc_auth.session_id' when no password is given (the broker logon "
                         "uses it)")


def parse_source_args(args):
    """Validate the source's args (as ansible-rulebook passes them) into SourceOptions.

    Raises ValueError naming the option and what is wrong with its value.
    """
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValueError("the source arguments must be a dict, got %s" % _type_name(args))
    for key in args:
        if key not in SOURCE_OPTIONS:
            raise _unknown("unknown option", key, SOURCE_OPTIONS)
    given = {key: value for key, value in args.items() if value is not None}
    for key, spec in SOURCE_OPTIONS.items():
        if spec["required"] and key not in given:
            raise ValueError("option '%s' is required" % key)

    opts = {
        "hmc_host": _hosts("hmc_host", given["hmc_host"]),
        "hmc_auth": _auth(given["hmc_auth"]),
    }
    for key, spec in SOURCE_OPTIONS.items():
        if key in opts:
            continue
        if key not in given:
            default = spec["default"]
            if key == "stomp_retry_timeout_config":
                default = DEFAULT_STOMP_RT_CONFIG
            elif isinstance(default, list):
                default = tuple(default)
            opts[key] = default
            continue
        value = given[key]
        kind = spec["type"]
        if key == "os_message_channels":
            opts[key] = _channels(value)
        elif key == "stomp_retry_timeout_config":
            opts[key] = _stomp_rt(value)
        elif key == "control_socket":
            opts[key] = _control_socket(value)
        elif kind == "bool":
            opts[key] = _bool(key, value)
        elif kind == "int":
            opts[key] = _int(key, value, spec.get("minimum"), spec.get("maximum"))
        elif kind == "float":
            opts[key] = _float(key, value, spec.get("minimum"))
        elif key == "topics":
            # "/topic/NAME" (the STOMP destination) and "NAME" mean the same topic
            opts[key] = tuple(dict.fromkeys(
                t[len("/topic/"):] if t.startswith("/topic/") and len(t) > 7 else t
                for t in _str_list(key, value)))
        elif kind == "list":
            opts[key] = _str_list(key, value, spec.get("choices"))
        else:  # pragma: no cover - every option has a branch above
            raise AssertionError("no validator for option %r" % key)
    opts["keepalive_interval"] = float(opts["keepalive_interval"])
    _check_modes(opts)
    return SourceOptions(**opts)


# ---------------------------------------------------------------------------------------
# JSON schema (draft 2020-12) for the AAP UI; the shipped schema file must equal this


_JSON_TYPES = {"str": "string", "path": "string", "int": "integer", "float": "number",
               "bool": "boolean", "list": "array", "dict": "object"}


def _title(name):
    return " ".join(word.upper() if word in ("hmc", "os", "ws", "ca", "id", "cpc", "lpar", "stomp") else word.capitalize()
                    for word in name.split("_"))


def _schema_of(name, spec):
    kind = spec["type"]
    schema = {"title": _title(name), "description": spec["description"]}
    if kind == "raw":  # hmc_host: one host or a list of hosts
        schema["anyOf"] = [
            {"type": "string", "minLength": 1},
            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        ]
    elif spec.get("required"):
        schema["type"] = _JSON_TYPES[kind]
    else:
        # null = "use the default": what a rulebook's `{{ var | default(none) }}` renders to
        schema["type"] = [_JSON_TYPES[kind], "null"]
    if spec.get("no_log"):
        schema["format"] = "password"
    if "minimum" in spec:
        schema["minimum"] = spec["minimum"]
    if "maximum" in spec:
        schema["maximum"] = spec["maximum"]
    suboptions = spec.get("suboptions")
    if kind == "list":
        if spec["elements"] == "dict":
            schema["items"] = _object_schema(suboptions)
            if spec.get("mutually_exclusive"):  # exactly one of them
                schema["items"]["oneOf"] = [{"required": [key]}
                                            for key in spec["mutually_exclusive"]]
        else:
            items = {"type": _JSON_TYPES[spec["elements"]]}
            if spec.get("choices"):
                items["enum"] = list(spec["choices"])
            schema["items"] = items
    elif kind == "dict" and suboptions:
        nullable = schema["type"]
        schema.update(_object_schema(suboptions))
        schema["type"] = nullable
    elif spec.get("choices"):
        schema["enum"] = list(spec["choices"])
    if spec.get("default") is not None:
        schema["default"] = spec["default"]
    return schema


def _object_schema(options):
    schema = {
        "type": "object",
        "properties": {name: _schema_of(name, spec) for name, spec in options.items()},
        "additionalProperties": False,
    }
    required = [name for name, spec in options.items() if spec.get("required")]
    if required:
        schema["required"] = required
    return schema


def json_schema():
    """The JSON schema of the source's args, built from SOURCE_OPTIONS.

    Regenerate the shipped file with:
    python -c 'import json; from ansible_collections.zhmc.eda.plugins.module_utils.source_options
    import json_schema; print(json.dumps(json_schema(), indent=4))' > .../schemas/notifications.json
    """
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://galaxy.ansible.com/zhmc/eda/sources/notifications.json",
        "title": "IBM Z HMC notifications",
        "description": "Receive IBM Z HMC notifications (OS messages, job completion, status, "
                       "property and inventory changes, audit and security log entries) as "
                       "rulebook events.",
    }
    schema.update(_object_schema(SOURCE_OPTIONS))
    return schema
