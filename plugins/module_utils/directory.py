# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Which CPC each partition and LPAR belongs to, so that events can say it.

A notification about a partition or LPAR names the object (URI, class, name) but not its
CPC, and the modules users run in their reactions (ibm.ibm_zhmc's among them) need the CPC
name. The directory learns objects from every listing the source makes and from the
channels it opens; an object it does not know yet (created a moment ago) is looked up once
(Get Properties: its parent, then the CPC's name), within a short budget.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Dict, Iterable, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClientError, HMCError
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import OS_OBJECT_CLASSES, OsObject

LOG = logging.getLogger("zhmc.eda.source")

CPC_CLASS = "cpc"
# Seconds a look-up of an unknown object may hold up its event.
LOOKUP_BUDGET = 5.0


class ObjectDirectory:
    """Partition/LPAR URI -> its object (name, class, CPC); CPC URI -> CPC name."""

    def __init__(self, keeper: Optional[SessionKeeper]) -> None:
        self._keeper = keeper
        self._objects: Dict[str, OsObject] = {}
        self._cpcs: Dict[str, Optional[str]] = {}

    def __len__(self) -> int:
        return len(self._objects)

    def learn(self, objects: Iterable[OsObject]) -> None:
        for obj in objects:
            self._objects[obj.uri] = obj
            if obj.cpc_uri:
                self._cpcs[obj.cpc_uri] = obj.cpc_name

    def forget(self, uri: str) -> None:
        self._objects.pop(uri, None)

    def get(self, uri: str) -> Optional[OsObject]:
        return self._objects.get(uri)

    # ------------------------------------------------------------------ events
    def cpc_of(self, event: dict) -> Optional[Tuple[Optional[str], Optional[str]]]:
        """(CPC name, CPC URI) of the object an event is about; None when unknown."""
        obj = (event.get("hmc") or {}).get("object") or {}
        uri, cls = obj.get("uri"), obj.get("class")
        if cls == CPC_CLASS:
            return obj.get("name"), uri
        known = self._objects.get(uri) if isinstance(uri, str) else None
        return (known.cpc_name, known.cpc_uri) if known is not None else None

    async def enrich(self, event: dict) -> None:
        """Add ``cpc_name`` and ``cpc_uri`` to the event's ``hmc.object`` (looked up when the
        object is a partition or LPAR the directory does not know yet)."""
        obj = (event.get("hmc") or {}).get("object")
        if not isinstance(obj, dict) or not obj.get("uri"):
            return
        cpc = self.cpc_of(event)
        if cpc is None and obj.get("class") in OS_OBJECT_CLASSES and self._keeper is not None:
            known = await self._look_up(obj["uri"])
            cpc = (known.cpc_name, known.cpc_uri) if known is not None else None
        if cpc is not None:
            obj["cpc_name"], obj["cpc_uri"] = cpc

    async def _look_up(self, uri: str) -> Optional[OsObject]:
        try:
            return await self.resolve(uri, timeout=LOOKUP_BUDGET)
        except (HMCClientError, asyncio.TimeoutError, OSError) as exc:
            mask = self._keeper.mask if self._keeper is not None else str
            LOG.warning("could not find the CPC of %s: %s", uri, mask(exc))
            return None

    async def resolve(self, uri: str, status: Optional[str] = None,
                      timeout: Optional[float] = None) -> Optional[OsObject]:
        """The object behind a URI: known, or asked of the HMC (None: it is gone)."""
        known = self._objects.get(uri)
        if known is not None:
            return known.with_status(status) if status is not None else known
        keeper = self._keeper
        if keeper is None:
            return None
        try:
            props = await keeper.call(keeper.client.get_properties, uri,
                                      ["name", "status", "parent", "class"], timeout=timeout)
        except HMCError as exc:
            if exc.http_status == 404:
                return None  # gone again already
            raise
        cpc_uri = props.get("parent")
        obj = OsObject(uri=uri, name=props.get("name"), cls=props.get("class") or "object",
                       cpc_name=await self._cpc_name(cpc_uri, timeout), cpc_uri=cpc_uri,
                       status=status or props.get("status"))
        self.learn([obj])
        return obj

    async def _cpc_name(self, cpc_uri: Optional[str], timeout: Optional[float]) -> Optional[str]:
        if not cpc_uri:
            return None
        if cpc_uri not in self._cpcs and self._keeper is not None:
            for cpc in await self._keeper.call(self._keeper.client.list_cpcs, timeout=timeout):
                self._cpcs[cpc["object-uri"]] = cpc.get("name")
        return self._cpcs.get(cpc_uri)
