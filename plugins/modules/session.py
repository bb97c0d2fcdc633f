#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: session
short_description: Log on to or log off from the HMC and return a reusable session
version_added: "0.1.0"
description:
  - With O(state=present) and O(hmc_auth.userid) / O(hmc_auth.password), logs on to the HMC
    and returns the new session in C(hmc_auth) form with the HMC actually used (C(hmc_host)),
    the session credential (C(session_credential)) and the session's notification topics.
  - Later tasks reuse the session with C(hmc_host) and C(hmc_auth) taken from the result, in
    zhmc.eda modules and in ibm.ibm_zhmc modules alike, because C(hmc_auth) has exactly the
    keys of the result of C(ibm.ibm_zhmc.zhmc_session) (C(session_id), C(ca_certs), C(verify)).
  - The C(zhmc.eda.notifications) event source also needs the session credential to log on
    to the HMC's message broker with the session; give it C(hmc_auth.session_credential) from
    C(session_credential).
  - The C(hmc_auth) of C(ibm.ibm_zhmc.zhmc_session) works here too (as input of this and the
    other zhmc.eda modules); it has no session credential, so it cannot serve the event
    source.
  - With O(state=present) and O(hmc_auth.session_id), checks that the session is still valid
    and returns its topics.
  - With O(state=absent), logs the session of O(hmc_auth.session_id) off.
  - The result of this module is never shown in the output (the companion action plugin
    marks it C(no_log)); registered variables still hold it.
author:
  - zhmc.eda contributors (@zhmc-eda)
requirements:
  - requests
extends_documentation_fragment:
  - zhmc.eda.hmc
  - zhmc.eda.hmc.attributes
options:
  state:
    description:
      - V(present) logs on (or checks the given session); V(absent) logs the given session off.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    details:
      - O(state=present) logs on also in check mode, because the later tasks of a check-mode
        run need a session to read from the HMC; a session changes nothing on the HMC's
        managed objects.
      - O(state=absent) does not log off in check mode.
notes:
  - An OS-message channel lives as long as the session that opened it. Do not log off a
    session whose topics a receiver is still consuming.
  - O(state=present) never reports a change (a session is not managed state, as in
    ibm.ibm_zhmc). O(state=absent) reports a change when a valid session was logged off.
seealso:
  - module: zhmc.eda.os_message_channel
  - module: zhmc.eda.notification_topics_info
"""

EXAMPLES = r"""
- name: Log on to the HMC
  zhmc.eda.session:
    hmc_host: "{{ hmc_host }}"
    hmc_auth:
      userid: "{{ hmc_userid }}"
      password: "{{ hmc_password }}"
      ca_certs: "{{ hmc_ca_certs | default(omit) }}"
  register: session

- name: Open an OS-message channel in that session
  zhmc.eda.os_message_channel:
    hmc_host: "{{ session.hmc_host }}"
    hmc_auth: "{{ session.hmc_auth }}"
    cpc_name: CPC1
    partition_name: PART1

- name: Use the same session in an ibm.ibm_zhmc module
  ibm.ibm_zhmc.zhmc_cpc_list:
    hmc_host: "{{ session.hmc_host }}"
    hmc_auth: "{{ session.hmc_auth }}"
  register: cpcs

- name: Log off
  zhmc.eda.session:
    hmc_host: "{{ session.hmc_host }}"
    hmc_auth: "{{ session.hmc_auth }}"
    state: absent
"""

RETURN = r"""
hmc_host:
  description: The HMC that answered (with its port when not 6794); pass it as O(hmc_host).
  returned: when O(state=present)
  type: str
  sample: "hmc1.example.com"
hmc_auth:
  description:
    - The session in the form of the O(hmc_auth) option, with exactly the keys that
      C(ibm.ibm_zhmc.zhmc_session) returns, so that ibm.ibm_zhmc modules accept it too.
  returned: when O(state=present)
  type: dict
  contains:
    session_id:
      description: The session id.
      type: str
      returned: always
      sample: "2p5i1e4o8bg4y1iqb2yi1l7s5ab7c4nivr1pcu3xrt7bmcgbhc"
    ca_certs:
      description: O(hmc_auth.ca_certs) as given.
      type: str
      returned: always
      sample: "/etc/pki/hmc-ca.pem"
    verify:
      description: O(hmc_auth.verify) as given.
      type: bool
      returned: always
      sample: true
session_credential:
  description:
    - The session credential (the session's password at the HMC's message broker), for the
      C(hmc_auth.session_credential) option of the C(zhmc.eda.notifications) event source.
      The Web Services API, and so every module, needs only the session id.
    - Null when the session was given by O(hmc_auth.session_id) without
      O(hmc_auth.session_credential).
  returned: when O(state=present)
  type: str
  sample: "x4s0kcb7ad1ep2dufb3uuxwg3jfnq6uh3aw2c0gzmusv0u3rw"
topics:
  description: The names of the session's notification topics.
  returned: when O(state=present)
  type: dict
  contains:
    object:
      description: The per-session object notification topic (status and property changes).
      type: str
      returned: always
      sample: "hmcuser.1obj"
    job:
      description: The per-session job notification topic (completions of jobs this session started).
      type: str
      returned: always
      sample: "hmcuser.1job"
    audit:
      description: The audit log topic.
      type: str
      returned: always
      sample: "hmc1.audit"
    security:
      description: The security log topic.
      type: str
      returned: always
      sample: "hmc1.security"
api_version:
  description: The HMC's Web Services API version.
  returned: when O(state=present)
  type: str
  sample: "4.10"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common


def _api_version(client):
    try:
        info = client.query_api_version()
    except (common.HMCError, common.HMCConnectionError):
        return None
    return "%s.%s" % (info.get("api-major-version"), info.get("api-minor-version"))


def _present(params):
    client, owns_session = common.client_from_params(params)
    if owns_session:
        client.logon()
    try:
        raw_topics = client.get_notification_topics()
    except Exception:
        if owns_session:
            client.logoff()  # do not leave a session nobody knows the id of
        raise
    topics = common.session_topics(raw_topics)
    topics["object"] = getattr(client, "object_topic", None) or topics["object"]
    topics["job"] = getattr(client, "job_topic", None) or topics["job"]
    hmc_auth = params["hmc_auth"]
    return dict(
        changed=False,
        hmc_host=common.format_hmc_host(client.host, common.parse_hmc_host(params["hmc_host"])[1]),
        # the keys of ibm.ibm_zhmc's hmc_auth, no more: its modules refuse unknown ones
        hmc_auth=dict(
            session_id=client.session_id,
            ca_certs=hmc_auth.get("ca_certs"),
            verify=hmc_auth.get("verify") is not False,
        ),
        session_credential=client.session_credential or hmc_auth.get("session_credential"),
        topics=topics,
        api_version=_api_version(client),
    )


def _absent(module, params):
    if not params["hmc_auth"].get("session_id"):
        raise ValueError("state=absent needs hmc_auth.session_id (the session to log off)")
    with common.hmc_session(params, allow_logon=False) as client:
        try:
            client.get_notification_topics()
        except common.HMCError as exc:
            if getattr(exc, "http_status", None) in (401, 403):
                return dict(changed=False, msg="The session is already logged off or has expired "
                                               "(HTTP %s reason %s)." % (exc.http_status, exc.reason))
            raise
        if not module.check_mode:
            client.logoff(force=True)  # the caller's session: ending it is what was asked for
    return dict(changed=True)


def main():
    argument_spec = common.hmc_argument_spec()
    argument_spec.update(state=dict(type="str", choices=["present", "absent"], default="present"))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    common.fail_without_requests(module)
    common.warn_if_unverified(module)
    params = module.params
    action = "log on to the HMC" if params["state"] == "present" else "log off from the HMC"
    try:
        if params["state"] == "present":
            result = _present(params)
        else:
            result = _absent(module, params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))  # names the option; the action adds nothing
    except common.EXPECTED_ERRORS as exc:
        module.fail_json(**common.failure(action, exc, params))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
