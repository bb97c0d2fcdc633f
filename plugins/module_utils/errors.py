# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Base exception and secret masking shared by every part of the collection (no I/O)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MASK = "********"


class ZhmcEdaError(Exception):
    """Base class of the collection's own errors."""


def blank_secrets(text, secrets):
    """Return `text` with every non-empty secret in `secrets` replaced by a mask.

    Used on text that third-party libraries produce (stomp.py frame dumps, requests
    errors) before it reaches a log, an event or a module result.
    """
    if text is None:
        return text
    text = str(text)
    for secret in secrets or ():
        secret_text = "" if secret is None else str(secret)
        if secret_text:
            text = text.replace(secret_text, MASK)
    return text
