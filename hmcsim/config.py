"""The simulated HMC's inventory and users: the built-in default and YAML files.

A configuration is a plain dict (the YAML layout documented in docs/hmcsim.md).
`load_config()` reads and validates one; `default_config()` is the built-in one.
Validation errors are `ConfigError` naming the key path and what is wrong.
"""
import copy
import os

import yaml

DEFAULT_USERID = "hmcuser"

PARTITION_STATUSES = (
    "communications-not-active", "status-check", "stopped", "terminated", "starting",
    "active", "stopping", "degraded", "reservation-error", "paused",
)
LPAR_STATUSES = ("operating", "not-operating", "not-activated", "exceptions", "acceptable")

_DEFAULT = {
    "hmc_name": "HMCSIM",
    "hmc_version": "2.16.0",
    "api_version": [4, 40],
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


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key."""


def default_config():
    """Return a fresh copy of the built-in configuration."""
    return copy.deepcopy(_DEFAULT)


def load_config(path):
    """Read a YAML configuration file and return it validated."""
    if not os.path.isfile(path):
        raise ConfigError("config file %r does not exist" % path)
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise ConfigError("config file %r is not valid YAML: %s" % (path, exc)) from None
    return validate_config(data)


def _require(cond, where, problem):
    if not cond:
        raise ConfigError("config %s: %s" % (where, problem))


def _check_name(value, where):
    _require(isinstance(value, str) and value.strip() != "", where,
             "must be a non-empty string, got %r" % (value,))


def validate_config(data):
    """Check a configuration dict, fill in defaults and return a new dict."""
    _require(isinstance(data, dict), "(top level)", "must be a mapping, got %s" % type(data).__name__)
    known = {"hmc_name", "hmc_version", "api_version", "users", "cpcs"}
    unknown = set(data) - known
    _require(not unknown, "(top level)", "unknown keys %s (allowed: %s)" % (sorted(unknown), sorted(known)))
    result = default_config()
    result.update({k: copy.deepcopy(v) for k, v in data.items()})
    _check_name(result["hmc_name"], "hmc_name")
    _check_name(result["hmc_version"], "hmc_version")
    api = result["api_version"]
    _require(isinstance(api, list) and len(api) == 2 and all(isinstance(x, int) for x in api),
             "api_version", "must be a list of two integers [major, minor], got %r" % (api,))

    users = result["users"]
    _require(isinstance(users, list) and users, "users", "must be a non-empty list")
    seen_users = set()
    for i, user in enumerate(users):
        where = "users[%d]" % i
        _require(isinstance(user, dict), where, "must be a mapping")
        _check_name(user.get("userid"), where + ".userid")
        _require(user["userid"] not in seen_users, where + ".userid", "duplicate userid %r" % user["userid"])
        seen_users.add(user["userid"])
        if user.get("password") is not None:
            _require(isinstance(user["password"], str) and user["password"], where + ".password",
                     "must be a non-empty string")

    cpcs = result["cpcs"]
    _require(isinstance(cpcs, list) and cpcs, "cpcs", "must be a non-empty list")
    seen_cpcs = set()
    for i, cpc in enumerate(cpcs):
        where = "cpcs[%d]" % i
        _require(isinstance(cpc, dict), where, "must be a mapping")
        _check_name(cpc.get("name"), where + ".name")
        _require(cpc["name"] not in seen_cpcs, where + ".name", "duplicate CPC name %r" % cpc["name"])
        seen_cpcs.add(cpc["name"])
        _require(isinstance(cpc.get("dpm"), bool), where + ".dpm", "must be true (DPM) or false (classic)")
        child_key = "partitions" if cpc["dpm"] else "lpars"
        other_key = "lpars" if cpc["dpm"] else "partitions"
        _require(other_key not in cpc, where + "." + other_key,
                 "not allowed on a %s CPC (use %r)" % ("DPM" if cpc["dpm"] else "classic", child_key))
        children = cpc.setdefault(child_key, [])
        _require(isinstance(children, list), where + "." + child_key, "must be a list")
        statuses = PARTITION_STATUSES if cpc["dpm"] else LPAR_STATUSES
        seen_children = set()
        for j, child in enumerate(children):
            cwhere = "%s.%s[%d]" % (where, child_key, j)
            _require(isinstance(child, dict), cwhere, "must be a mapping")
            _check_name(child.get("name"), cwhere + ".name")
            _require(child["name"] not in seen_children, cwhere + ".name",
                     "duplicate name %r" % child["name"])
            seen_children.add(child["name"])
            child.setdefault("status", statuses[5] if cpc["dpm"] else "operating")
            _require(child["status"] in statuses, cwhere + ".status",
                     "must be one of %s, got %r" % (", ".join(statuses), child["status"]))
            child.setdefault("os_type", "Linux" if cpc["dpm"] else "z/OS")
            child.setdefault("os_messages", True)
            _require(isinstance(child["os_messages"], bool), cwhere + ".os_messages", "must be true or false")
    return result
