# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""A notification body as JSON: None for an empty body, NotificationParseError otherwise."""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (
    NotificationParseError)

_json_loads = json.loads


def parse_body(body_text: Union[str, bytes, None]) -> Any:
    """Return the JSON of a notification body; None for an empty or blank body.

    Raises NotificationParseError (with the raw body in ``jms_message``) for anything else
    that is not JSON.
    """
    if body_text is None:
        return None
    if isinstance(body_text, bytes):
        try:
            body_text = body_text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotificationParseError(
                "Notification body is not UTF-8: %s" % exc, jms_message=body_text)  # type: ignore[arg-type]
    if not body_text or body_text.isspace():
        return None
    try:
        return json.loads(body_text)
    except ValueError as exc:
        raise NotificationParseError(
            "Notification body is not valid JSON: %s" % exc, jms_message=body_text)


def parse_json_body(body: Optional[str]) -> Any:
    """``parse_body`` with the common case first: a non-empty text that is JSON."""
    if body and isinstance(body, str):
        try:
            return _json_loads(body)
        except ValueError:
            pass   # blank -> None, else NotificationParseError, below
    return parse_body(body)
