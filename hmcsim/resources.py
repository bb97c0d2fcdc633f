"""Managed objects: CPCs, DPM partitions and classic LPARs, with the properties clients read.

One owner per fact: which statuses exist, which properties are (sc) (reported only in
status-change notifications), when an OS has a running messages interface, and what the
WS API returns for an object (`properties()`) or in a list (`LIST_PROPERTIES`).
"""
from __future__ import annotations

import uuid
from typing import Any

UUID_NAMESPACE = uuid.UUID("5c1f7a0e-7d0e-4b59-9c41-6a8e2d4f0b11")

CPC = "cpc"
PARTITION = "partition"
LPAR = "logical-partition"

PARTITION_STATUSES = (
    "communications-not-active", "status-check", "stopped", "terminated", "starting",
    "active", "stopping", "degraded", "reservation-error", "paused",
)
# The IBM data model lists the first four; "acceptable" stays accepted for older configs.
LPAR_STATUSES = ("operating", "not-operating", "not-activated", "exceptions", "acceptable")
CPC_STATUSES = ("active", "operating", "not-operating", "no-power", "service", "service-required",
                "exceptions", "degraded", "status-check", "communications-not-active")
STATUSES = {PARTITION: PARTITION_STATUSES, LPAR: LPAR_STATUSES, CPC: CPC_STATUSES}

# (sc) properties: the HMC reports them only in status-change notifications, never in
# property-change (IBM data model qualifiers; see docs/hmcsim.md).
STATUS_PROPERTIES = frozenset({"status", "additional-status", "has-unacceptable-status"})

# Statuses in which an operating system runs and its messages interface is available.
OS_RUNNING = {PARTITION: frozenset({"active", "degraded"}), LPAR: frozenset({"operating", "exceptions"})}

# What a list operation returns per item (zhmcclient's mock and docs).
LIST_PROPERTIES = {
    CPC: ("object-uri", "name", "status", "has-unacceptable-status", "dpm-enabled", "se-version"),
    PARTITION: ("object-uri", "name", "status", "type"),
    LPAR: ("object-uri", "name", "status"),
}
PERMITTED_PROPERTIES = {
    PARTITION: ("name", "object-uri", "type", "status", "has-unacceptable-status"),
    LPAR: ("name", "object-uri", "activation-mode", "status", "has-unacceptable-status"),
}

_PARTITION_TYPES = {"Linux": "linux", "SSC": "ssc", "z/VM": "zvm"}
_ACTIVATION_MODES = {"z/OS": "esa390", "CF": "coupling-facility", "Linux": "linux", "z/VM": "zvm",
                     "SSC": "ssc"}
_ACCEPTABLE = {PARTITION: ("active",), LPAR: ("operating",), CPC: ("active", "operating")}


def stable_id(*parts: str) -> str:
    """An object ID that is the same for the same names (across restarts and twin HMCs)."""
    return str(uuid.uuid5(UUID_NAMESPACE, "/".join(parts)))


class Resource:
    """A CPC, a DPM partition or a classic LPAR."""

    def __init__(self, kind: str, name: str, parent: Resource | None = None, status: str = "active",
                 os_type: str | None = None, os_messages: bool = False, incarnation: int = 0) -> None:
        self.kind = kind
        self.name = name
        self.parent = parent
        # A partition created again under an old name is a new object with a new ID.
        suffix = ("#%d" % incarnation,) if incarnation else ()
        self.oid = stable_id(kind, parent.name if parent else "", name, *suffix)
        base = {CPC: "/api/cpcs/", PARTITION: "/api/partitions/", LPAR: "/api/logical-partitions/"}[kind]
        self.uri = base + self.oid
        self.status = status
        self.additional_status = ""
        self.os_type = os_type
        self.os_messages_supported = os_messages
        self.os_messages: list[dict[str, Any]] = []     # the SE's buffer; survives restart()
        self.next_os_seq = 0
        self.dpm: bool | None = None                     # CPCs only
        self.children: dict[str, Resource] = {}          # CPCs only: name -> partition/LPAR
        self.pc_properties: dict[str, Any] = {"description": "hmcsim %s %s" % (kind, name)}

    @property
    def has_unacceptable_status(self) -> bool:
        return self.status not in _ACCEPTABLE[self.kind]

    @property
    def os_running(self) -> bool:
        return self.status in OS_RUNNING.get(self.kind, ())

    def properties(self) -> dict[str, Any]:
        """The full property set (Get ... Properties)."""
        props: dict[str, Any] = {
            "object-uri": self.uri,
            "object-id": self.oid,
            "class": self.kind,
            "name": self.name,
            "status": self.status,
            "has-unacceptable-status": self.has_unacceptable_status,
            "acceptable-status": list(_ACCEPTABLE[self.kind]),
            "additional-status": self.additional_status,
        }
        props.update(getattr(self, "_%s_properties" % self.kind.replace("-", "_"))())
        props.update(self.pc_properties)
        return props

    def _cpc_properties(self) -> dict[str, Any]:
        serial = "0000000" + self.oid[:5].upper()
        return {
            "parent": "/api/console",
            "dpm-enabled": self.dpm,
            "iml-mode": "dpm" if self.dpm else "lpar",
            "se-version": "2.16.0",
            "machine-type": "3931",
            "machine-model": "A01",
            "machine-serial-number": serial,
            "cpc-serial-number": serial,
            "is-locked": False,
            "processor-count-general-purpose": 20,
            "processor-count-ifl": 40,
        }

    def _os_properties(self) -> dict[str, Any]:
        running = self.os_running
        return {
            "parent": self.parent.uri if self.parent else None,
            "os-type": self.os_type if running else "",
            "os-name": self.name if running else "",
            "os-version": "",
        }

    def _partition_properties(self) -> dict[str, Any]:
        props = self._os_properties()
        props.update({
            "type": _PARTITION_TYPES.get(self.os_type or "", "linux"),
            "short-name": self.name[:8].upper(),
            "partition-id": None,
            "autogenerate-partition-id": True,
            "processor-mode": "shared",
            "ifl-processors": 2,
            "cp-processors": 0,
            "initial-ifl-processing-weight": 100,
            "initial-cp-processing-weight": 100,
            "initial-memory": 8192,
            "maximum-memory": 8192,
            "reserve-resources": False,
            "boot-device": "storage-volume",
        })
        return props

    def _logical_partition_properties(self) -> dict[str, Any]:
        props = self._os_properties()
        props.update({
            # "not-set" while not activated (zhmcclient: look at the image profile then).
            "activation-mode": "not-set" if self.status == "not-activated" else self.operating_mode,
            "os-level": "",
            "sysplex-name": None,
            "workload-manager-enabled": self.os_type == "z/OS",
            "next-activation-profile-name": self.name,
            "last-used-activation-profile": self.name,
            "partition-number": None,
        })
        return props

    @property
    def operating_mode(self) -> str:
        return _ACTIVATION_MODES.get(self.os_type or "", "esa390")

    def image_profile(self) -> dict[str, Any]:
        """The LPAR's image activation profile (same name): an activation loads its OS."""
        cpc_uri = self.parent.uri if self.parent else ""
        return {"name": self.name, "element-uri": "%s/image-activation-profiles/%s" % (cpc_uri, self.name),
                "parent": cpc_uri, "class": "image-activation-profile",
                "description": "hmcsim image profile %s" % self.name, "operating-mode": self.operating_mode,
                "load-at-activation": True}

    def list_item(self, keys: tuple[str, ...], extra: list[str] | None = None) -> dict[str, Any]:
        """The properties a list operation returns (plus any additional-properties asked for)."""
        props = self.properties()
        item = {k: props.get(k) for k in keys}
        for name in extra or ():
            if name in props:
                item[name] = props[name]
        return item
