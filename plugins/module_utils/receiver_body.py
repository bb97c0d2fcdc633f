# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""A notification body as zhmcclient's receiver API hands it out: JSON, or None for an
empty body, or NotificationParseError. The same limits as the source's events apply
(notification_body: size and nesting)."""

from __future__ import annotations

from typing import Any, Optional, Union

from ansible_collections.zhmc.eda.plugins.module_utils import notification_body
from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (
    NotificationParseError)


def parse_body(body_text: Union[str, bytes, None]) -> Any:
    """Return the JSON of a notification body; None for an empty or blank body.

    Raises NotificationParseError (with the raw body in ``jms_message``) for anything else:
    not JSON, not UTF-8, larger than MAX_BODY_CHARS or nested deeper than MAX_JSON_DEPTH.
    """
    if isinstance(body_text, bytes):
        try:
            body_text = body_text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotificationParseError(
                "Notification body is not UTF-8: %s" % exc, jms_message=body_text)  # type: ignore[arg-type]
    body, error, _raw = notification_body.parse_body(body_text)
    if error is not None:
        raise NotificationParseError("Notification %s" % error, jms_message=body_text)
    return body


def parse_json_body(body: Optional[str]) -> Any:
    """What ``notifications()`` yields for a received body (see ``parse_body``)."""
    return parse_body(body)
