#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: os_command
short_description: Send a command to the operating system console of a partition or LPAR
version_added: "0.1.0"
description:
  - Sends a command to the operating system of a partition (CPC in DPM mode) or an LPAR
    (classic CPC) with the HMC operation Send OS Command, for example to reply to a held
    message that a rulebook reacted to.
  - The HMC does not return the command's output; it arrives as OS messages on the
    partition's OS-message channel (see M(zhmc.eda.os_message_channel)).
  - Either reuses a session (O(hmc_auth.session_id)) or logs on with O(hmc_auth.userid) /
    O(hmc_auth.password) and logs off at its end.
author:
  - zhmc.eda contributors (@zhmc-eda)
requirements:
  - requests
extends_documentation_fragment:
  - zhmc.eda.hmc
  - zhmc.eda.hmc.target
  - zhmc.eda.hmc.attributes
options:
  command:
    description:
      - The command text, 1 to 200 characters.
    type: str
    required: true
  is_priority:
    description:
      - Send the command as a priority command.
    type: bool
    default: false
attributes:
  check_mode:
    details:
      - The target is looked up, the command is not sent; C(changed=true) is reported.
notes:
  - Sending a command always reports a change; it is not idempotent by nature.
seealso:
  - module: zhmc.eda.os_message_channel
"""

EXAMPLES = r"""
- name: Reply to a held z/OS message
  zhmc.eda.os_command:
    hmc_host: "{{ hmc_host }}"
    hmc_auth:
      userid: "{{ hmc_userid }}"
      password: "{{ hmc_password }}"
    cpc_name: CPC2
    lpar_name: LPAR1
    command: "R 12,YES"
"""

RETURN = r"""
object_uri:
  description: The URI of the partition or LPAR the command was sent to.
  returned: success
  type: str
  sample: "/api/logical-partitions/1b8c0e02-1e0c-11ef-a08e-fa163e6c1c74"
command:
  description: The command text as sent.
  returned: success
  type: str
  sample: "R 12,YES"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common

MAX_COMMAND_LENGTH = 200


def _send(module):
    params = module.params
    kind, name = common.target_of(params)
    with common.hmc_session(params) as client:
        target = common.find_target(client, params["cpc_name"], kind, name)
        if not module.check_mode:
            client.send_os_command(target["uri"], params["command"], is_priority=params["is_priority"])
    return dict(changed=True, object_uri=target["uri"], command=params["command"])


def main():
    argument_spec = common.hmc_argument_spec()
    argument_spec.update(common.target_spec())
    argument_spec.update(
        command=dict(type="str", required=True),
        is_priority=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=common.TARGET_MUTUALLY_EXCLUSIVE,
        required_one_of=common.TARGET_REQUIRED_ONE_OF,
    )
    common.fail_without_requests(module)
    common.warn_if_unverified(module)
    command = module.params["command"]
    if not 1 <= len(command) <= MAX_COMMAND_LENGTH:
        module.fail_json(msg="command must be 1 to %d characters long, got %d"
                         % (MAX_COMMAND_LENGTH, len(command)))
    common.finish(module, "send the OS command to %s" % common.describe_target(module.params), _send)


if __name__ == "__main__":
    main()
