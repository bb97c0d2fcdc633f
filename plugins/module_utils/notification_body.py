# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""A notification body (text from the broker) -> JSON, within size and nesting limits.

Pure: no I/O, no logging, never raises on what a broker sends. A body that is too large,
nested too deeply or not JSON is not parsed: the caller gets an error message and the raw
text, which becomes an event with ``hmc.parse_error`` and a truncated ``hmc.raw_body``
(see ``raw_body_fields``). The nesting check scans the text without recursion *before*
the JSON decoder (which recurses once per level) sees it, so no RecursionError and no deep
C recursion can happen, and no event too deep for ansible-rulebook is ever emitted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import array
import itertools
import json
import re

# Larger bodies are not parsed (the event gets parse_error and the truncated raw text).
# Counted in characters: the body reaches the source as text, and for the HMC's JSON
# characters and bytes are about the same. An HMC body carries one delivery (a few OS
# messages of some hundred bytes each, a few change reports or log entries); 1 MiB holds
# thousands of OS messages, and keeps one event's parse cost and memory (several times the
# text as Python objects, again in the rules engine) small next to an EDA controller
# activation's 200 MB.
MAX_BODY_CHARS = 1024 * 1024

# Deeper bodies are not parsed. HMC bodies nest 3-5 levels; ansible-rulebook 1.1.7 and
# 1.3.2 fail in print_event and run_playbook with RecursionError from about 325 levels of
# body (measured; docs/events.md "Limits"). 64 leaves ten times what the HMC needs and five
# times below that failure, also for consumers that spend more stack per level.
MAX_JSON_DEPTH = 64

# A body that cannot be used is kept in the event up to this many characters.
RAW_BODY_MAX_CHARS = 65536

# A JSON string, or the rest of the text when the string is not closed (then it can only
# end with a lone backslash): every match attempt succeeds at its greedy end, so a body
# full of quotes and backslashes costs linear time, never backtracking.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
# opening bracket -> +1, closing bracket -> -1 (as signed bytes)
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_nesting_exceeds(text, limit):
    """True when the JSON text nests arrays/objects more than ``limit`` levels deep.

    Iterative (C-speed passes, no recursion). Exact for valid JSON; for invalid JSON the
    depth the decoder could reach before its first error is never above what is counted.
    """
    if text.count("[") + text.count("{") <= limit:
        return False  # too few brackets to nest that deep (the common case: microseconds)
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    steps = array.array("b", brackets.encode("ascii").translate(_BRACKET_STEPS))
    return max(itertools.accumulate(steps), default=0) > limit


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


# One decoder for all bodies (json.loads would build a new one per call with parse_constant).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _as_text(body, max_chars):
    """(text, too_large) for a body of any type; a too large bytes body is decoded only as
    far as the raw text kept in the event needs."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        if len(data) > max_chars:
            # at most 4 bytes per character: enough text to fill (and mark as cut) raw_body
            return data[:(RAW_BODY_MAX_CHARS + 1) * 4].decode("utf-8", "replace"), True
        return data.decode("utf-8", "replace"), False
    text = body if isinstance(body, str) else str(body)
    return text, len(text) > max_chars


def parse_body(body_text, max_chars=MAX_BODY_CHARS, max_depth=MAX_JSON_DEPTH):
    """Parse a notification body.

    Returns ``(body, error, raw_text)``: ``body`` is the parsed JSON or None (empty or blank
    body), ``error`` a short message when the body was not parsed (else None), ``raw_text``
    the body as text (for the event's raw_body). A body over ``max_chars`` characters or
    nested over ``max_depth`` levels is not parsed. Never raises.
    """
    if body_text is None:
        return None, None, None
    if isinstance(body_text, (dict, list)):
        return body_text, None, None  # already parsed by the caller
    text, too_large = _as_text(body_text, max_chars)
    if too_large:
        return None, "body is larger than %d characters; not parsed" % max_chars, text
    if not text or text.isspace():
        return None, None, text
    json_text = text[1:] if text[0] == "\ufeff" else text  # a byte order mark
    if json_nesting_exceeds(json_text, max_depth):
        return None, "body is nested more than %d levels deep; not parsed" % max_depth, text
    try:
        return _DECODER.decode(json_text), None, text
    except RecursionError:  # cannot happen below max_depth; kept as the last line of defence
        return None, "body is not valid JSON: nested too deeply", text
    except ValueError as exc:
        # json's messages name only a position, never the content
        return None, "body is not valid JSON: %s" % str(exc)[:200], text


def raw_body_fields(raw_text):
    """The event keys that carry a body that was not parsed: raw_body (cut to
    RAW_BODY_MAX_CHARS characters) and raw_body_truncated."""
    truncated = len(raw_text) > RAW_BODY_MAX_CHARS
    return {"raw_body": raw_text[:RAW_BODY_MAX_CHARS] if truncated else raw_text,
            "raw_body_truncated": truncated}
