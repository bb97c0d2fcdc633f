# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Blanks the receivers' secrets in log records of stomp.py and of the receiver.

A receiver registers its password (or session credential) and its STOMP login (which may be
an HMC session id) when it is created and unregisters them on close(). The filter is put on
the loggers below the first time a receiver registers (``protect()``), never at import, and
only once. Also every STOMP ``login``/``passcode`` header value in stomp.py's frame dumps is
blanked, whoever's it is.

The password is blanked everywhere. The login is blanked except inside the names the
receiver subscribes (``keep``): HMC topic names start with the HMC userid, which is the
login when it is a userid (not a secret), never when it is a session id.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.errors import MASK, blank_secrets

RECEIVER_LOGGER = "zhmc.eda.receiver"
FRAMES_LOGGER = RECEIVER_LOGGER + ".frames"
# stomp.py 8 and 9 log through "stomp.py"; "stomp" is for older or future names. A filter
# acts only on records logged on its own logger, so each name that logs gets it.
FILTERED_LOGGERS = ("stomp.py", "stomp", RECEIVER_LOGGER, FRAMES_LOGGER)

# A STOMP login / passcode header value as stomp.py logs frames ("login:x" in a list repr,
# "'login': 'x'" in a dict repr).
_LOGIN_HEADER = re.compile(r"(\b(?:login|passcode)'?\s*[:=]\s*'?)([^\s',\]\\}]+)")


# A login this long (an HMC session id) is blanked wherever it appears; a shorter one (an
# HMC userid such as "ops") only as a whole word, so that "stops" stays readable.
LONG_LOGIN = 16


def _login_pattern(login: str) -> "re.Pattern[str]":
    if len(login) >= LONG_LOGIN:
        return re.compile(re.escape(login))
    return re.compile(r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(login))


def mask_text(text: str, always: Sequence[str], login: Optional[str],
              keep: Iterable[str] = ()) -> str:
    """``text`` with every secret in ``always`` blanked, and ``login`` blanked except inside
    the names in ``keep`` (topic names, which carry the HMC userid)."""
    text = blank_secrets(text, always)
    if not login or login not in text:
        return text
    login_pattern = _login_pattern(login)
    kept = sorted((name for name in keep if login in name), key=len, reverse=True)
    if not kept:
        return login_pattern.sub(MASK, text)
    pattern = re.compile("|".join(re.escape(name) for name in kept))
    parts: List[str] = []
    position = 0
    for match in pattern.finditer(text):
        parts.append(login_pattern.sub(MASK, text[position:match.start()]))
        parts.append(match.group())
        position = match.end()
    parts.append(login_pattern.sub(MASK, text[position:]))
    return "".join(parts)


class _Registration:
    """One receiver's secrets and where its login may stay readable."""

    __slots__ = ("always", "login", "keep")

    def __init__(self, always: Tuple[str, ...], login: Optional[str],
                 keep: Callable[[], Sequence[str]]) -> None:
        self.always = always
        self.login = login
        self.keep = keep


class SecretFilter(logging.Filter):
    """The logging filter; one per process (see ``protect()``)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._registrations: "weakref.WeakKeyDictionary[object, _Registration]" = (
            weakref.WeakKeyDictionary())

    def register(self, owner: object, password: Optional[str], login: Optional[str],
                 keep: Callable[[], Sequence[str]]) -> None:
        """Blank ``password`` and ``login`` while ``owner`` lives (or until unregistered);
        ``keep()`` returns the names (the owner's topics) in which the login stays."""
        registration = _Registration(tuple(s for s in (password,) if s), login or None, keep)
        with self._lock:
            self._registrations[owner] = registration

    def unregister(self, owner: object) -> None:
        with self._lock:
            self._registrations.pop(owner, None)

    def clean(self, text: str) -> str:
        """``text`` with the secrets of every registered owner blanked."""
        text = _LOGIN_HEADER.sub(lambda m: m.group(1) + MASK, text)
        with self._lock:
            registrations = list(self._registrations.values())
        for registration in registrations:
            text = mask_text(text, registration.always, registration.login,
                             registration.keep())
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave it
            return True
        cleaned = self.clean(text)
        if cleaned != text:
            record.msg = cleaned
            record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_install_lock = threading.Lock()
_installed: List[SecretFilter] = []   # the one filter, once installed


def protect(owner: object, password: Optional[str], login: Optional[str],
            keep: Callable[[], Sequence[str]] = tuple) -> SecretFilter:
    """Register ``owner``'s secrets (see ``SecretFilter.register``); the first call puts
    the filter on the loggers. Idempotent and thread-safe; returns the filter."""
    with _install_lock:
        if not _installed:
            installed = SecretFilter()
            for name in FILTERED_LOGGERS:
                logging.getLogger(name).addFilter(installed)
            _installed.append(installed)
        _installed[0].register(owner, password, login, keep)
        return _installed[0]
