# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The source's DOCUMENTATION and JSON schema, both made from ``source_option_table``.

``documentation()`` is what the plugin's DOCUMENTATION string holds (ansible-doc, Galaxy,
Automation Hub); ``json_schema()`` is the shipped schemas/notifications.json (the AAP UI).
``make source-docs`` writes both; a test fails when the shipped ones differ.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from ansible_collections.zhmc.eda.plugins.module_utils.source_option_table import (
    DESCRIPTION, NOTES, SHORT_DESCRIPTION, SOURCE_OPTIONS, OptionSpec, paragraphs)

VERSION_ADDED = "0.1.0"

_JSON_TYPES = {"str": "string", "path": "string", "int": "integer", "float": "number",
               "bool": "boolean", "list": "array", "dict": "object"}
_UPPER_WORDS = ("hmc", "os", "ws", "ca", "id", "cpc", "lpar", "stomp")
# Ansible's documentation markup: O(option), C(code), V(value), I(italic), ... -> plain text
_MARKUP = re.compile(r"\b[OCVIBMLU]\(([^()]*)\)")


# ---------------------------------------------------------------------------------------
# DOCUMENTATION


def _documented(spec: OptionSpec) -> Dict[str, Any]:
    texts = paragraphs(spec["description"])
    doc: Dict[str, Any] = {"description": texts if len(texts) > 1 else texts[0],
                           "type": spec["type"]}
    if spec.get("elements"):
        doc["elements"] = spec["elements"]
    if spec.get("required"):
        doc["required"] = True
    if spec.get("choices"):
        doc["choices"] = list(spec["choices"] or [])
    if spec.get("default") is not None:
        doc["default"] = spec["default"]
    if spec.get("suboptions"):
        doc["suboptions"] = {name: _documented(sub)
                             for name, sub in spec["suboptions"].items()}
    return doc


def documentation() -> Dict[str, Any]:
    """The plugin's DOCUMENTATION, as the dict its YAML holds."""
    return {
        "short_description": SHORT_DESCRIPTION,
        "description": paragraphs(DESCRIPTION),
        "version_added": VERSION_ADDED,
        "options": {name: _documented(spec) for name, spec in SOURCE_OPTIONS.items()},
        "notes": paragraphs(NOTES),
    }


# ---------------------------------------------------------------------------------------
# JSON schema (draft 2020-12) for the AAP UI


def plain(text: str) -> str:
    """A description without documentation markup, on one line per paragraph."""
    return "\n\n".join(_MARKUP.sub(r"\1", block) for block in paragraphs(text))


def _title(name: str) -> str:
    return " ".join(word.upper() if word in _UPPER_WORDS else word.capitalize()
                    for word in name.split("_"))


def _schema_of(name: str, spec: OptionSpec) -> Dict[str, Any]:
    kind = spec["type"]
    schema: Dict[str, Any] = {"title": _title(name), "description": plain(spec["description"])}
    if kind == "raw":  # hmc_host: one host or a list of hosts
        schema["anyOf"] = [
            {"type": "string", "minLength": 1},
            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        ]
    elif spec.get("required"):
        schema["type"] = _JSON_TYPES[kind]
    else:
        # null = "use the default": what a rulebook's `{{ var | default(none) }}` renders to
        schema["type"] = [_JSON_TYPES[kind], "null"]
    if spec.get("no_log"):
        schema["format"] = "password"
    for bound in ("minimum", "maximum"):
        if bound in spec:
            schema[bound] = spec[bound]
    suboptions = spec.get("suboptions") or {}
    if kind == "list":
        if spec.get("elements") == "dict":
            schema["items"] = _object_schema(suboptions)
            if spec.get("mutually_exclusive"):  # exactly one of them
                schema["items"]["oneOf"] = [{"required": [key]}
                                            for key in spec.get("mutually_exclusive", [])]
        else:
            items: Dict[str, Any] = {"type": _JSON_TYPES[spec.get("elements") or "str"]}
            if spec.get("choices"):
                items["enum"] = list(spec.get("choices") or [])
            schema["items"] = items
    elif kind == "dict" and suboptions:
        nullable = schema["type"]
        schema.update(_object_schema(suboptions))
        schema["type"] = nullable
    elif spec.get("choices"):
        schema["enum"] = list(spec.get("choices") or [])
    if spec.get("default") is not None:
        schema["default"] = spec["default"]
    return schema


def _object_schema(options: Dict[str, OptionSpec]) -> Dict[str, Any]:
    schema: Dict[str, Any] = {
        "type": "object",
        "properties": {name: _schema_of(name, spec) for name, spec in options.items()},
        "additionalProperties": False,
    }
    required: List[str] = [name for name, spec in options.items() if spec.get("required")]
    if required:
        schema["required"] = required
    return schema


def json_schema() -> Dict[str, Any]:
    """The JSON schema of the source's args, built from SOURCE_OPTIONS."""
    schema: Dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://galaxy.ansible.com/zhmc/eda/sources/notifications.json",
        "title": "IBM Z HMC notifications",
        "description": "Receive IBM Z HMC notifications (OS messages, job completion, status, "
                       "property and inventory changes, audit and security log entries) as "
                       "rulebook events.",
    }
    schema.update(_object_schema(SOURCE_OPTIONS))
    return schema
