# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""What the receiver makes of a broker's ERROR frame, with our secrets blanked.

Before CONNECTED an ERROR frame is a refused login; afterwards it becomes a
NotificationJMSError, classified on the frame's own text (unknown topic, which topic) and
then blanked. The log line of each is rate-limited per cause, so that a broker sending
thousands of ERROR frames a second writes one line per cause per minute (with a count).
A broker may echo the login, which can be an HMC session id: it is blanked like the
password, except inside our own topic names (they carry the HMC userid, not a secret).
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, Optional, Set, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (
    NotificationJMSError)
from ansible_collections.zhmc.eda.plugins.module_utils.pacing import RateLimitedLog
from ansible_collections.zhmc.eda.plugins.module_utils.secret_filter import mask_text

# Distinct causes that get log lines of their own; beyond that they share one (a hostile
# broker could otherwise grow the rate limiter's table with a new text per frame).
MAX_LOGGED_CAUSES = 32


class ErrorFrames:
    """Turns ERROR frames into a login-failure text or a NotificationJMSError."""

    def __init__(self, password: str, login: str, topics: Callable[[], Tuple[str, ...]],
                 log: logging.Logger, where: str) -> None:
        self._password = password
        self._login = login
        self._topics = topics
        self._where = where
        self._log = RateLimitedLog(log)
        self._causes: Set[Tuple[str, str]] = set()

    def mask(self, text: str) -> str:
        """Broker text without the password, nor the login outside our topic names."""
        return mask_text(text, (self._password,), self._login, self._topics())

    def login_refusal(self, headers: Dict[str, str], body: Optional[str]) -> str:
        """The reason of an ERROR frame that answered our CONNECT."""
        message = self.mask(headers.get("message", "") or "")
        body_text = self.mask(body) if body else ""
        return message or body_text.strip() or "ERROR frame"

    def jms_error(self, headers: Dict[str, str], body: Optional[str]) -> NotificationJMSError:
        """The error of an ERROR frame on an established connection, logged (rate-limited)."""
        error = NotificationJMSError.from_frame(
            headers.get("message", "") or "", headers, body, mask=self.mask)
        self._log.log(logging.WARNING, self._cause(error), "JMS error from %s: %s",
                      self._where, error.args[0])
        return error

    def _cause(self, error: NotificationJMSError) -> Tuple[str, str]:
        if error.unknown_topic:
            key = ("unknown topic", error.topic_name or "")
        else:
            key = ("error", str(error.args[0])[:200])
        if key not in self._causes:
            if len(self._causes) >= MAX_LOGGED_CAUSES:
                return ("error", "(other causes)")
            self._causes.add(key)
        return key
