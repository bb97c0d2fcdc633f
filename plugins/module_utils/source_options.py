# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Validation of the zhmc.eda.notifications source's options into ``SourceOptions``.

What the options are is in ``source_option_table`` (the one table the DOCUMENTATION and the
JSON schema are made from); this module checks what a rulebook passes against it. Every
problem is a ValueError naming the option and what is wrong; no message ever contains the
value of a secret.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ansible_collections.zhmc.eda.plugins.module_utils import option_values as check
from ansible_collections.zhmc.eda.plugins.module_utils.constants import (
    DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES, DEFAULT_STOMP_PORT, DEFAULT_WS_PORT)
from ansible_collections.zhmc.eda.plugins.module_utils.source_option_docs import (  # noqa: F401
    json_schema)
from ansible_collections.zhmc.eda.plugins.module_utils.source_option_table import (  # noqa: F401
    SOURCE_OPTIONS)
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    DEFAULT_STOMP_RT_CONFIG, StompConfigError, StompRetryTimeoutConfig)
from ansible_collections.zhmc.eda.plugins.module_utils.validation import (
    MAX_SOCKET_PATH_BYTES, host_problem, topic_name_problem)

# A secret read from a file: more than this is not a password.
MAX_SECRET_FILE_BYTES = 4096

_MASK = "'********'"

__all__ = ["HmcAuth", "SourceOptions", "SOURCE_OPTIONS", "json_schema", "parse_source_args"]


@dataclasses.dataclass(frozen=True)
class HmcAuth:
    """Validated hmc_auth; its repr never shows secrets."""

    userid: Optional[str] = None
    password: Optional[str] = None
    session_id: Optional[str] = None
    session_credential: Optional[str] = None
    ca_certs: Optional[str] = None
    verify: bool = True

    def get(self, name: str, default: Any = None) -> Any:
        """dict-style access."""
        value = getattr(self, name, None) if name in _AUTH_FIELDS else None
        return default if value is None else value

    def secrets(self) -> list:
        """The secret values set (for errors.blank_secrets)."""
        return [s for s in (self.password, self.session_id, self.session_credential) if s]

    def __repr__(self) -> str:
        def masked(value: Optional[str]) -> str:
            return "None" if value is None else _MASK

        return ("HmcAuth(userid=%r, password=%s, session_id=%s, session_credential=%s, "
                "ca_certs=%r, verify=%r)" % (
                    self.userid, masked(self.password), masked(self.session_id),
                    masked(self.session_credential), self.ca_certs, self.verify))

    __str__ = __repr__


_AUTH_FIELDS = frozenset(f.name for f in dataclasses.fields(HmcAuth))


@dataclasses.dataclass(frozen=True, repr=False)
class SourceOptions:
    """The validated options of one source (see SOURCE_OPTIONS for their meaning)."""

    hmc_host: Tuple[str, ...]
    hmc_auth: HmcAuth
    ws_port: int = DEFAULT_WS_PORT
    stomp_port: int = DEFAULT_STOMP_PORT
    topics: Tuple[str, ...] = ()
    topic_types: Tuple[str, ...] = ()
    os_message_channels: Tuple[Dict[str, str], ...] = ()
    follow_os_message_channels: bool = True
    resync_interval: float = 300.0
    parallel_hmc_calls: int = 8
    include_refresh_messages: bool = True
    notification_types: Tuple[str, ...] = ()
    classes: Tuple[str, ...] = ()
    split_os_messages: bool = True
    dedupe_os_messages: bool = True
    backfill_os_messages: bool = True
    job_status: bool = True
    meta_hosts: Optional[str] = None
    status_events: bool = False
    stomp_retry_timeout_config: StompRetryTimeoutConfig = DEFAULT_STOMP_RT_CONFIG
    checkpoint_file: Optional[str] = None
    control_socket: Optional[str] = None
    keepalive_interval: float = 300.0
    max_pending: int = DEFAULT_MAX_PENDING
    max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES

    @property
    def needs_ws_api(self) -> bool:
        """True unless the source runs on explicit topics alone with userid/password.

        Session topics and OS channels need the Web Services API; so does a given session
        (to keep it alive and to log on to the broker with its credential).
        """
        return bool(self.topic_types or self.os_message_channels or self.hmc_auth.session_id)

    @property
    def topics_only(self) -> bool:
        return not self.needs_ws_api

    def get(self, name: str, default: Any = None) -> Any:
        """dict-style access to an option."""
        value = getattr(self, name, None) if name in _FIELD_NAMES else None
        return default if value is None else value

    def __repr__(self) -> str:
        return "SourceOptions(%s)" % ", ".join(
            "%s=%r" % (f.name, getattr(self, f.name)) for f in dataclasses.fields(self))

    __str__ = __repr__


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(SourceOptions))


# ---------------------------------------------------------------------------------------
# the options that need more than their type's check


def _hosts(name: str, value: Any) -> Tuple[str, ...]:
    if not isinstance(value, (str, list, tuple)) or not value:
        raise ValueError("option '%s': expected a host name or a non-empty list of host names, "
                         "got %s" % (name, check.got(value)))
    single = isinstance(value, str)
    items = [value] if single else list(value)
    hosts = []
    for index, item in enumerate(items):
        item_name = name if single else "%s[%d]" % (name, index)
        if not isinstance(item, str):
            raise ValueError("option '%s': expected a host name (string), got %s"
                             % (item_name, check.got(item)))
        host = item.strip()
        if not host or any(c.isspace() for c in host):
            raise ValueError("option '%s': expected a host name without blanks, got %s"
                             % (item_name, check.got(item)))
        problem = host_problem(host, allow_port=False)
        if problem is not None:  # e.g. evil.com\@127.0.0.1, which requests would misread
            raise ValueError("option '%s': %s, got %s" % (item_name, problem, check.got(item)))
        if host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def _secret_from(name: str, auth: dict, key: str) -> Optional[str]:
    """A secret given in the rulebook, or read from an environment variable or a file.

    ``<key>_env`` and ``<key>_file`` skip ansible-rulebook's templating, which turns a
    secret that looks like a number into one (``0x1F`` becomes 31).
    """
    given = [k for k in (key, key + "_env", key + "_file") if auth.get(k) is not None]
    if len(given) > 1:
        raise ValueError("option '%s': give only one of %s" % (
            name, ", ".join("'%s.%s'" % (name, k) for k in given)))
    if not given:
        return None
    source = given[0]
    path = "%s.%s" % (name, source)
    raw = auth[source]
    if source == key:
        return check.text(path, raw, secret=True)
    if source.endswith("_env"):
        variable = check.text(path, raw)
        secret = os.environ.get(variable)
        if not secret:
            raise ValueError("option '%s': the environment variable %s is not set or empty"
                             % (path, variable))
        return secret
    file_name = check.existing_path(path, raw)
    try:
        with open(file_name, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError("option '%s': cannot read %s: %s" % (path, file_name, exc.strerror))
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise ValueError("option '%s': %s is larger than %d bytes; it should hold only the "
                         "secret" % (path, file_name, MAX_SECRET_FILE_BYTES))
    try:
        secret = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError("option '%s': %s is not UTF-8 text" % (path, file_name)) from None
    if not secret:
        raise ValueError("option '%s': %s is empty" % (path, file_name))
    return secret


def _auth(name: str, value: Any) -> HmcAuth:
    check.mapping(name, value, secret=True)  # e.g. "userid:password" given as one string
    check.check_keys(name, value, SOURCE_OPTIONS[name]["suboptions"])
    userid = value.get("userid")
    session_id = value.get("session_id")
    ca_certs = value.get("ca_certs")
    verify = value.get("verify")
    return HmcAuth(
        userid=None if userid is None else check.text("hmc_auth.userid", userid),
        password=_secret_from(name, value, "password"),
        session_id=None if session_id is None else check.text(
            "hmc_auth.session_id", session_id, secret=True),
        session_credential=_secret_from(name, value, "session_credential"),
        ca_certs=None if ca_certs is None else check.existing_path("hmc_auth.ca_certs", ca_certs),
        verify=True if verify is None else check.boolean("hmc_auth.verify", verify))


def _channels(name: str, value: Any) -> Tuple[Dict[str, str], ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError("option '%s': expected a list of dicts {cpc, partition} or "
                         "{cpc, lpar}, got %s" % (name, check.got(value)))
    valid = SOURCE_OPTIONS[name]["suboptions"]
    channels = []
    for index, entry in enumerate(value):
        entry_name = "%s[%d]" % (name, index)
        if not isinstance(entry, dict):
            raise ValueError("option '%s': expected a dict {cpc, partition} or {cpc, lpar}, "
                             "got %s" % (entry_name, check.got(entry)))
        check.check_keys(entry_name, entry, valid)
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
            pattern = check.text(key_name, present[key])
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                raise ValueError("option '%s': invalid regular expression %r: %s"
                                 % (key_name, pattern, exc))
            channel[key] = pattern
        channels.append(channel)
    return tuple(channels)


def _stomp_rt(name: str, value: Any) -> StompRetryTimeoutConfig:
    check.mapping(name, value)
    check.check_keys(name, value, SOURCE_OPTIONS[name]["suboptions"])
    try:
        config = StompRetryTimeoutConfig.from_dict(value)
    except StompConfigError as exc:
        raise ValueError("option '%s.%s': %s" % (name, exc.attribute, exc.problem))
    return DEFAULT_STOMP_RT_CONFIG.override_with(config)


def _control_socket(name: str, value: Any) -> str:
    text = check.text(name, value)
    if "\0" in text:
        raise ValueError("option '%s': the path contains a NUL character" % name)
    path = os.path.abspath(os.path.expanduser(text))
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


def _checkpoint_file(name: str, value: Any) -> str:
    text = check.text(name, value)
    if "\0" in text:
        raise ValueError("option '%s': the path contains a NUL character" % name)
    path = os.path.abspath(os.path.expanduser(text))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ValueError("option '%s': directory %r does not exist" % (name, directory))
    if os.path.isdir(path):
        raise ValueError("option '%s': %r is a directory; give the path of a file"
                         % (name, path))
    if not os.access(directory, os.W_OK):
        raise ValueError("option '%s': directory %r is not writable" % (name, directory))
    return path


def _topics(name: str, value: Any) -> Tuple[str, ...]:
    """Topic names; "/topic/NAME" (the STOMP destination) and "NAME" mean the same topic."""
    topics = []
    for index, given in enumerate(check.text_list(name, value)):
        prefixed = given.startswith("/topic/") and len(given) > len("/topic/")
        topic = given[len("/topic/"):] if prefixed else given
        problem = topic_name_problem(topic)
        if problem is not None:
            raise ValueError("option '%s[%d]': %s, got %s" % (name, index, problem,
                                                              check.got(topic)))
        topics.append(topic)
    return tuple(dict.fromkeys(topics))


_SPECIAL: Dict[str, Callable[[str, Any], Any]] = {
    "hmc_host": _hosts,
    "hmc_auth": _auth,
    "os_message_channels": _channels,
    "stomp_retry_timeout_config": _stomp_rt,
    "control_socket": _control_socket,
    "checkpoint_file": _checkpoint_file,
    "topics": _topics,
}


def _by_type(name: str, value: Any) -> Any:
    spec = SOURCE_OPTIONS[name]
    kind = spec["type"]
    if kind == "bool":
        return check.boolean(name, value)
    if kind == "int":
        return check.integer(name, value, spec.get("minimum"), spec.get("maximum"))
    if kind == "float":
        return check.number(name, value, spec.get("minimum"))
    if kind == "list":
        return check.text_list(name, value, spec.get("choices"))
    if kind == "str":
        return check.choice(name, value, spec.get("choices"))
    raise AssertionError("no check for option %r of type %r" % (name, kind))


def _default(name: str) -> Any:
    if name == "stomp_retry_timeout_config":
        return DEFAULT_STOMP_RT_CONFIG
    default = SOURCE_OPTIONS[name]["default"]
    if isinstance(default, list):
        return tuple(default)
    if SOURCE_OPTIONS[name]["type"] == "float" and default is not None:
        return float(default)
    return default


def _check_modes(options: Dict[str, Any]) -> None:
    auth: HmcAuth = options["hmc_auth"]
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


def parse_source_args(args: Union[Dict[str, Any], None]) -> SourceOptions:
    """Validate the source's args (as ansible-rulebook passes them) into SourceOptions.

    Raises ValueError naming the option and what is wrong with its value.
    """
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValueError("the source arguments must be a dict, got %s" % check.type_name(args))
    for key in args:
        if key not in SOURCE_OPTIONS:
            raise check.unknown("unknown option", key, SOURCE_OPTIONS)
    given = {key: value for key, value in args.items() if value is not None}
    for key, spec in SOURCE_OPTIONS.items():
        if spec["required"] and key not in given:
            raise ValueError("option '%s' is required" % key)
    options: Dict[str, Any] = {}
    for key in SOURCE_OPTIONS:
        if key not in given:
            options[key] = _default(key)
        else:
            options[key] = _SPECIAL.get(key, _by_type)(key, given[key])
    for key in ("keepalive_interval", "resync_interval"):
        options[key] = float(options[key])
    _check_modes(options)
    return SourceOptions(**options)
