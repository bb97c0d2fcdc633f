"""ibm.ibm_zhmc's view of module options, for the session interoperability tests."""
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

# ibm.ibm_zhmc's hmc_auth argument spec exactly as published: zhmcclient/zhmc-ansible-modules,
# plugins/module_utils/common.py, hmc_auth_parameter(), at commit
# 852c3f7e5e5bc3ff1218c847d6cc68b0603b1fda (the file's last change there is
# 7be7affba1216a28569c85fadb3d870785dffcdf, in releases 1.11.0 and 1.11.1; the spec is unchanged
# since 13c79982, May 2023). Every ibm.ibm_zhmc module uses it, zhmc_session included, with
# hmc_host=dict(required=True, type='raw').
IBM_ZHMC_HMC_AUTH = dict(
    required=True,
    type='dict',
    options=dict(
        userid=dict(required=False, type='str', default=None),
        password=dict(required=False, type='str', default=None, no_log=True),
        session_id=dict(required=False, type='str', default=None, no_log=True),
        ca_certs=dict(required=False, type='str', default=None),
        verify=dict(required=False, type='bool', default=True),
    ),
)
IBM_ZHMC_SPEC = dict(hmc_host=dict(required=True, type='raw'), hmc_auth=IBM_ZHMC_HMC_AUTH)


def ibm_zhmc_errors(params):
    """What ibm.ibm_zhmc's argument spec says about `params` (empty: accepted)."""
    return ArgumentSpecValidator(IBM_ZHMC_SPEC).validate(params).error_messages


def ibm_zhmc_session_result(session_id, ca_certs):
    """The hmc_auth that ibm.ibm_zhmc's zhmc_session returns for action=create
    (plugins/modules/zhmc_session.py, perform_action(), same commit): exactly these keys."""
    return {"session_id": session_id, "verify": True, "ca_certs": ca_certs}
