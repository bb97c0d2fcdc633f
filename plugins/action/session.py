# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin of zhmc.eda.session: run the module, keep its result out of the output.

The result carries a new session id and session credential, which no no_log option covers
(they did not exist when the task started). Marking such a result no_log hides it in
every callback while the registered variable still holds it, so users need no `no_log: true`.
Failures and log-off results stay visible: they never contain secrets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no longer has any effect
        result.update(self._execute_module(module_name="zhmc.eda.session",
                                           module_args=self._task.args,
                                           task_vars=task_vars))
        if "hmc_auth" in result:  # only a logon result carries the session's secrets
            result["_ansible_no_log"] = True
        return result
