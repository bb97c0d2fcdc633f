#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: notification_subscription
short_description: Subscribe or unsubscribe a running event source to a notification topic
version_added: "0.1.0"
description:
  - Changes what a running C(zhmc.eda.notifications) event source listens to, through its
    control socket. The source performs the request in its own HMC session and keeps its
    runtime subscriptions across reconnects and re-logons.
  - O(topic) subscribes (O(state=present)) or unsubscribes (O(state=absent)) a topic by name.
  - O(os_message_channel) names a partition or LPAR instead; with O(state=present) the source
    opens the OS-message channel in its own session (so the topic stays alive as long as the
    source) and subscribes to it; with O(state=absent) it unsubscribes the channel's topic
    (the HMC has no operation to close a channel).
  - Without O(topic) and O(os_message_channel), the module only returns the current
    subscriptions (O(state) must then be V(present)).
  - Idempotent; C(changed) is true only when the source's subscription set changed.
  - When the operating system of the partition or LPAR does not support OS messages, the
    module returns C(status=unsupported) and C(changed=false); it fails only with
    O(fail_on_unsupported=true).
author:
  - zhmc.eda contributors (@zhmc-eda)
extends_documentation_fragment:
  - zhmc.eda.hmc.control_socket
  - zhmc.eda.hmc.attributes
options:
  control_socket:
    required: true
  topic:
    description:
      - The name of the topic. Mutually exclusive with O(os_message_channel).
    type: str
  os_message_channel:
    description:
      - The partition or LPAR whose OS-message channel to subscribe or unsubscribe.
        Mutually exclusive with O(topic).
    type: dict
    suboptions:
      cpc_name:
        description:
          - The name of the CPC.
        type: str
        required: true
      partition_name:
        description:
          - The name of the partition (CPC in DPM mode).
        type: str
      lpar_name:
        description:
          - The name of the LPAR (classic CPC).
        type: str
  state:
    description:
      - V(present) to subscribe, V(absent) to unsubscribe.
    type: str
    choices: [present, absent]
    default: present
  fail_on_unsupported:
    description:
      - With O(os_message_channel) and O(state=present), fail when the operating system does
        not support OS messages (HTTP 409 reason 332) instead of returning C(status=unsupported).
    type: bool
    default: false
attributes:
  check_mode:
    details:
      - The source reports what would change and changes nothing.
seealso:
  - module: zhmc.eda.os_message_channel
"""

EXAMPLES = r"""
- name: Make the running source watch the console of PART1
  zhmc.eda.notification_subscription:
    control_socket: "{{ control_socket }}"
    os_message_channel:
      cpc_name: CPC1
      partition_name: PART1

- name: Stop listening to a topic
  zhmc.eda.notification_subscription:
    control_socket: "{{ control_socket }}"
    topic: hmc1.audit
    state: absent

- name: Show what the source listens to
  zhmc.eda.notification_subscription:
    control_socket: "{{ control_socket }}"
  register: current
"""

RETURN = r"""
subscriptions:
  description: The running source's subscriptions after the request (in check mode, as they are now).
  returned: success
  type: list
  elements: dict
  contains:
    topic:
      description: The topic name.
      type: str
      returned: always
      sample: "hmcuser.1obj"
    topic_type:
      description: The topic type.
      type: str
      returned: always
      sample: object-notification
    object_uri:
      description: For OS-message topics, the URI of the partition or LPAR.
      type: str
      returned: when known
    origin:
      description: Why the source has this subscription (configuration or a runtime request).
      type: str
      returned: always
topic_name:
  description: The topic that was subscribed or unsubscribed (for O(os_message_channel), the channel's topic when known).
  returned: when O(topic) or O(os_message_channel) is given
  type: str
  sample: "hmcuser.3osm.6bd2c7c81e0b11efb1b9fa163e6c1c74"
status:
  description: For O(os_message_channel) with O(state=present), V(opened), V(existing) or V(unsupported).
  returned: when reported by the source
  type: str
  sample: opened
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common


def _request(module, client):
    params = module.params
    state = params["state"]
    check_mode = module.check_mode
    if params["topic"]:
        op = "subscribe" if state == "present" else "unsubscribe"
        response = client.request(op, topic=params["topic"], check_mode=check_mode)
        response.setdefault("topic_name", params["topic"])
        return response
    channel = params["os_message_channel"]
    if channel:
        kind, name = common.target_of(channel, prefix="os_message_channel.")
        request = {"cpc": channel["cpc_name"], kind: name, "check_mode": check_mode}
        if state == "present":
            response = client.request("open_os_message_channel", subscribe=True, **request)
        else:
            response = client.request("close_os_message_channel", **request)
        return response
    if state == "absent":
        raise ValueError("state=absent needs topic or os_message_channel (what to unsubscribe)")
    response = client.request("list")
    response["changed"] = False
    return response


def _change(module):
    response = _request(module, common.control_client(module.params))
    result = dict(changed=bool(response.get("changed")),
                  subscriptions=response.get("subscriptions") or [])
    if module.params["os_message_channel"]:
        topic, status = common.channel_response_summary(response, module.check_mode)
        if module.params["state"] == "present":
            result["status"] = status
    else:
        topic = response.get("topic_name", response.get("topic"))
    if topic is not None:
        result["topic_name"] = topic
    if result.get("status") == "unsupported" and module.params["fail_on_unsupported"]:
        module.fail_json(msg=common.unsupported_message(module.params["os_message_channel"]), **result)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            control_socket=common.control_socket_spec(required=True),
            topic=dict(type="str"),
            os_message_channel=dict(type="dict", options=common.target_spec(),
                                    mutually_exclusive=common.TARGET_MUTUALLY_EXCLUSIVE,
                                    required_one_of=common.TARGET_REQUIRED_ONE_OF),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            fail_on_unsupported=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
        mutually_exclusive=[("topic", "os_message_channel")],
    )
    common.finish(module, "change the subscriptions of the source", _change)


if __name__ == "__main__":
    main()
