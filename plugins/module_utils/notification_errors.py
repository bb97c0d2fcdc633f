# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The notification receiver's exceptions: zhmcclient's five classes, plus typed fields.

Whoever raises one of these fills in its fields; nobody reads them back out of the message
text. ``receiver.py`` re-exports every class, so ``from ...receiver import
NotificationJMSError`` (zhmcclient's API) keeps working.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError

# What ActiveMQ (the HMC's broker) says when a SUBSCRIBE names a topic it does not know or
# no longer approves (a session or OS message channel that is gone), and how it names it.
_UNKNOWN_TOPIC_TEXT = "not a known or approved topic"
_TOPIC_IN_TEXT = re.compile(r"topic://([^'\"\s,]+)")


class NotificationError(ZhmcEdaError):
    """Base class of the receiver's errors (zhmcclient's class of the same name)."""


class NotificationJMSError(NotificationError):
    """The broker sent a STOMP ERROR frame (a JMS error).

    ``jms_headers`` and ``jms_message`` are the frame's headers and body.
    ``unknown_topic`` is True when the broker refused a topic as "not a known or approved
    topic" (its session or OS message channel is gone: re-open it, do not just
    re-subscribe); ``topic_name`` is the topic the frame names, if any. Both are set by
    whoever builds the error, normally with ``from_frame()``.
    """

    def __init__(self, msg: str, jms_headers: Optional[Mapping[str, str]],
                 jms_message: Optional[str], *, topic_name: Optional[str] = None,
                 unknown_topic: bool = False) -> None:
        super().__init__(msg)
        self.jms_headers = jms_headers
        self.jms_message = jms_message
        self.topic_name = topic_name
        self.unknown_topic = unknown_topic

    @classmethod
    def from_frame(cls, message: str, headers: Mapping[str, str], body: Optional[str],
                   mask: Optional[Callable[[str], str]] = None) -> "NotificationJMSError":
        """Build the error of an ERROR frame, classifying it once, at the door, on the
        frame's own text; ``mask`` then blanks secrets in all text the error carries."""
        topic_name, unknown_topic = classify_error_frame(message, body)
        if mask is not None:
            message = mask(message) if message else message
            body = mask(body) if body else body
            headers = {key: mask(value) if isinstance(value, str) else value
                       for key, value in headers.items()}
        return cls(message or "JMS error (ERROR frame without a message header)",
                   dict(headers), body, topic_name=topic_name, unknown_topic=unknown_topic)

    def __repr__(self) -> str:
        return "%s(%r, jms_headers=%r, jms_message=%r)" % (
            self.__class__.__name__, self.args[0], self.jms_headers, self.jms_message)


def classify_error_frame(message: Optional[str], body: Optional[str]) -> Tuple[Optional[str], bool]:
    """(topic named by an ERROR frame or None, whether it says the topic is unknown)."""
    text = " ".join(part for part in (message, body) if part)
    match = _TOPIC_IN_TEXT.search(text)
    return (match.group(1) if match else None), _UNKNOWN_TOPIC_TEXT in text.lower()


class NotificationParseError(NotificationError):
    """A notification body is not valid JSON; ``jms_message`` is the raw body."""

    def __init__(self, msg: str, jms_message: Optional[str]) -> None:
        super().__init__(msg)
        self.jms_message = jms_message


class NotificationConnectionError(NotificationError):
    """Connecting failed or the connection was lost (call ``notifications()`` again)."""


class NotificationLoginError(NotificationConnectionError):
    """The broker refused the STOMP login (wrong credentials, or a session that is gone).

    Retrying with the same credentials cannot help; with a password, a new HMC session
    (and its session credential) can.
    """


class NotificationSubscriptionError(NotificationError):
    """Subscribing or unsubscribing failed."""


class SubscriptionNotFound(NotificationError):
    """The topic is not subscribed."""
