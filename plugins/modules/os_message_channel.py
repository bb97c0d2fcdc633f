#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: os_message_channel
short_description: Open the OS-message channel of a partition or LPAR
version_added: "0.1.0"
description:
  - Opens the operating system message channel of a partition (CPC in DPM mode) or an LPAR
    (classic CPC) and returns the name of its notification topic.
  - Idempotent. When the channel is already open in the session (HMC answer HTTP 409 reason
    331), the module looks the topic up with Get Notification Topics and returns it with
    C(status=existing) and C(changed=false).
  - When the operating system does not support OS messages (HTTP 409 reason 332), the module
    returns C(status=unsupported) and no topic; it fails only with O(fail_on_unsupported=true).
  - B(A channel lives as long as the HMC session that opened it.) Its topic is dead once that
    session is logged off or expires. So the module works in one of two ways, and refuses to
    log on and off by itself (which would hand back a dead topic).
  - With O(control_socket), it asks a running C(zhmc.eda.notifications) source to open the
    channel in the source's own session and, with O(subscribe=true), to subscribe to it. The
    channel then lives as long as the source, which re-opens it after a re-logon.
  - Otherwise it uses the existing session given by O(hmc_auth.session_id) (for example from
    M(zhmc.eda.session)); the channel lives until that session is logged off.
author:
  - zhmc.eda contributors (@zhmc-eda)
requirements:
  - requests
extends_documentation_fragment:
  - zhmc.eda.hmc.control_socket
  - zhmc.eda.hmc.target
  - zhmc.eda.hmc.attributes
options:
  hmc_host:
    description:
      - The HMC, as in the other zhmc.eda modules (host, C(host:port) or a list of them).
      - Required unless O(control_socket) is given.
    type: raw
  hmc_auth:
    description:
      - The existing session to open the channel in; O(hmc_auth.session_id) is required.
      - O(hmc_auth.userid) and O(hmc_auth.password) alone are refused, because the module
        would log off at its end and the returned topic would already be dead.
      - Required unless O(control_socket) is given.
    type: dict
    suboptions:
      userid:
        description:
          - Accepted for compatibility with ibm.ibm_zhmc C(hmc_auth) values; not used.
        type: str
      password:
        description:
          - Not allowed together with O(hmc_auth.session_id); see above.
        type: str
      session_id:
        description:
          - The id of the HMC session that opens (and owns) the channel.
        type: str
      session_credential:
        description:
          - The session credential; accepted (not used) so that an C(hmc_auth) written for the
            C(zhmc.eda.notifications) source can be passed on.
        type: str
      ca_certs:
        description:
          - Path of a CA certificate file or directory that verifies the HMC's certificate.
        type: str
      verify:
        description:
          - Verify the HMC's certificate. Switch it off only for tests; the module then gives a
            warning. Null counts as true.
        type: bool
        default: true
  include_refresh_messages:
    description:
      - Ask the HMC to send the messages it already holds when a subscriber appears (they
        arrive with C(is-refresh=true)). Only used when the module itself opens the channel
        (not with O(control_socket), where the source's configuration decides).
    type: bool
    default: true
  subscribe:
    description:
      - With O(control_socket), also subscribe the running source to the channel's topic.
    type: bool
    default: true
  fail_on_unsupported:
    description:
      - Fail when the operating system does not support OS messages (HTTP 409 reason 332)
        instead of returning C(status=unsupported).
    type: bool
    default: false
attributes:
  check_mode:
    details:
      - Nothing is opened or subscribed. An already open channel is reported as C(existing)
        with its topic; otherwise C(status=opened), C(changed=true) and no topic are reported,
        since only opening it tells whether the operating system supports OS messages.
notes:
  - The HMC has no operation to close an OS-message channel; use
    M(zhmc.eda.notification_subscription) with C(state=absent) to stop a source listening to it.
seealso:
  - module: zhmc.eda.session
  - module: zhmc.eda.notification_subscription
"""

EXAMPLES = r"""
- name: Open a channel in the running source's session and subscribe it
  zhmc.eda.os_message_channel:
    control_socket: /run/user/1000/zhmc-eda.sock
    cpc_name: CPC1
    partition_name: PART1

- name: Open a channel in a session of this playbook
  zhmc.eda.os_message_channel:
    hmc_host: "{{ session.hmc_host }}"
    hmc_auth: "{{ session.hmc_auth }}"
    cpc_name: CPC2
    lpar_name: LPAR1
  register: channel

- name: Show the topic
  ansible.builtin.debug:
    msg: "{{ channel.topic_name }} ({{ channel.status }})"
"""

RETURN = r"""
topic_name:
  description: The channel's notification topic; null when unsupported or in check mode before opening.
  returned: always
  type: str
  sample: "hmcuser.3osm.6bd2c7c81e0b11efb1b9fa163e6c1c74"
status:
  description:
    - V(opened) (opened now), V(existing) (already open in the session) or V(unsupported)
      (the operating system does not support OS messages).
  returned: always
  type: str
  sample: opened
object_uri:
  description: The URI of the partition or LPAR (not returned with O(control_socket) unless the source reports it).
  returned: when known
  type: str
  sample: "/api/partitions/6bd2c7c8-1e0b-11ef-b1b9-fa163e6c1c74"
subscriptions:
  description: The running source's subscriptions after the request.
  returned: with O(control_socket)
  type: list
  elements: dict
  contains:
    topic:
      description: The topic name.
      type: str
      returned: always
    topic_type:
      description: The topic type (for example V(os-message-notification)).
      type: str
      returned: always
    object_uri:
      description: The object of an OS-message topic.
      type: str
      returned: when known
    origin:
      description: Why the source has this subscription (configuration or a runtime request).
      type: str
      returned: always
subscribed:
  description: Whether the running source is subscribed to the topic now.
  returned: with O(control_socket)
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common

DEAD_TOPIC_MSG = (
    "hmc_auth has userid and password but no session_id. An OS-message channel lives only as "
    "long as the HMC session that opened it, and this module would log its own session off at "
    "its end, handing back a dead topic. Pass hmc_auth.session_id (e.g. the hmc_auth returned "
    "by zhmc.eda.session), or control_socket to open the channel in a running source's session.")


def _via_control(module, kind, name):
    params = module.params
    client = common.control_client(params)
    request = dict(cpc=params["cpc_name"], subscribe=params["subscribe"],
                   check_mode=module.check_mode)
    request[kind] = name
    response = client.request("open_os_message_channel", **request)
    topic, status = common.channel_response_summary(response, module.check_mode)
    subscriptions = response.get("subscriptions") or []
    result = dict(
        changed=bool(response.get("changed")),
        topic_name=topic,
        status=status,
        subscriptions=subscriptions,
        subscribed=bool(topic) and any(sub.get("topic") == topic for sub in subscriptions),
    )
    if response.get("object_uri"):
        result["object_uri"] = response["object_uri"]
    return result


def _existing_topic(client, object_uri):
    for raw in client.get_notification_topics():
        if raw.get("topic-type") == "os-message-notification" and \
                common.same_object(raw.get("object-uri"), object_uri):
            return raw.get("topic-name")
    return None


def _via_session(module, kind, name):
    params = module.params
    hmc_auth = params["hmc_auth"] or {}
    if not hmc_auth.get("session_id"):
        if hmc_auth.get("userid") or hmc_auth.get("password"):
            raise ValueError(DEAD_TOPIC_MSG)
        raise ValueError("hmc_auth.session_id is required (or give control_socket)")
    with common.hmc_session(params, allow_logon=False) as client:
        target = common.find_target(client, params["cpc_name"], kind, name)
        result = dict(object_uri=target["uri"])
        if module.check_mode:
            topic = _existing_topic(client, target["uri"])
            result.update(changed=topic is None, topic_name=topic,
                          status="existing" if topic else "opened")
            return result
        topic, status = client.open_os_message_channel(
            target["uri"], include_refresh_messages=params["include_refresh_messages"])
    result.update(changed=status == "opened", topic_name=topic, status=status)
    return result


def _open(module):
    kind, name = common.target_of(module.params)
    if module.params["control_socket"]:
        result = _via_control(module, kind, name)
    else:
        result = _via_session(module, kind, name)
    if result["status"] == "unsupported" and module.params["fail_on_unsupported"]:
        module.fail_json(msg=common.unsupported_message(module.params), **result)
    return result


def main():
    argument_spec = dict(
        hmc_host=dict(type="raw"),
        hmc_auth=common.hmc_auth_spec(),
        control_socket=common.control_socket_spec(),
        include_refresh_messages=dict(type="bool", default=True),
        subscribe=dict(type="bool", default=True),
        fail_on_unsupported=dict(type="bool", default=False),
    )
    argument_spec["hmc_auth"]["required"] = False
    argument_spec.update(common.target_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=common.TARGET_MUTUALLY_EXCLUSIVE + [
            ("control_socket", "hmc_auth"), ("control_socket", "hmc_host")],
        required_one_of=common.TARGET_REQUIRED_ONE_OF + [("control_socket", "hmc_auth")],
        required_together=[("hmc_host", "hmc_auth")],
    )
    if not module.params["control_socket"]:
        common.fail_without_requests(module)
        common.warn_if_unverified(module)
    common.finish(module, "open the OS-message channel of %s" % common.describe_target(module.params), _open)


if __name__ == "__main__":
    main()
