# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Logic shared by the zhmc.eda modules: options, HMC sessions, targets, failures (no AnsibleModule here).

The `hmc_host` / `hmc_auth` options follow ibm.ibm_zhmc, so that a `zhmc.eda.session`
result (or an `ibm.ibm_zhmc.zhmc_session` one) can be passed on unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import re

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.zhmc.eda.plugins.module_utils.control_client import ControlClient
from ansible_collections.zhmc.eda.plugins.module_utils.control_protocol import ControlError
from ansible_collections.zhmc.eda.plugins.module_utils.errors import blank_secrets
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, HMCClient, HMCConnectionError, HMCError)
from ansible_collections.zhmc.eda.plugins.module_utils.validation import (
    host_problem, object_name_problem, socket_path_problem, split_host_port)

DEFAULT_HMC_PORT = 6794


def hmc_auth_spec():
    """The `hmc_auth` option: a dict with the ibm.ibm_zhmc suboptions (+ session_credential)."""
    return dict(
        type="dict",
        required=True,
        no_log=False,  # the dict itself is no secret; its secret suboptions are no_log
        options=dict(
            userid=dict(type="str"),
            password=dict(type="str", no_log=True),
            session_id=dict(type="str", no_log=True),
            session_credential=dict(type="str", no_log=True),
            ca_certs=dict(type="str"),
            verify=dict(type="bool", default=True),
        ),
    )


def hmc_argument_spec():
    """`hmc_host` and `hmc_auth`, for modules that talk to the HMC Web Services API."""
    return dict(
        hmc_host=dict(type="raw", required=True),
        hmc_auth=hmc_auth_spec(),
    )


def control_socket_spec(required=False):
    return dict(type="path", required=required)


def target_spec():
    """`cpc_name` plus one of `partition_name` / `lpar_name`: the partition or LPAR to act on.

    Goes with TARGET_MUTUALLY_EXCLUSIVE and TARGET_REQUIRED_ONE_OF.
    """
    return dict(
        cpc_name=dict(type="str", required=True),
        partition_name=dict(type="str"),
        lpar_name=dict(type="str"),
    )


TARGET_MUTUALLY_EXCLUSIVE = [("partition_name", "lpar_name")]
TARGET_REQUIRED_ONE_OF = [("partition_name", "lpar_name")]


def parse_hmc_host(value):
    """Return (hosts, port) from `hmc_host`: one host, a list, or a string that looks like a list.

    Each entry is checked by validation.host_problem (a host name or IP address, optionally
    with `:port` or as `[v6addr]:port`); all entries must agree on the port.
    Raises ValueError naming the option and the problem.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]") and not re.match(r"^\[[0-9a-fA-F:.]*\](:\d+)?$", text):
            # "['hmc1', 'hmc2']" (a list that arrived as a string)
            text = text[1:-1]
            items = [item.strip().strip("'\"") for item in text.split(",")]
        else:
            items = [text]
    elif isinstance(value, (list, tuple)):
        items = [item.strip() if isinstance(item, str) else item for item in value]
    else:
        raise ValueError("hmc_host must be a host name, an IP address or a list of them, got %s"
                         % type(value).__name__)
    items = [item for item in items if item != ""]
    if not items:
        raise ValueError("hmc_host is empty: give the HMC's host name or IP address")
    hosts = []
    ports = set()
    for item in items:
        problem = host_problem(item)
        if problem:
            raise ValueError("hmc_host entry %r: %s" % (item, problem))
        host, port = split_host_port(item)
        hosts.append(host)
        ports.add(port)
    if len(ports) > 1:
        raise ValueError("hmc_host entries use different ports (%s); all HMCs must use the same port"
                         % ", ".join(str(p) for p in sorted(p or DEFAULT_HMC_PORT for p in ports)))
    port = ports.pop() or DEFAULT_HMC_PORT
    return hosts, port


def format_hmc_host(host, port):
    """The `hmc_host` value for one host, with its port unless it is the default one."""
    if host is None:
        return None
    if port in (None, DEFAULT_HMC_PORT):
        return host
    if ":" in host:
        return "[%s]:%s" % (host, port)
    return "%s:%s" % (host, port)


def verify_cert_from_auth(hmc_auth):
    """`verify_cert` for HMCClient from `hmc_auth.verify` / `hmc_auth.ca_certs`.

    Only an explicit false turns verification off: null (as in the hmc_auth that
    ibm.ibm_zhmc's zhmc_session returns after a delete) keeps the default, true.
    """
    if hmc_auth.get("verify") is False:
        return False
    return hmc_auth.get("ca_certs") or True


def check_ca_certs(hmc_auth):
    """ValueError naming hmc_auth.ca_certs when it is given (and used) but names nothing usable."""
    ca_certs = hmc_auth.get("ca_certs")
    if ca_certs and hmc_auth.get("verify") is not False and not (
            os.path.isfile(ca_certs) or os.path.isdir(ca_certs)):
        raise ValueError("hmc_auth.ca_certs: %s is neither a CA certificate file nor a "
                         "directory of them" % ca_certs)


UNVERIFIED_WARNING = (
    "hmc_auth.verify is false: the HMC's TLS certificate is not checked, so anyone on the "
    "network path can read the password or session id and forge the HMC's answers. Use it "
    "for tests only; give the HMC's CA certificate in hmc_auth.ca_certs instead.")


def warn_if_unverified(module):
    """Give an Ansible warning when the module (an AnsibleModule) skips TLS verification."""
    hmc_auth = module.params.get("hmc_auth") or {}
    if hmc_auth.get("verify") is False:
        module.warn(UNVERIFIED_WARNING)


def auth_mode(hmc_auth):
    """'session' when hmc_auth carries a session_id, 'password' with userid+password.

    Raises ValueError for a combination that is neither (ibm.ibm_zhmc rules).
    """
    session_id = hmc_auth.get("session_id")
    userid = hmc_auth.get("userid")
    password = hmc_auth.get("password")
    if session_id:
        if password:
            raise ValueError("hmc_auth: give either session_id (to reuse a session) or "
                             "userid and password (to log on), not both")
        return "session"
    if userid and password:
        return "password"
    missing = [name for name, value in (("userid", userid), ("password", password)) if not value]
    raise ValueError("hmc_auth needs session_id, or userid and password (missing: %s)"
                     % ", ".join("hmc_auth." + name for name in missing))


def client_from_params(params, hmc_client_class=HMCClient, allow_logon=True, timeout=None):
    """Build an HMCClient from `hmc_host` / `hmc_auth`; returns (client, owns_session).

    `owns_session` is True when the caller must log on and, at the end, log off (userid and
    password given); False when an existing session (session_id) is reused and left open.
    """
    hmc_auth = params["hmc_auth"] or {}
    hosts, port = parse_hmc_host(params["hmc_host"])
    check_ca_certs(hmc_auth)
    mode = auth_mode(hmc_auth)
    if mode == "password" and not allow_logon:
        raise ValueError("hmc_auth must carry session_id here; userid and password are not "
                         "accepted")
    kwargs = dict(port=port, verify_cert=verify_cert_from_auth(hmc_auth))
    if timeout is not None:
        kwargs["timeout"] = timeout
    if mode == "session":
        client = hmc_client_class(hosts, session_id=hmc_auth["session_id"],
                                  session_credential=hmc_auth.get("session_credential"), **kwargs)
    else:
        client = hmc_client_class(hosts, userid=hmc_auth["userid"],
                                  password=hmc_auth["password"], **kwargs)
    return client, mode == "password"


@contextlib.contextmanager
def hmc_session(params, allow_logon=True):
    """An HMCClient for `hmc_host` / `hmc_auth`, logged on and at the end off when userid and
    password were given; a reused session (session_id) is left open."""
    client, owns_session = client_from_params(params, HMCClient, allow_logon=allow_logon)
    if owns_session:
        client.logon()
    try:
        yield client
    finally:
        if owns_session:
            client.logoff()


def control_client(params):
    """A ControlClient for the `control_socket` option (its timeout is the control channel's
    own, longer than the source may take to answer: control_protocol.py)."""
    path = params["control_socket"]
    problem = socket_path_problem(path)
    if problem:
        raise ValueError("control_socket %r: %s" % (path, problem))
    return ControlClient(path)


def fail_without_requests(module):
    """Fail the module (an AnsibleModule) when `requests` cannot be imported."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))


# What a module turns into a failure with a message; anything else is a bug and shows a traceback.
EXPECTED_ERRORS = (ValueError, LookupError, ControlError, HMCError, HMCConnectionError)


def failure(action, exc, params):
    """fail_json arguments for an EXPECTED_ERRORS exception raised while trying to `action`."""
    if isinstance(exc, (HMCError, HMCConnectionError)):
        return dict(msg=hmc_error_message(action, exc, params), **error_details(exc))
    return dict(msg="Cannot %s: %s" % (action, exc))


def finish(module, action, work):
    """End the module (an AnsibleModule): exit with the result dict of `work(module)`, or fail
    with a message saying it could not `action` when work raises one of EXPECTED_ERRORS."""
    try:
        result = work(module)
    except EXPECTED_ERRORS as exc:
        module.fail_json(**failure(action, exc, module.params))
    module.exit_json(**result)


def secrets_of(params):
    """Every secret value in the module parameters (for masking library text)."""
    hmc_auth = params.get("hmc_auth") or {}
    return [hmc_auth.get(key) for key in ("password", "session_id", "session_credential")
            if hmc_auth.get(key)]


def hmc_error_message(action, exc, params=None):
    """'Cannot <action>: HMC answered HTTP 404 reason 1: ...' from an HMCError, secrets blanked."""
    status = getattr(exc, "http_status", None)
    reason = getattr(exc, "reason", None)
    message = getattr(exc, "message", None) or str(exc)
    secrets = secrets_of(params or {})
    if status is not None:
        text = "Cannot %s: the HMC answered HTTP %s reason %s: %s" % (action, status, reason, message)
    else:
        text = "Cannot %s: %s: %s" % (action, type(exc).__name__, message)
    return blank_secrets(text, secrets)


def error_details(exc):
    """`http_status` / `reason` of an HMCError for the module result (None when not an HMC answer)."""
    return dict(http_status=getattr(exc, "http_status", None), reason=getattr(exc, "reason", None))


def exact_regex(name):
    """A regular expression that matches exactly `name`."""
    return "^%s$" % re.escape(name)


def target_of(spec, prefix=""):
    """(kind, name) of an OS-message target: ('partition', P) or ('lpar', L).

    Raises ValueError naming the option (`prefix` + option name, e.g. "os_message_channel.")
    for a missing or bad name (validation.object_name_problem).
    """
    partition = spec.get("partition_name")
    lpar = spec.get("lpar_name")
    if bool(partition) == bool(lpar):
        raise ValueError("give exactly one of %spartition_name (DPM CPC) or %slpar_name "
                         "(classic CPC)" % (prefix, prefix))
    kind, option = ("partition", "partition_name") if partition else ("lpar", "lpar_name")
    for name in ("cpc_name", option):
        problem = object_name_problem(spec.get(name))
        if problem:
            raise ValueError("%s%s %r: %s" % (prefix, name, spec.get(name), problem))
    return kind, spec[option]


def describe_target(spec):
    """'partition P in CPC C' / 'LPAR L in CPC C' from the target options, for messages."""
    if spec.get("partition_name"):
        what = "partition %s" % spec["partition_name"]
    elif spec.get("lpar_name"):
        what = "LPAR %s" % spec["lpar_name"]
    else:
        what = "the partition or LPAR"
    return "%s in CPC %s" % (what, spec.get("cpc_name"))


def find_target(client, cpc_name, kind, name):
    """Find one partition or LPAR by exact CPC and name.

    Returns the `{uri, name, cpc_name, cpc_uri, class, status}` dict; raises LookupError with a
    message naming the CPC or the partition/LPAR that does not exist.
    """
    cpcs = [cpc for cpc in client.find_cpcs(exact_regex(cpc_name)) if cpc.get("name") == cpc_name]
    if not cpcs:
        raise LookupError("CPC %r not found on the HMC (or no access to it)" % cpc_name)
    if kind == "partition":
        found = client.find_partitions(exact_regex(cpc_name), exact_regex(name))
        what = "partition"
    else:
        found = client.find_lpars(exact_regex(cpc_name), exact_regex(name))
        what = "LPAR"
    found = [item for item in found if item.get("name") == name and item.get("cpc_name") == cpc_name]
    if not found:
        hint = ""
        cpc = cpcs[0]
        dpm = cpc.get("dpm_enabled", cpc.get("dpm-enabled"))
        if dpm is True and kind == "lpar":
            hint = " (CPC %s is in DPM mode: use partition_name)" % cpc_name
        elif dpm is False and kind == "partition":
            hint = " (CPC %s is in classic mode: use lpar_name)" % cpc_name
        raise LookupError("%s %r not found in CPC %r (or no access to it)%s" % (what, name, cpc_name, hint))
    return found[0]


def topic_item(raw):
    """A Get Notification Topics item in snake_case."""
    item = dict(topic_name=raw.get("topic-name"), topic_type=raw.get("topic-type"))
    if "object-uri" in raw:
        item["object_uri"] = raw.get("object-uri")
    if "include-refresh-messages" in raw:
        item["include_refresh_messages"] = raw.get("include-refresh-messages")
    return item


def same_object(uri_a, uri_b):
    """True when two object URIs name the same object (the HMC may give only the id)."""
    if not uri_a or not uri_b:
        return False
    return uri_a.rstrip("/").split("/")[-1] == uri_b.rstrip("/").split("/")[-1]


def session_topics(raw_topics):
    """{object, job, audit, security} topic names from Get Notification Topics items."""
    names = dict(object=None, job=None, audit=None, security=None)
    keys = {"object-notification": "object", "job-notification": "job",
            "audit-notification": "audit", "security-notification": "security"}
    for raw in raw_topics:
        key = keys.get(raw.get("topic-type"))
        if key and names[key] is None:
            names[key] = raw.get("topic-name")
    return names


def channel_response_summary(response, check_mode=False):
    """(topic_name, status) from a source's open_os_message_channel answer.

    The source answers with `status` (opened | existing | unsupported), `topic_name` and
    `topics`; without `status` (an answer to close_os_message_channel) it is derived from
    `changed`.
    """
    topic = response.get("topic_name") or response.get("topic")
    if not topic:
        topics = response.get("topics") or []
        topic = topics[0] if topics else None
    status = response.get("status")
    if not status:
        status = "opened" if response.get("changed") or (check_mode and not topic) else "existing"
    return topic, status


UNSUPPORTED_MSG = "the operating system does not support OS messages (HTTP 409 reason 332)"


def unsupported_message(target):
    """The failure message for `fail_on_unsupported`; `target` holds the target options."""
    return "Cannot open the OS-message channel of %s: %s" % (describe_target(target), UNSUPPORTED_MSG)
