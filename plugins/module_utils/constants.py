# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Facts about the HMC and defaults that more than one part of the collection needs.

Each is defined here once; the parts import it (no I/O, standard library only).
"""

from __future__ import annotations

from typing import Dict, Tuple

# The HMC's Web Services API (HTTPS) and its message broker (STOMP over TLS).
DEFAULT_WS_PORT = 6794
DEFAULT_STOMP_PORT = 61612

# Notifications, and bytes (as received plus what holding each takes: handover.py), held
# between the broker connection and the consumer before the receiver pushes back on the
# broker. The bytes bound keeps an EDA activation (200 MB for ansible-rulebook, its JVM and
# the source) out of the OOM killer, and the source's peak within a few MB of a source that
# holds nothing (benchmarks/bench_memory.py: 8 MiB counted as received held 15 MB).
DEFAULT_MAX_PENDING = 100000
DEFAULT_MAX_PENDING_BYTES = 4 * 1024 * 1024
# Largest STOMP frame accepted. HMC notifications are a few KB (an OS-message batch or a
# property change of a big object some hundred KB at most); 4 MiB leaves ten times that
# and more, while what stomp.py buffers for one frame (about three copies) stays near
# 12 MiB, far inside an activation's memory.
DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024

# The HMC's notification types (the ``notification-type`` header).
NOTIFICATION_TYPES: Tuple[str, ...] = (
    "os-message",
    "job-completion",
    "status-change",
    "property-change",
    "inventory-change",
    "log-entry",
    "console-shutting-down",
)

# The source's topic_types option values -> the HMC's topic types (Get Notification Topics).
TOPIC_TYPE_NAMES: Dict[str, str] = {
    "object": "object-notification",
    "job": "job-notification",
    "audit": "audit-notification",
    "security": "security-notification",
}
OS_TOPIC_TYPE = "os-message-notification"

# How option values given as text (templated, from environment variables) spell booleans.
BOOL_STRINGS: Dict[str, bool] = {
    "true": True, "yes": True, "on": True,
    "false": False, "no": False, "off": False,
}
