# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The source's HMC Web Services API session: logon, re-logon, keep-alive, logoff.

The keeper owns the HMC client; every WS API call of the source goes through ``call()``.
The session's ``generation`` is the one signal that the session was renewed: it is bumped
by every logon, whether the keeper asked for it or the client logged on again by itself
inside a request (HTTP 403 reason 4/5). The keeper reports what it learns to its owner with
``report(signal)``; it never changes anyone else's state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple, Union

from ansible_collections.zhmc.eda.plugins.module_utils.aio import Clock, run_blocking
from ansible_collections.zhmc.eda.plugins.module_utils.errors import blank_secrets
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import (
    HMCAuthError, HMCClientError)
from ansible_collections.zhmc.eda.plugins.module_utils.pacing import RateLimitedLog
from ansible_collections.zhmc.eda.plugins.module_utils.source_errors import (
    SESSION_NOT_RENEWABLE, SourceAuthError)

LOG = logging.getLogger("zhmc.eda.source")


class HmcClientLike(Protocol):
    """What the source needs of hmc_client.HMCClient (tests hand in fakes)."""

    @property
    def host(self) -> Optional[str]: ...

    @property
    def session_id(self) -> Optional[str]: ...

    @property
    def session_credential(self) -> Optional[str]: ...

    @property
    def object_topic(self) -> Optional[str]: ...

    @property
    def job_topic(self) -> Optional[str]: ...

    @property
    def relogon_count(self) -> int: ...

    def logon(self, avoid: Optional[str] = None) -> Any: ...

    def logoff(self, force: bool = False) -> None: ...

    def get_notification_topics(self) -> List[dict]: ...

    def query_api_version(self) -> Dict[str, Any]: ...

    def list_cpcs(self, name: Optional[str] = None) -> List[dict]: ...

    def find_cpcs(self, name_regex: str) -> List[dict]: ...

    def get_properties(self, uri: str, properties: Optional[List[str]] = None) -> dict: ...

    def find_partitions(self, cpc_regex: str, name_regex: str) -> List[dict]: ...

    def find_os_objects(self, cpc_regex: str, partition_regex: Optional[str] = None,
                        lpar_regex: Optional[str] = None) -> List[dict]: ...

    def find_lpars(self, cpc_regex: str, name_regex: str) -> List[dict]: ...

    def open_os_message_channel(self, object_uri: str, include_refresh_messages: bool = True
                                ) -> Tuple[Optional[str], str]: ...

    def list_os_messages(self, object_uri: str, begin: Optional[int] = None,
                         end: Optional[int] = None) -> List[dict]: ...

    def query_job_status(self, job_uri: str) -> dict: ...


@dataclasses.dataclass(frozen=True)
class SessionRenewed:
    """A new session replaced the old one: topics and channels must be rebuilt."""

    generation: int


@dataclasses.dataclass(frozen=True)
class SessionExpired:
    """The session is gone; with a password the source logs on again."""

    reason: str


@dataclasses.dataclass(frozen=True)
class SessionFatal:
    """The session is gone and cannot be renewed: the source must stop."""

    error: Exception


SessionSignal = Union[SessionRenewed, SessionExpired, SessionFatal]


class SessionKeeper:
    """Owns one HMC client and the life of its session."""

    def __init__(self, client: HmcClientLike, *, can_renew: bool, call_timeout: float,
                 report: Callable[[SessionSignal], None],
                 secrets: Tuple[Optional[str], ...] = ()) -> None:
        self.client = client
        self.can_renew = can_renew
        self.call_timeout = call_timeout
        self.generation = 0
        self.hmc_name: Optional[str] = None  # the HMC's own name (Query API Version)
        self._report = report
        self._secrets = secrets
        self._relogons_seen = 0

    # ------------------------------------------------------------------ facts
    @property
    def host(self) -> Optional[str]:
        return self.client.host

    def logon_topics(self) -> Dict[str, Optional[str]]:
        """The object and job topics the last Logon returned."""
        return {"object": self.client.object_topic, "job": self.client.job_topic}

    def stomp_credentials(self) -> Optional[Tuple[str, str]]:
        """(session id, session credential) for the broker logon, when the session has them."""
        session_id, credential = self.client.session_id, self.client.session_credential
        return (session_id, credential) if session_id and credential else None

    def mask(self, text: object) -> str:
        """Text with every secret of this session (and the configured ones) blanked."""
        return blank_secrets(str(text), list(self._secrets) + [
            self.client.session_id, self.client.session_credential])

    # ------------------------------------------------------------------ calls
    async def call(self, func: Callable[..., Any], *args: Any,
                   timeout: Optional[float] = None, **kwargs: Any) -> Any:
        """Run one WS API call of the client in a thread; notice a re-logon inside it."""
        try:
            return await run_blocking(func, *args, timeout=timeout or self.call_timeout, **kwargs)
        finally:
            self._notice_relogon()

    def _notice_relogon(self) -> None:
        count = self.client.relogon_count
        if count != self._relogons_seen:
            self._relogons_seen = count
            self._new_generation("the HMC client logged on again")
            # whoever waits on this session learns it here; a caller that asked for the
            # renewal itself (renew()) knows already
            self._report(SessionRenewed(self.generation))

    def _new_generation(self, why: str) -> None:
        self.generation += 1
        LOG.info("HMC session generation %d (%s)", self.generation, why)

    # ------------------------------------------------------------------ life cycle
    async def open(self) -> List[dict]:
        """The first session: adopt the one handed in, or log on. Returns its topics."""
        if self.client.session_id:
            topics = await self.call(self.client.get_notification_topics)
            if self.generation == 0:
                self._new_generation("session handed in")
            await self._learn_name()
            return topics
        return await self.renew()

    async def _learn_name(self) -> None:
        """The name of the HMC in use (its OS message numbers are its own)."""
        try:
            version = await self.call(self.client.query_api_version)
            self.hmc_name = (version or {}).get("hmc-name") or self.client.host
        except (HMCClientError, asyncio.TimeoutError) as exc:
            LOG.debug("Query API Version: %s", self.mask(exc))
            self.hmc_name = self.client.host

    async def renew(self) -> List[dict]:
        """Log off what is left of the old session, log on anew. Returns the new topics."""
        if self.generation and not self.can_renew:
            raise SourceAuthError(SESSION_NOT_RENEWABLE)
        if self.client.session_id:
            await self._logoff_quietly(10.0)
        await self.call(self.client.logon)
        self._new_generation("logged on")
        await self._learn_name()
        return await self.call(self.client.get_notification_topics)

    @property
    def can_fail_over(self) -> bool:
        """True with several HMCs to log on to (and a password to log on with)."""
        return self.can_renew and len(getattr(self.client, "hosts", ())) > 1

    async def fail_over(self) -> List[dict]:
        """The HMC in use stopped answering: log on to another of the redundant HMCs (the
        old one last). Returns the new session's topics."""
        dead = self.client.host
        await self.call(self.client.logon, avoid=dead)
        self._new_generation("logged on to %s%s" % (
            self.client.host, " instead of %s" % dead if dead != self.client.host else ""))
        await self._learn_name()
        return await self.call(self.client.get_notification_topics)

    async def topics(self) -> Tuple[List[dict], bool]:
        """This session's topics, and whether the session was renewed while asking."""
        generation = self.generation
        try:
            topics = await self.call(self.client.get_notification_topics)
        except HMCAuthError:
            if not self.can_renew:
                raise SourceAuthError(SESSION_NOT_RENEWABLE) from None
            raise
        return topics, self.generation != generation

    async def close(self, timeout: float) -> None:
        """Log off our own session (a session handed in is left alone by the client)."""
        await self._logoff_quietly(timeout)

    async def _logoff_quietly(self, timeout: float) -> None:
        try:
            await run_blocking(self.client.logoff, timeout=timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            LOG.debug("log off of the old session: %s", self.mask(exc))

    # ------------------------------------------------------------------ keep-alive
    async def keep_alive(self, interval: float, clock: Clock) -> None:
        """Keep the session (and its topics) alive forever; report what goes wrong."""
        ratelog = RateLimitedLog(LOG)
        while True:
            await clock.sleep(interval)
            try:
                await self.call(self.client.get_notification_topics)
                ratelog.reset(("keepalive",))
            except HMCAuthError as exc:
                LOG.warning("HMC session check failed: %s", self.mask(exc))
                if self.can_renew:
                    self._report(SessionExpired("the HMC session expired"))
                else:
                    self._report(SessionFatal(SourceAuthError(SESSION_NOT_RENEWABLE)))
            except (HMCClientError, asyncio.TimeoutError, OSError) as exc:
                ratelog.log(logging.WARNING, ("keepalive",),
                            "HMC session keep-alive failed: %s", self.mask(exc))
            except Exception as exc:  # pylint: disable=broad-except
                # a surprise here must not end the keep-alive for good, nor the source
                ratelog.log(logging.ERROR, ("keepalive", type(exc).__name__),
                            "HMC session keep-alive failed unexpectedly: %s: %s",
                            type(exc).__name__, self.mask(exc))
