# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""A small client for the HMC Web Services API (the subset the collection needs).

Four parts, one job each, each importing only the ones above it:

- hmc_errors: the errors, and how a failed exchange or an error answer becomes one;
- hmc_http: `HMCHttp`, one HTTPS exchange with one host (TLS, timeouts, GET retries);
- hmc_session: `HMCSession`, the session (hosts, logon, re-logon on 403 reason 4/5,
  session-wide calls, generic GET of properties and POST);
- here: `HMCClient`, the operations the collection uses (CPCs, partitions and LPARs,
  OS message channels, OS commands, job status).

`HMCClient` is a subclass of `HMCSession`, not a wrapper around one: the session's
attributes (`session_id`, `object_topic`, `relogon_count`, `on_relogon`, ...) are the
client's public API, and `on_relogon` callbacks are called with the client. Composition
would forward each of them by hand; the subclass adds operations and nothing else.

Every name callers import from here stays importable from here (re-exported below).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_errors import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, HMCAuthError, HMCClientError, HMCConnectionError,
    HMCError)
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_http import (
    GET_RETRY_BACKOFF, LOG, USER_AGENT)
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_session import (
    DEFAULT_HMC_PORT, HMCSession)

__all__ = [
    "DEFAULT_HMC_PORT", "GET_RETRY_BACKOFF", "HAS_REQUESTS", "LOG", "LPAR_CLASS",
    "MAX_OS_COMMAND_LENGTH", "PARTITION_CLASS", "REQUESTS_IMPORT_ERROR", "USER_AGENT",
    "HMCAuthError", "HMCClient", "HMCClientError", "HMCConnectionError", "HMCError",
    "HMCSession", "object_id",
]

MAX_OS_COMMAND_LENGTH = 200
PARTITION_CLASS = "partition"
LPAR_CLASS = "logical-partition"
OS_OBJECT_PREFIXES = ("/api/partitions/", "/api/logical-partitions/")
JOB_PREFIXES = ("/api/jobs/",)

# One partition or LPAR as the find_* methods return it:
# {uri, name, id, class, cpc_name, cpc_uri, status}.
OsObject = Dict[str, Any]


def object_id(uri: str) -> str:
    """The last path segment of an HMC object URI (the object ID)."""
    return str(uri).rstrip("/").rsplit("/", 1)[-1]


def _check_object_uri(uri: str, what: str, prefixes: Tuple[str, ...] = OS_OBJECT_PREFIXES
                      ) -> None:
    if not isinstance(uri, str) or not uri.startswith(prefixes) or uri.rstrip("/") in (
            p.rstrip("/") for p in prefixes):
        raise ValueError("%s must be a URI starting with %s, got %r"
                         % (what, " or ".join(prefixes), uri))


def _check_regex(regex: Optional[str], what: str) -> None:
    if not isinstance(regex, str) or not regex:
        raise ValueError("%s regex must be a non-empty string, got %r" % (what, regex))
    try:
        re.compile(regex)
    except re.error as exc:
        raise ValueError("%s regex %r is not a valid regular expression: %s"
                         % (what, regex, exc))


class HMCClient(HMCSession):
    """An HMC session (see `HMCSession` for the arguments) with the collection's operations."""

    # ---------------------------------------------------------------- CPCs
    def list_cpcs(self, name: Optional[str] = None) -> List[Dict[str, Any]]:
        """List CPCs (object-uri, name, status, dpm-enabled, ...); `name` is a full-match regex."""
        query = [("name", name)] if name is not None else None
        result = self._request("GET", "/api/cpcs", query=query)
        return list((result or {}).get("cpcs", []))

    def find_cpcs(self, name_regex: str) -> List[Dict[str, Any]]:
        """CPCs whose name fully matches `name_regex` (the HMC filters)."""
        _check_regex(name_regex, "cpc name")
        cpcs = self.list_cpcs(name=name_regex)
        for cpc in cpcs:
            if "dpm-enabled" not in cpc:  # older HMCs do not list it
                cpc["dpm-enabled"] = bool(
                    self.get_properties(cpc["object-uri"], ["dpm-enabled"]).get("dpm-enabled"))
        return cpcs

    # ---------------------------------------------------------------- partitions and LPARs
    def _list_children(self, cpc: Dict[str, Any], kind: str, name_regex: Optional[str]
                       ) -> List[OsObject]:
        cpc_id = object_id(cpc["object-uri"])
        if kind == PARTITION_CLASS:
            uri, key = "/api/cpcs/%s/partitions" % cpc_id, "partitions"
        else:
            uri, key = "/api/cpcs/%s/logical-partitions" % cpc_id, "logical-partitions"
        try:
            result = self._request("GET", uri, query=[("name", name_regex)])
        except HMCError as exc:
            if kind == LPAR_CLASS and exc.http_status == 404 and exc.reason == 1:
                return []  # the LPAR list answers "no match" with 404 reason 1
            raise
        return [{
            "uri": item["object-uri"],
            "name": item.get("name"),
            "id": object_id(item["object-uri"]),
            "class": kind,
            "cpc_name": cpc.get("name"),
            "cpc_uri": cpc["object-uri"],
            "status": item.get("status"),
        } for item in (result or {}).get(key, [])]

    def find_partitions(self, cpc_regex: str, name_regex: str) -> List[OsObject]:
        """Partitions of DPM CPCs, both names full-match regexes."""
        return self.find_os_objects(cpc_regex, partition_regex=name_regex, lpar_regex=None,
                                    _kinds=(PARTITION_CLASS,))

    def find_lpars(self, cpc_regex: str, name_regex: str) -> List[OsObject]:
        """LPARs of classic CPCs, both names full-match regexes."""
        return self.find_os_objects(cpc_regex, partition_regex=None, lpar_regex=name_regex,
                                    _kinds=(LPAR_CLASS,))

    def find_os_objects(self, cpc_regex: str, partition_regex: Optional[str] = None,
                        lpar_regex: Optional[str] = None,
                        _kinds: Optional[Sequence[str]] = None) -> List[OsObject]:
        """Partitions (DPM CPCs) and LPARs (classic CPCs) with OS consoles.

        Each name is a full-match regex. With neither `partition_regex` nor `lpar_regex`,
        every partition and LPAR of the matching CPCs; with only one, only that kind.
        Returns dicts ``{uri, name, id, class, cpc_name, cpc_uri, status}``.
        """
        if _kinds is None:
            if partition_regex is None and lpar_regex is None:
                partition_regex = lpar_regex = ".*"
            _kinds = tuple(kind for kind, regex in ((PARTITION_CLASS, partition_regex),
                                                    (LPAR_CLASS, lpar_regex)) if regex is not None)
        if PARTITION_CLASS in _kinds:
            _check_regex(partition_regex, "partition name")
        if LPAR_CLASS in _kinds:
            _check_regex(lpar_regex, "lpar name")
        found: List[OsObject] = []
        for cpc in self.find_cpcs(cpc_regex):
            kind = PARTITION_CLASS if cpc.get("dpm-enabled") else LPAR_CLASS
            if kind not in _kinds:
                continue
            regex = partition_regex if kind == PARTITION_CLASS else lpar_regex
            found.extend(self._list_children(cpc, kind, regex))
        return found

    # ---------------------------------------------------------------- OS messages
    def open_os_message_channel(self, object_uri: str, include_refresh_messages: bool = True
                                ) -> Tuple[Optional[str], str]:
        """Open the OS message channel of a partition or LPAR in this session.

        Returns ``(topic_name, "opened")``, ``(topic_name, "existing")`` when this session
        has it open already (409 reason 331), or ``(None, "unsupported")`` when the OS does
        not support OS messages (409 reason 332).
        """
        _check_object_uri(object_uri, "object_uri")
        if not isinstance(include_refresh_messages, bool):
            raise ValueError("include_refresh_messages must be true or false, got %r"
                             % (include_refresh_messages,))
        uri = object_uri.rstrip("/") + "/operations/open-os-message-channel"
        try:
            result = self._request("POST", uri,
                                   body={"include-refresh-messages": include_refresh_messages})
        except HMCError as exc:
            if exc.http_status == 409 and exc.reason == 332:
                return None, "unsupported"
            if exc.http_status != 409 or exc.reason != 331:
                raise
            topic = self.find_os_message_topic(object_uri)
            if topic is None:
                raise HMCError(exc.http_status, exc.reason,
                               "%s; Get Notification Topics lists no os-message-notification "
                               "topic for object %s" % (exc.message, object_id(object_uri)),
                               exc.method, exc.uri)
            return topic, "existing"
        return result["topic-name"], "opened"

    def find_os_message_topic(self, object_uri: str,
                              topics: Optional[Sequence[Dict[str, Any]]] = None
                              ) -> Optional[str]:
        """The name of this session's OS message topic of an object (matched by object ID)."""
        wanted = object_id(object_uri)
        for item in topics if topics is not None else self.get_notification_topics():
            if (item.get("topic-type") == "os-message-notification" and item.get("object-uri")
                    and object_id(item["object-uri"]) == wanted):
                return item.get("topic-name")
        return None

    def list_os_messages(self, object_uri: str, begin: Optional[int] = None,
                         end: Optional[int] = None) -> List[Dict[str, Any]]:
        """The OS messages the HMC keeps for the object, optionally within a sequence range."""
        _check_object_uri(object_uri, "object_uri")
        query = []
        for name, parm, value in (("begin", "begin-sequence-number", begin),
                                  ("end", "end-sequence-number", end)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("%s must be a sequence number (an integer >= 0), got %r"
                                 % (name, value))
            query.append((parm, value))
        if begin is not None and end is not None and begin > end:
            raise ValueError("begin (%d) must not be greater than end (%d)" % (begin, end))
        result = self._request("GET", object_uri.rstrip("/") + "/operations/list-os-messages",
                               query=query or None)
        return list((result or {}).get("os-messages", []))

    def send_os_command(self, object_uri: str, text: str, is_priority: bool = False) -> None:
        """Send an operating system command (1 to 200 characters) to the partition or LPAR."""
        _check_object_uri(object_uri, "object_uri")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_OS_COMMAND_LENGTH:
            length = len(text) if isinstance(text, str) else None
            raise ValueError("OS command text must be a string of 1 to %d characters, got %s"
                             % (MAX_OS_COMMAND_LENGTH,
                                "%d characters" % length if length is not None
                                else type(text).__name__))
        if not isinstance(is_priority, bool):
            raise ValueError("is_priority must be true or false, got %r" % (is_priority,))
        self._request("POST", object_uri.rstrip("/") + "/operations/send-os-cmd",
                      body={"operating-system-command-text": text, "is-priority": is_priority})

    # ---------------------------------------------------------------- jobs
    def query_job_status(self, job_uri: str) -> Dict[str, Any]:
        """Query Job Status: status, and job-status-code/-reason-code/-results once ended."""
        _check_object_uri(job_uri, "job_uri", prefixes=JOB_PREFIXES)
        return self._request("GET", job_uri)
