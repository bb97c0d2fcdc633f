#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: notification_topics_info
short_description: List the notification topics of an HMC session
version_added: "0.1.0"
description:
  - Returns the notification topics of a session (HMC operation Get Notification Topics), namely
    the session's object and job topics, the audit and security topics, and one topic per
    OS-message channel opened in the session, with the partition or LPAR it belongs to.
  - Topics are per session. With O(hmc_auth.session_id) the module lists that session's
    topics. With O(hmc_auth.userid) / O(hmc_auth.password) it logs on, lists the topics of
    that new session and logs off; those topics die with it, so this is only useful to learn
    the names of the HMC-wide audit and security topics.
author:
  - zhmc.eda contributors (@zhmc-eda)
requirements:
  - requests
extends_documentation_fragment:
  - zhmc.eda.hmc
  - zhmc.eda.hmc.attributes
options:
  topic_types:
    description:
      - Return only topics of these types. Default is all.
    type: list
    elements: str
    choices:
      - object-notification
      - job-notification
      - audit-notification
      - security-notification
      - os-message-notification
seealso:
  - module: zhmc.eda.session
"""

EXAMPLES = r"""
- name: List the OS-message topics of a session
  zhmc.eda.notification_topics_info:
    hmc_host: "{{ session.hmc_host }}"
    hmc_auth: "{{ session.hmc_auth }}"
    topic_types: [os-message-notification]
  register: topics_info
"""

RETURN = r"""
topics:
  description: The session's topics.
  returned: success
  type: list
  elements: dict
  contains:
    topic_name:
      description: The name to subscribe to (as C(/topic/<name>)).
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
      returned: for OS-message topics
      sample: "/api/partitions/6bd2c7c8-1e0b-11ef-b1b9-fa163e6c1c74"
    include_refresh_messages:
      description: For OS-message topics, whether refresh messages were asked for.
      type: bool
      returned: for OS-message topics
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common

TOPIC_TYPES = ["object-notification", "job-notification", "audit-notification",
               "security-notification", "os-message-notification"]


def _list_topics(module):
    with common.hmc_session(module.params) as client:
        raw_topics = client.get_notification_topics()
    wanted = module.params["topic_types"]
    topics = [common.topic_item(raw) for raw in raw_topics
              if not wanted or raw.get("topic-type") in wanted]
    return dict(changed=False, topics=topics)


def main():
    argument_spec = common.hmc_argument_spec()
    argument_spec.update(topic_types=dict(type="list", elements="str", choices=TOPIC_TYPES))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    common.fail_without_requests(module)
    common.warn_if_unverified(module)
    common.finish(module, "list the notification topics", _list_topics)


if __name__ == "__main__":
    main()
