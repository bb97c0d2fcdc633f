"""The simulated HMC's inventory and users: the built-in default, YAML files, generated estates.

A configuration is a plain dict (the YAML layout documented in docs/hmcsim.md).
`load_config()` reads and validates one; `default_config()` is the built-in one.
Validation errors are `ConfigError` naming the key path and what is wrong.
"""
from __future__ import annotations

import copy
import os
from typing import Any

import yaml

from hmcsim import estate
from hmcsim.resources import LPAR_STATUSES, PARTITION_STATUSES

DEFAULT_USERID = "hmcuser"

_DEFAULT: dict[str, Any] = {
    "hmc_name": "HMCSIM",
    "hmc_version": "2.16.0",
    "api_version": [4, 40],
    # Open OS Message Channel answers 409 reason 332 while the OS is not running.
    "os_messages_need_active": True,
    "users": [{"userid": DEFAULT_USERID}],
    "cpcs": [
        {
            "name": "CPC1",
            "dpm": True,
            "partitions": [
                {"name": "PART1", "status": "active", "os_type": "Linux", "os_messages": True},
                {"name": "PART2", "status": "active", "os_type": "Linux", "os_messages": True},
                {"name": "PART3", "status": "stopped", "os_type": "SSC", "os_messages": False},
            ],
        },
        {
            "name": "CPC2",
            "dpm": False,
            "lpars": [
                {"name": "LPAR1", "status": "operating", "os_type": "z/OS", "os_messages": True},
                {"name": "LPAR2", "status": "operating", "os_type": "z/OS", "os_messages": True},
                {"name": "LPAR3", "status": "operating", "os_type": "CF", "os_messages": False},
            ],
        },
    ],
}
_KEYS = {"hmc_name", "hmc_version", "api_version", "os_messages_need_active", "users", "cpcs", "estate"}


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key."""


def default_config() -> dict[str, Any]:
    """Return a fresh copy of the built-in configuration."""
    return copy.deepcopy(_DEFAULT)


def load_config(path: str) -> dict[str, Any]:
    """Read a YAML configuration file and return it validated."""
    if not os.path.isfile(path):
        raise ConfigError("config file %r does not exist" % path)
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise ConfigError("config file %r is not valid YAML: %s" % (path, exc)) from None
    return validate_config(data)


def _require(cond: object, where: str, problem: str) -> None:
    if not cond:
        raise ConfigError("config %s: %s" % (where, problem))


def _check_name(value: Any, where: str) -> None:
    _require(isinstance(value, str) and value.strip() != "", where,
             "must be a non-empty string, got %r" % (value,))


def _int_in(spec: dict[str, Any], key: str, low: int, high: int, default: int | None = None) -> int:
    value: Any = spec.get(key, default)
    _require(isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
             "estate." + key, "must be an integer from %d to %d, got %r" % (low, high, value))
    return value


def _generated_cpcs(spec: Any) -> list[dict[str, Any]]:
    _require(isinstance(spec, dict), "estate", "must be a mapping like {cpcs: 10, per_cpc: 100}")
    unknown = set(spec) - {"cpcs", "per_cpc", "seed", "dpm"}
    _require(not unknown, "estate", "unknown keys %s (allowed: cpcs, per_cpc, seed, dpm)" % sorted(unknown))
    dpm = spec.get("dpm", "mixed")
    _require(dpm in estate.DPM_CHOICES, "estate.dpm", "must be one of %s, got %r" % (", ".join(estate.DPM_CHOICES),
                                                                                     dpm))
    return estate.generate(_int_in(spec, "cpcs", 1, estate.MAX_CPCS),
                           _int_in(spec, "per_cpc", 0, estate.MAX_PER_CPC),
                           _int_in(spec, "seed", 0, 2 ** 31, 0), dpm)


def validate_config(data: Any) -> dict[str, Any]:
    """Check a configuration dict, fill in defaults and return a new dict."""
    _require(isinstance(data, dict), "(top level)", "must be a mapping, got %s" % type(data).__name__)
    unknown = set(data) - _KEYS
    _require(not unknown, "(top level)", "unknown keys %s (allowed: %s)" % (sorted(unknown), sorted(_KEYS)))
    _require(not ("estate" in data and "cpcs" in data), "estate", "use either 'cpcs' or 'estate', not both")
    result = default_config()
    result.update({k: copy.deepcopy(v) for k, v in data.items() if k != "estate"})
    if "estate" in data:
        result["cpcs"] = _generated_cpcs(data["estate"])
    _check_name(result["hmc_name"], "hmc_name")
    _check_name(result["hmc_version"], "hmc_version")
    api = result["api_version"]
    _require(isinstance(api, list) and len(api) == 2 and all(isinstance(x, int) for x in api),
             "api_version", "must be a list of two integers [major, minor], got %r" % (api,))
    _require(isinstance(result["os_messages_need_active"], bool), "os_messages_need_active",
             "must be true or false")
    _check_users(result["users"])
    _check_cpcs(result["cpcs"])
    return result


def _check_users(users: Any) -> None:
    _require(isinstance(users, list) and users, "users", "must be a non-empty list")
    seen = set()
    for i, user in enumerate(users):
        where = "users[%d]" % i
        _require(isinstance(user, dict), where, "must be a mapping")
        _check_name(user.get("userid"), where + ".userid")
        _require(user["userid"] not in seen, where + ".userid", "duplicate userid %r" % user["userid"])
        seen.add(user["userid"])
        if user.get("password") is not None:
            _require(isinstance(user["password"], str) and user["password"], where + ".password",
                     "must be a non-empty string")


def _check_cpcs(cpcs: Any) -> None:
    _require(isinstance(cpcs, list) and cpcs, "cpcs", "must be a non-empty list")
    seen = set()
    for i, cpc in enumerate(cpcs):
        where = "cpcs[%d]" % i
        _require(isinstance(cpc, dict), where, "must be a mapping")
        _check_name(cpc.get("name"), where + ".name")
        _require(cpc["name"] not in seen, where + ".name", "duplicate CPC name %r" % cpc["name"])
        seen.add(cpc["name"])
        _require(isinstance(cpc.get("dpm"), bool), where + ".dpm", "must be true (DPM) or false (classic)")
        child_key = "partitions" if cpc["dpm"] else "lpars"
        other_key = "lpars" if cpc["dpm"] else "partitions"
        _require(other_key not in cpc, where + "." + other_key,
                 "not allowed on a %s CPC (use %r)" % ("DPM" if cpc["dpm"] else "classic", child_key))
        children = cpc.setdefault(child_key, [])
        _require(isinstance(children, list), where + "." + child_key, "must be a list")
        seen_children: set[str] = set()
        for j, child in enumerate(children):
            check_child(child, cpc["dpm"], "%s.%s[%d]" % (where, child_key, j), seen_children)


def check_child(child: Any, dpm: bool, where: str, seen: set[str]) -> dict[str, Any]:
    """Validate one partition/LPAR entry in place (defaults filled in); also used by add_partition."""
    statuses = PARTITION_STATUSES if dpm else LPAR_STATUSES
    _require(isinstance(child, dict), where, "must be a mapping")
    _check_name(child.get("name"), where + ".name")
    _require(child["name"] not in seen, where + ".name", "duplicate name %r" % child["name"])
    seen.add(child["name"])
    child.setdefault("status", "active" if dpm else "operating")
    _require(child["status"] in statuses, where + ".status",
             "must be one of %s, got %r" % (", ".join(statuses), child["status"]))
    child.setdefault("os_type", "Linux" if dpm else "z/OS")
    _check_name(child["os_type"], where + ".os_type")
    child.setdefault("os_messages", True)
    _require(isinstance(child["os_messages"], bool), where + ".os_messages", "must be true or false")
    return child
