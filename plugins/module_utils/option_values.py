# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Checks of single option values as a rulebook hands them over (no I/O but path checks).

ansible-rulebook renders arguments with Jinja2's native environment, so a digits-only string
arrives as an int and "True" as a bool: numbers given as strings and strings given as
numbers are converted back. Each check raises ValueError naming the option (``name``) and
what is wrong; a secret's value is never shown, only its kind.
"""

from __future__ import annotations

import difflib
import math
import os
from typing import Any, Collection, Iterable, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.constants import BOOL_STRINGS


def type_name(value: Any) -> str:
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


def got(value: Any, secret: bool = False) -> str:
    """How an error message shows a bad value: `'abc' (str)`, or only its kind for secrets."""
    if secret:
        return type_name(value)
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return "%s (%s)" % (text, type(value).__name__)


def unknown(label: str, key: Any, valid: Iterable[str]) -> ValueError:
    """The error for an unknown key, with the closest valid one as a hint."""
    valid = list(valid)
    close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
    hint = " (did you mean %r?)" % close[0] if close else ""
    return ValueError("%s %r%s; valid: %s" % (label, key, hint, ", ".join(sorted(valid))))


def text(name: str, value: Any, secret: bool = False, allow_empty: bool = False) -> str:
    if isinstance(value, (bool, int)):
        # "True" and digits-only text arrive as bool/int after native rendering
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("option '%s': expected a string, got %s" % (name, got(value, secret)))
    if not allow_empty and not value.strip():
        raise ValueError("option '%s': must not be empty" % name)
    return value


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in BOOL_STRINGS:
            return BOOL_STRINGS[word]
        if word in ("0", "1"):
            return word == "1"
    raise ValueError("option '%s': expected a boolean (true/false/yes/no), got %s"
                     % (name, got(value)))


def integer(name: str, value: Any, minimum: Optional[float] = None,
            maximum: Optional[float] = None) -> int:
    number: Optional[int] = None
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
                         % (name, _int_range(minimum, maximum), got(value)))
    return number


def _int_range(minimum: Optional[float], maximum: Optional[float]) -> str:
    if minimum is not None and maximum is not None:
        return "an integer between %d and %d" % (minimum, maximum)
    if minimum is not None:
        return "an integer of at least %d" % minimum
    return "an integer"


def number(name: str, value: Any, minimum: Optional[float] = None) -> float:
    result: Optional[float] = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            result = None
    if result is None or not math.isfinite(result) or (minimum is not None and result < minimum):
        expected = "a number of at least %s" % minimum if minimum is not None else "a number"
        raise ValueError("option '%s': expected %s, got %s" % (name, expected, got(value)))
    return result


def text_list(name: str, value: Any, choices: Optional[Collection[str]] = None
              ) -> Tuple[str, ...]:
    """A list of non-empty strings (a single string counts as a one-item list), deduplicated."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError("option '%s': expected a list of strings, got %s" % (name, got(value)))
    result: List[str] = []
    seen = set()  # a set: validating a long list stays linear
    for index, raw_item in enumerate(value):
        item_name = "%s[%d]" % (name, index)
        item = text(item_name, raw_item)
        if choices is not None and item not in choices:
            close = difflib.get_close_matches(item, list(choices), n=1, cutoff=0.6)
            hint = " (did you mean %r?)" % close[0] if close else ""
            raise ValueError("option '%s': %r is not one of %s%s"
                             % (item_name, item, ", ".join(choices), hint))
        if item not in seen:
            seen.add(item)
            result.append(item)
    return tuple(result)


def choice(name: str, value: Any, choices: Optional[Collection[str]]) -> str:
    """A string, one of ``choices`` when they are given."""
    result = text(name, value)
    if choices is not None and result not in choices:
        close = difflib.get_close_matches(result, list(choices), n=1, cutoff=0.6)
        hint = " (did you mean %r?)" % close[0] if close else ""
        raise ValueError("option '%s': %r is not one of %s%s"
                         % (name, result, ", ".join(choices), hint))
    return result


def mapping(name: str, value: Any, secret: bool = False) -> dict:
    if not isinstance(value, dict):
        raise ValueError("option '%s': expected a dict, got %s" % (name, got(value, secret)))
    return value


def check_keys(name: str, value: dict, valid: Collection[str]) -> None:
    for key in value:
        if key not in valid:
            raise unknown("option '%s': unknown key" % name, key, valid)


def existing_path(name: str, value: Any) -> str:
    path = os.path.expanduser(text(name, value))
    if "\0" in path:
        raise ValueError("option '%s': the path contains a NUL character" % name)
    if not os.path.exists(path):
        raise ValueError("option '%s': no such file or directory: %r" % (name, path))
    return path
