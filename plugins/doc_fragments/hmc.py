# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Shared option documentation of the zhmc.eda modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # hmc_host and hmc_auth, as in ibm.ibm_zhmc (plus hmc_auth.session_credential, accepted).
    DOCUMENTATION = r"""
options:
  hmc_host:
    description:
      - The HMC to talk to, as a host name or IP address, or a list of them (redundant HMCs;
        the first one that answers is used). A string that looks like a list is accepted too.
      - An entry may carry the Web Services API port as C(host:port) (C([v6addr]:port) for
        IPv6); all entries must use the same port. The default port is 6794.
      - An entry is a DNS name, an IPv4 address or an IPv6 address (bare or in brackets), with
        no user name, path, URL, blank or control character; anything else is refused.
      - Pass the C(hmc_host) returned by M(zhmc.eda.session) to reach the same HMC.
    type: raw
    required: true
  hmc_auth:
    description:
      - How to authenticate with the HMC, the same way as the ibm.ibm_zhmc modules.
      - Either O(hmc_auth.session_id) (reuse an existing session, which the module leaves
        open), or O(hmc_auth.userid) and O(hmc_auth.password) (the module logs on and logs
        off at its end).
      - The C(hmc_auth) returned by M(zhmc.eda.session) or by C(ibm.ibm_zhmc.zhmc_session)
        can be passed as it is; the one of M(zhmc.eda.session) also works in ibm.ibm_zhmc
        modules.
    type: dict
    required: true
    suboptions:
      userid:
        description:
          - The userid on the HMC. Required when O(hmc_auth.session_id) is not given.
        type: str
      password:
        description:
          - The password of O(hmc_auth.userid). Required when O(hmc_auth.session_id) is not
            given; not allowed together with it.
        type: str
      session_id:
        description:
          - The id of an existing HMC session to reuse, for example
            C(session.hmc_auth.session_id) from M(zhmc.eda.session). The session is not
            logged off at the end of the module.
        type: str
      session_credential:
        description:
          - The session credential of O(hmc_auth.session_id), which the HMC's STOMP broker
            takes as the password. Not used by the Web Services API calls; accepted so that
            an C(hmc_auth) written for the C(zhmc.eda.notifications) source can be passed on
            unchanged. (ibm.ibm_zhmc modules do not accept it.)
        type: str
      ca_certs:
        description:
          - Path of a CA certificate file or directory that verifies the HMC's certificate.
          - Default is the CA bundle of C(REQUESTS_CA_BUNDLE), C(CURL_CA_BUNDLE), or the one
            C(requests) uses (certifi).
        type: str
      verify:
        description:
          - Verify the HMC's certificate. Switch it off only for tests; the module then gives a
            warning. Null counts as true.
        type: bool
        default: true
"""

    # The control socket of a running zhmc.eda.notifications source.
    CONTROL_SOCKET = r"""
options:
  control_socket:
    description:
      - Path of the control socket of a running C(zhmc.eda.notifications) event source (its
        C(control_socket) option). Requests go to that source, which performs them in its
        own HMC session and updates its own subscriptions.
      - The socket is only usable by the user that runs the source (mode 0600), and the
        module only talks to a source that runs as its own user (it refuses, before sending
        anything, a socket that another user serves).
      - Works with the ansible-rulebook command line, where C(run_playbook) runs next to the
        source. In EDA controller activations nothing outside the activation's container
        (job templates included) can reach the socket.
      - When no source listens on the path, the module fails with a message naming it.
    type: path
"""

    # The partition or LPAR a module acts on (module_common.target_spec()).
    TARGET = r"""
options:
  cpc_name:
    description:
      - The name of the CPC.
    type: str
    required: true
  partition_name:
    description:
      - The name of the partition (CPC in DPM mode). Mutually exclusive with O(lpar_name).
    type: str
  lpar_name:
    description:
      - The name of the LPAR (classic CPC). Mutually exclusive with O(partition_name).
    type: str
"""

    # Every zhmc.eda module supports check mode and no diff mode; a module adds check_mode.details.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""
