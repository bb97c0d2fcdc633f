# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Checks at the door for values that travel on to the HMC, its broker or a local socket (no I/O).

Each `*_problem` function returns None for a good value, or a short text saying what is
wrong (the caller names the option or field). The source options, the control channel, the
modules and the receiver all use these, so a value one of them accepts is never refused
later by another.

Decisions:
- Object names (CPC, partition, LPAR): 1 to 64 characters (the longest the HMC gives a
  partition; CPC and LPAR names are shorter), no control characters, no blank at either end
  (the HMC allows none there, and requests name objects exactly).
- Host names (`hmc_host`): a DNS name (labels of letters, digits, "-" and "_"), an IPv4
  address, or an IPv6 address, bare or in brackets; with ``allow_port`` (the default) an
  optional ":port" (1-65535), for IPv6 only in the bracket form ("[fd00::1]:6794"). No user
  name, path, URL, blank or control character: ``evil.com\\@127.0.0.1`` is refused. IPv6
  zone ids ("%eth0") are refused (they cannot travel in an HTTPS URL unencoded).
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Optional, Tuple

# Longest topic name accepted. The HMC's OS message channel topics have 1 to 128
# characters; user-given topics of other brokers get some room on top.
MAX_TOPIC_NAME_CHARS = 256
# Longest CPC, partition or LPAR name accepted.
MAX_OBJECT_NAME_CHARS = 64
# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
# A DNS name has at most 253 characters (without a trailing dot), a label at most 63.
MAX_HOST_NAME_CHARS = 253
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
# Everything a host, an IPv6 literal in brackets and a port are made of.
_HOST_CHARS = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")


def _has_control_characters(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def topic_name_problem(name: object) -> Optional[str]:
    """What is wrong with a STOMP topic name (without the "/topic/" prefix), or None."""
    if not isinstance(name, str) or not name:
        return "expected a non-empty string"
    if len(name) > MAX_TOPIC_NAME_CHARS:
        return "longer than %d characters" % MAX_TOPIC_NAME_CHARS
    if any(ch.isspace() for ch in name) or _has_control_characters(name):
        return "must not contain blanks or control characters"
    return None


def object_name_problem(name: object) -> Optional[str]:
    """What is wrong with the exact name of a CPC, partition or LPAR, or None."""
    if not isinstance(name, str) or not name.strip():
        return "expected a non-empty string"
    if len(name) > MAX_OBJECT_NAME_CHARS:
        return "longer than %d characters" % MAX_OBJECT_NAME_CHARS
    if _has_control_characters(name):
        return "must not contain control characters"
    if name != name.strip():
        return "must not begin or end with a blank"
    return None


def socket_path_problem(path: object) -> Optional[str]:
    """What is wrong with the path of a Unix-domain socket, or None."""
    if not isinstance(path, str) or not path:
        return "expected a non-empty path"
    if "\0" in path:
        return "must not contain a NUL character"
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
        return "is %d bytes long; Unix sockets allow at most %d" % (size, MAX_SOCKET_PATH_BYTES)
    return None


def _split_host_port(value: str) -> Tuple[str, Optional[str], bool]:
    """(host, port text or None, bracketed) of a value made of host characters only."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ValueError("an IPv6 address in brackets needs the closing ']'")
        rest = value[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError("only ':port' may follow ']'")
        return value[1:end], (rest[1:] if rest else None), True
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port, False
    return value, None, False  # a name, an IPv4 address or a bare IPv6 address


def _port_problem(port: str) -> Optional[str]:
    if not port.isdigit() or not 0 < int(port) < 65536:
        return "invalid port %r (1-65535)" % port
    return None


def _name_or_address_problem(host: str, bracketed: bool) -> Optional[str]:
    if ":" in host or bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "%r is not a valid IPv6 address" % host
        return None
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return "%r is not a valid IPv4 address" % host
        return None
    if len(host.rstrip(".")) > MAX_HOST_NAME_CHARS:
        return "longer than %d characters" % MAX_HOST_NAME_CHARS
    if not all(_LABEL.match(label) for label in labels):
        return ("%r is not a host name (labels of letters, digits, '-' and '_', 1-63 "
                "characters each, separated by single dots)" % host)
    return None


def host_problem(value: object, allow_port: bool = True) -> Optional[str]:
    """What is wrong with a host (name or IP address, optionally ":port"), or None.

    See the module docstring for what is accepted. With ``allow_port=False`` a port is
    refused (for callers that take the port from an option of its own).
    """
    if not isinstance(value, str) or not value:
        return "expected a non-empty host name or IP address"
    if any(ch.isspace() for ch in value) or _has_control_characters(value):
        return "must not contain blanks or control characters"
    if not _HOST_CHARS.match(value):
        return ("not a host name or IP address: only letters, digits and '.-_:[]' are "
                "allowed (no user name, path, URL or '%' zone id)")
    try:
        host, port, bracketed = _split_host_port(value)
    except ValueError as exc:
        return "not a host name or IP address: %s" % exc
    if not host:
        return "not a host name or IP address: the host is missing"
    if port is not None:
        if not allow_port:
            return "must not carry a port (give the port in its own option)"
        problem = _port_problem(port)
        if problem:
            return problem
    return _name_or_address_problem(host, bracketed)


def split_host_port(value: str) -> Tuple[str, Optional[int]]:
    """(host, port or None) of a value `host_problem` accepts; ValueError otherwise."""
    problem = host_problem(value)
    if problem:
        raise ValueError(problem)
    host, port, _bracketed = _split_host_port(value)
    return host, (int(port) if port is not None else None)
