# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The errors that end the source (ansible-rulebook then exits 1 with their message)."""

from __future__ import annotations

from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError


class SourceConfigError(ValueError):
    """The source's configuration does not work with this HMC (found while starting)."""


class SourceAuthError(ZhmcEdaError):
    """Authentication failed and cannot be recovered (no password to log on again)."""


class SourceStartError(ZhmcEdaError):
    """The source could not start: HMC or broker unreachable after the start-up retries."""


SESSION_NOT_RENEWABLE = (
    "the HMC session given in hmc_auth.session_id is no longer valid and cannot be renewed "
    "without hmc_auth.password")
