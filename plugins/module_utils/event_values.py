# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Converters for what a broker delivers: header and body values (they never raise)."""

from __future__ import annotations

import math


def to_int(value):
    """(int or None, ok) for a header or body value; bools are not integers."""
    if value is None:
        return None, True
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int):
        return value, True
    try:
        return int(value), True
    except (TypeError, ValueError, OverflowError):
        return None, False


def to_bool(value):
    if value is True or value is False:
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value) if isinstance(value, (int, float)) else False


def json_safe_headers(headers):
    """A copy of the headers with text keys and JSON-safe values (they normally are all str)."""
    if not headers:
        return {}
    if not isinstance(headers, dict):
        try:
            headers = dict(headers)
        except (TypeError, ValueError):
            return {}
    copy = {}
    for raw_key, raw_value in headers.items():
        value = raw_value
        if not (value is None or isinstance(value, (str, int, float, bool))):
            value = str(value)
        elif isinstance(value, float) and not math.isfinite(value):  # NaN/Infinity are not JSON
            value = str(value)
        copy[raw_key if isinstance(raw_key, str) else str(raw_key)] = value
    return copy
