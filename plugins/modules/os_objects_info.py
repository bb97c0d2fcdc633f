#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: os_objects_info
short_description: Find the partitions and LPARs whose names match patterns
version_added: "0.1.0"
description:
  - Lists the partitions (CPCs in DPM mode) and LPARs (classic CPCs) whose CPC name and own
    name fully match regular expressions, for example to open the OS-message channels of
    all of them with M(zhmc.eda.os_message_channel).
author:
  - zhmc.eda contributors (@zhmc-eda)
requirements:
  - requests
extends_documentation_fragment:
  - zhmc.eda.hmc
  - zhmc.eda.hmc.attributes
options:
  cpc_name:
    description:
      - Regular expression that the CPC name must fully match.
    type: str
    default: ".*"
  partition_name:
    description:
      - Regular expression that a partition name must fully match.
      - When neither O(partition_name) nor O(lpar_name) is given, all partitions and LPARs of
        the matching CPCs are returned; when only one is given, only that kind.
    type: str
  lpar_name:
    description:
      - Regular expression that an LPAR name must fully match.
    type: str
seealso:
  - module: zhmc.eda.os_message_channel
"""

EXAMPLES = r"""
- name: Find the Linux partitions of CPC1
  zhmc.eda.os_objects_info:
    hmc_host: "{{ session.hmc_host }}"
    hmc_auth: "{{ session.hmc_auth }}"
    cpc_name: CPC1
    partition_name: "LNX.*"
  register: found
"""

RETURN = r"""
objects:
  description: The matching partitions and LPARs.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The partition or LPAR name.
      type: str
      returned: always
      sample: PART1
    cpc_name:
      description: The CPC name.
      type: str
      returned: always
      sample: CPC1
    uri:
      description: The object URI.
      type: str
      returned: always
      sample: "/api/partitions/6bd2c7c8-1e0b-11ef-b1b9-fa163e6c1c74"
    class:
      description: V(partition) or V(logical-partition).
      type: str
      returned: always
      sample: partition
    status:
      description: The object's status.
      type: str
      returned: always
      sample: active
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zhmc.eda.plugins.module_utils import module_common as common

OBJECT_KEYS = ("name", "cpc_name", "uri", "class", "status")


def _find(module):
    params = module.params
    with common.hmc_session(params) as client:
        found = client.find_os_objects(params["cpc_name"], partition_regex=params["partition_name"],
                                       lpar_regex=params["lpar_name"])
    objects = [dict((key, item.get(key)) for key in OBJECT_KEYS) for item in found]
    return dict(changed=False, objects=objects)


def main():
    argument_spec = common.hmc_argument_spec()
    argument_spec.update(
        cpc_name=dict(type="str", default=".*"),
        partition_name=dict(type="str"),
        lpar_name=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    common.fail_without_requests(module)
    common.warn_if_unverified(module)
    common.finish(module, "list partitions and LPARs", _find)


if __name__ == "__main__":
    main()
