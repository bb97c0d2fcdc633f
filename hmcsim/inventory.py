"""The HMC's managed objects and the list operations over them (with the WS API's filters).

Filters follow the HMC: string properties are regular expressions that must match the
whole value (Python `re.fullmatch`, close to Java's `matches()`), enum and boolean
properties match exactly, a repeated parameter means OR. An unknown query parameter is
400 reason 1, an invalid value 400 reason 14 (common request validation reason codes).
"""
from __future__ import annotations

import re
from typing import Any

from hmcsim.jobs import HmcError
from hmcsim.resources import CPC, LIST_PROPERTIES, LPAR, PARTITION, PERMITTED_PROPERTIES, Resource

Query = dict[str, list[str]]

# Query parameters per list operation: name -> how it matches ("regex", "exact", "bool", "cpc").
_FILTERS = {
    "cpcs": {"name": "regex"},
    PARTITION: {"name": "regex", "status": "exact", "type": "exact"},
    LPAR: {"name": "regex"},
    "permitted-" + PARTITION: {"name": "regex", "type": "exact", "status": "exact",
                               "has-unacceptable-status": "bool", "cpc-name": "cpc"},
    "permitted-" + LPAR: {"name": "regex", "activation-mode": "exact", "status": "exact",
                          "has-unacceptable-status": "bool", "cpc-name": "cpc"},
}
_ADDITIONAL = {PARTITION, "permitted-" + PARTITION, "permitted-" + LPAR}


def _regex_match(patterns: list[str], value: str) -> bool:
    for pattern in patterns:
        try:
            if re.fullmatch(pattern, value or ""):
                return True
        except re.error as exc:
            raise HmcError(400, 14, "The filter value %r is not a valid regular expression: %s"
                           % (pattern, exc)) from None
    return False


def _matches(how: str, patterns: list[str], value: Any) -> bool:
    if how in ("regex", "cpc"):
        return _regex_match(patterns, value)
    if how == "bool":
        for pattern in patterns:
            if pattern not in ("true", "false"):
                raise HmcError(400, 14, "The filter value %r must be true or false." % pattern[:40])
        return ("true" if value else "false") in patterns
    return value in patterns


def _split_query(operation: str, query: Query) -> tuple[dict[str, list[str]], list[str]]:
    """(filters, additional property names); 400.1 for a parameter the operation does not know."""
    allowed = set(_FILTERS[operation]) | ({"additional-properties"} if operation in _ADDITIONAL else set())
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise HmcError(400, 1, "Unrecognized or unsupported query parameters: %s" % ", ".join(unknown))
    extra = [p for v in query.get("additional-properties", []) for p in v.split(",") if p]
    return {k: v for k, v in query.items() if k != "additional-properties"}, extra


def _selected(res: Resource, operation: str, filters: dict[str, list[str]]) -> bool:
    props = None
    for key, patterns in filters.items():
        how = _FILTERS[operation][key]
        if how == "cpc":
            value: Any = res.parent.name if res.parent else ""
        elif key == "name":
            value = res.name
        else:
            props = props or res.properties()
            value = props.get(key)
        if not _matches(how, patterns, value):
            return False
    return True


class Inventory:
    """CPCs with their partitions or LPARs, indexed by name and by URI."""

    def __init__(self, cpc_configs: list[dict[str, Any]]) -> None:
        self.cpcs: dict[str, Resource] = {}
        self.by_uri: dict[str, Resource] = {}
        self.incarnations: dict[tuple[str, str], int] = {}   # (cpc, name) -> how often created
        for cpc_cfg in cpc_configs:
            cpc = Resource(CPC, cpc_cfg["name"], status="active" if cpc_cfg["dpm"] else "operating")
            cpc.dpm = cpc_cfg["dpm"]
            self.cpcs[cpc.name] = cpc
            self.by_uri[cpc.uri] = cpc
            for child_cfg in cpc_cfg["partitions" if cpc.dpm else "lpars"]:
                self.add(cpc, child_cfg)

    def add(self, cpc: Resource, child_cfg: dict[str, Any]) -> Resource:
        key = (cpc.name, child_cfg["name"])
        incarnation = self.incarnations.get(key, -1) + 1
        self.incarnations[key] = incarnation
        child = Resource(PARTITION if cpc.dpm else LPAR, child_cfg["name"], parent=cpc,
                         status=child_cfg["status"], os_type=child_cfg["os_type"],
                         os_messages=child_cfg["os_messages"], incarnation=incarnation)
        cpc.children[child.name] = child
        self.by_uri[child.uri] = child
        return child

    def remove(self, child: Resource) -> None:
        if child.parent is not None:
            child.parent.children.pop(child.name, None)
        self.by_uri.pop(child.uri, None)

    def find(self, cpc_name: str, name: str | None = None) -> Resource:
        """The CPC (name None) or its partition/LPAR by name; KeyError if absent."""
        cpc = self.cpcs.get(cpc_name)
        if cpc is None:
            raise KeyError("no CPC named %r" % (cpc_name,))
        if name is None:
            return cpc
        child = cpc.children.get(name)
        if child is None:
            raise KeyError("CPC %r has no partition or LPAR named %r" % (cpc_name, name))
        return child

    def resource(self, uri: str, kind: str | None = None) -> Resource:
        res = self.by_uri.get(uri)
        if res is None or (kind is not None and res.kind != kind):
            raise HmcError(404, 1, "The object designated by the request URI does not exist.")
        return res

    # ------------------------------------------------------------- list operations
    def list_cpcs(self, query: Query) -> list[dict[str, Any]]:
        filters = _split_query("cpcs", query)[0]
        return [c.list_item(LIST_PROPERTIES[CPC]) for c in self.cpcs.values() if _selected(c, "cpcs", filters)]

    def list_children(self, cpc: Resource, kind: str, query: Query) -> list[dict[str, Any]]:
        """List Partitions / Logical Partitions of CPC (empty on a CPC in the other mode)."""
        filters, extra = _split_query(kind, query)
        return [c.list_item(LIST_PROPERTIES[kind], extra) for c in cpc.children.values()
                if c.kind == kind and _selected(c, kind, filters)]

    def list_permitted(self, kind: str, query: Query) -> list[dict[str, Any]]:
        """List Permitted Partitions / Logical Partitions over every CPC in the right mode."""
        operation = "permitted-" + kind
        filters, extra = _split_query(operation, query)
        out = []
        for cpc in self.cpcs.values():
            for child in cpc.children.values():
                if child.kind == kind and _selected(child, operation, filters):
                    item = child.list_item(PERMITTED_PROPERTIES[kind], extra)
                    item.update({"cpc-name": cpc.name, "cpc-object-uri": cpc.uri,
                                 "se-version": cpc.properties()["se-version"]})
                    out.append(item)
        return out
