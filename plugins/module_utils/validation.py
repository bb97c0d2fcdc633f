# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Checks at the door for values that travel on to the HMC or its broker (no I/O).

Each function returns None for a good value, or a short text saying what is wrong (the
caller names the option or field). The source options, the control channel and the
receiver all use these, so a value one of them accepts is never refused later by another.
"""

from __future__ import annotations

from typing import Optional

# Longest topic name accepted. The HMC's OS message channel topics have 1 to 128
# characters; user-given topics of other brokers get some room on top.
MAX_TOPIC_NAME_CHARS = 256


def topic_name_problem(name: object) -> Optional[str]:
    """What is wrong with a STOMP topic name (without the "/topic/" prefix), or None."""
    if not isinstance(name, str) or not name:
        return "expected a non-empty string"
    if len(name) > MAX_TOPIC_NAME_CHARS:
        return "longer than %d characters" % MAX_TOPIC_NAME_CHARS
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "must not contain blanks or control characters"
    return None
