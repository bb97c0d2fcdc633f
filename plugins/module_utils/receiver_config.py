# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The receiver's settings: defaults, and the constructor's arguments checked at the door.

``receiver_config()`` turns ``NotificationReceiver``'s arguments into one frozen
``ReceiverConfig`` or raises ValueError naming the argument; no I/O besides checking that a
CA file exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

from ansible_collections.zhmc.eda.plugins.module_utils import tls
from ansible_collections.zhmc.eda.plugins.module_utils.constants import (  # noqa: F401 # pylint: disable=unused-import
    DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES, DEFAULT_STOMP_PORT)
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import (
    DEFAULT_STOMP_RT_CONFIG, StompRetryTimeoutConfig, stomp_connection_kwargs)

MIN_MAX_FRAME_BYTES = 1024


@dataclass(frozen=True)
class LinkSettings:
    """What every connection of one receiver is opened with."""

    host: str
    port: int
    userid: str
    password: str
    use_tls: bool
    ca_certs: Optional[str]        # CA file or directory; None: TLS not verified
    stomp_kwargs: Dict[str, Any]   # for stomp.Connection (stomp_config.stomp_connection_kwargs)
    connect_timeout: float
    heartbeat_receive_cycle: float   # seconds the user wants to hear from the broker (0: off)
    heartbeat_receive_check: float
    max_frame_bytes: int

    @property
    def where(self) -> str:
        return "%s:%d" % (self.host, self.port)


@dataclass(frozen=True)
class ReceiverConfig:
    """Everything a receiver is built from, checked."""

    topic_names: List[str]
    link: LinkSettings
    rt_config: StompRetryTimeoutConfig   # merged over DEFAULT_STOMP_RT_CONFIG
    max_pending: int
    max_pending_bytes: int


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError("%s: expected an integer >= %d, got %r" % (name, minimum, value))
    return value


def receiver_config(topic_names: Union[str, Sequence[str], None], host: object,
                    userid: object, password: object, port: object,
                    stomp_rt_config: object, verify_cert: object, max_pending: object,
                    use_tls: object, max_pending_bytes: object,
                    max_frame_bytes: object) -> ReceiverConfig:
    """Check the constructor's arguments; ValueError names the first bad one.

    Topic names are checked one by one when they are subscribed.
    """
    if isinstance(topic_names, str):
        topic_names = [topic_names]
    if topic_names is None:
        topic_names = []
    if not isinstance(topic_names, (list, tuple)):
        raise ValueError("topic_names: expected a topic name or a list of them, got %s"
                         % type(topic_names).__name__)
    if not isinstance(host, str) or not host.strip():
        raise ValueError("host: expected a host name or IP address, got %r" % (host,))
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError("port: expected an integer from 1 to 65535, got %r" % (port,))
    if not isinstance(userid, str) or not userid:
        raise ValueError("userid: expected a non-empty string (HMC userid or session id)")
    if not isinstance(password, str) or not password:
        raise ValueError(
            "password: expected a non-empty string (HMC password or session credential)")
    items = _count("max_pending", max_pending, 1)
    pending_bytes = _count("max_pending_bytes", max_pending_bytes, 1)
    frame_bytes = _count("max_frame_bytes", max_frame_bytes, MIN_MAX_FRAME_BYTES)
    if stomp_rt_config is not None and not isinstance(stomp_rt_config, StompRetryTimeoutConfig):
        raise ValueError("stomp_rt_config: expected a StompRetryTimeoutConfig, got %s"
                         % type(stomp_rt_config).__name__)
    rt_config = DEFAULT_STOMP_RT_CONFIG.override_with(stomp_rt_config)
    link = LinkSettings(
        host=host.strip(), port=port, userid=userid, password=password,
        use_tls=bool(use_tls), ca_certs=tls.resolve_ca_certs(verify_cert),
        stomp_kwargs=stomp_connection_kwargs(rt_config),
        connect_timeout=float(rt_config.connect_timeout or 0),   # merged: always set
        heartbeat_receive_cycle=float(rt_config.heartbeat_receive_cycle or 0),
        heartbeat_receive_check=float(rt_config.heartbeat_receive_check or 0),
        max_frame_bytes=frame_bytes)
    return ReceiverConfig(topic_names=list(topic_names), link=link, rt_config=rt_config,
                          max_pending=items, max_pending_bytes=pending_bytes)
