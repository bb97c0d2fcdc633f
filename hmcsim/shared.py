"""A configuration that two hmcsim instances share, so they stand for two redundant HMCs.

The shared file (JSON, mode 0600: it holds passwords and the CA key) carries the validated
configuration with every password filled in, and one CA that both instances issue their
server certificates from, so one CA file verifies both. Object IDs derive from the names,
so both instances give every CPC, partition and LPAR the same URI. The first instance
writes the file (atomically, exclusively: two instances starting at once agree on one);
later ones read it, whatever configuration they were given.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from typing import Any

import trustme

from hmcsim.config import ConfigError, validate_config

LOG = logging.getLogger("hmcsim.shared")
FORMAT = 1


def _create(path: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """Write a new shared file; None when another instance created one first."""
    config = json.loads(json.dumps(config))
    for user in config["users"]:
        user["password"] = user.get("password") or secrets.token_urlsafe(18)
    ca = trustme.CA(organization_name="hmcsim shared throw-away CA")
    data = {"format": FORMAT, "config": config,
            "ca_cert_pem": ca.cert_pem.bytes().decode(), "ca_key_pem": ca.private_key_pem.bytes().decode()}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".hmcsim-shared-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)        # fails if the file exists: exactly one creator wins
        except FileExistsError:
            return None
    finally:
        os.unlink(tmp)
    LOG.info("wrote the shared configuration %s", path)
    return data


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError("shared config %r cannot be read: %s" % (path, exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            not all(isinstance(data.get(k), str) for k in ("ca_cert_pem", "ca_key_pem")):
        raise ConfigError("shared config %r is not an hmcsim shared configuration (format %d)" % (path, FORMAT))
    data["config"] = validate_config(data.get("config"))
    return data


def load_or_create(path: str, config: dict[str, Any]) -> tuple[dict[str, Any], trustme.CA]:
    """(configuration, CA) from the shared file at `path`, creating it from `config` if absent."""
    data = None if os.path.exists(path) else _create(path, config)
    if data is None:
        data = _read(path)
        LOG.info("using the shared configuration %s", path)
    ca = trustme.CA.from_pem(data["ca_cert_pem"].encode(), data["ca_key_pem"].encode())
    return data["config"], ca
