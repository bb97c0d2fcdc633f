# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Getting the stream up: at start (a few attempts, then fail) and after every loss (forever).

Both run the same steps, in this order, each skipped when it has nothing to do:

    CHECK_SESSION  is the HMC session still good? (it may have been renewed meanwhile)
    LOGON          log on (at start: or adopt the session handed in) / log on again
    REBUILD        the session's topics and OS message channels into the watch list
    CONNECT        a fresh STOMP connection for every topic of the watch list
    BACKFILL       the OS messages missed while the stream was down

A failed attempt starts over after a back-off from where it has to: the session check, or
the logon when the session is known to be gone. What is known across attempts lives in one
small ``_Needs`` record; nothing else is shared.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import re
from typing import Callable, Dict, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.aio import Clock
from ansible_collections.zhmc.eda.plugins.module_utils.catch_up import CatchUp
from ansible_collections.zhmc.eda.plugins.module_utils.channels import (
    Changes, ChannelOpener, publish_changes)
from ansible_collections.zhmc.eda.plugins.module_utils.directory import ObjectDirectory
from ansible_collections.zhmc.eda.plugins.module_utils.emitter import Emitter
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import (
    HMCAuthError, HMCConnectionError, HMCError)
from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (
    NotificationConnectionError, NotificationError, NotificationJMSError,
    NotificationLoginError)
from ansible_collections.zhmc.eda.plugins.module_utils.pacing import Backoff, RateLimitedLog
from ansible_collections.zhmc.eda.plugins.module_utils.pump import Pump
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.source_errors import (
    SESSION_NOT_RENEWABLE, SourceAuthError, SourceConfigError, SourceStartError)
from ansible_collections.zhmc.eda.plugins.module_utils.stream import Stream
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import OsObject, WatchList

LOG = logging.getLogger("zhmc.eda.source")

# A connection that lasted this long resets the reconnect back-off.
HEALTHY_CONNECTION_SECONDS = 10.0


class Step(enum.Enum):
    CHECK_SESSION = "check the HMC session"
    LOGON = "log on to the HMC Web Services API"
    REBUILD = "open the OS message channels"
    CONNECT = "connect to the STOMP broker"
    BACKFILL = "backfill OS messages"
    DONE = "done"


# Errors that another attempt may cure (the HMC or the broker is away for now).
TRANSIENT = (HMCConnectionError, NotificationConnectionError, NotificationJMSError,
             asyncio.TimeoutError)
# ... and, once running, also what an HMC or broker in trouble answers.
TRANSIENT_WHEN_RUNNING = TRANSIENT + (HMCError, NotificationError, OSError)


@dataclasses.dataclass(frozen=True)
class Loss:
    """Why the stream must be rebuilt."""

    reason: str
    relogon: bool = False  # the HMC session is known to be gone


@dataclasses.dataclass
class _Needs:
    """What the next attempt has to do, learned by earlier ones."""

    logon: bool = False
    fail_over: bool = False  # log on to another HMC: the one in use does not answer
    rebuild: bool = False
    topics: Optional[List[dict]] = None  # of the current session, when just read
    relogged: bool = False  # a new session came up during this recovery
    listed: Optional[Dict[str, OsObject]] = None  # what the rebuild listed, with statuses


@dataclasses.dataclass(frozen=True)
class BrokerLogon:
    """Where and how to log on to the broker when there is no HMC session (topics only)."""

    hosts: Tuple[str, ...]
    userid: str
    password: str


class Recovery:
    """Runs the steps above; owns the back-off and which generation the topics are for."""

    def __init__(self, *, keeper: Optional[SessionKeeper], opener: Optional[ChannelOpener],
                 watch: WatchList, stream: Stream, pump: Pump, emitter: Emitter,
                 broker_logon: BrokerLogon, backoff: Backoff, start_backoff: Backoff,
                 clock: Clock, mask: Callable[[object], str], lock: asyncio.Lock) -> None:
        self._keeper = keeper
        self._opener = opener
        self._watch = watch
        self._stream = stream
        self._pump = pump
        self._emitter = emitter
        self._broker = broker_logon
        self._host_index = 0
        self._backoff = backoff
        self._start_backoff = start_backoff
        self._clock = clock
        self._mask = mask
        self._lock = lock  # held during each attempt (not its back-off): control waits
        self._ratelog = RateLimitedLog(LOG)
        self.built_generation = 0  # the session generation the watch list's topics are for
        self.start_report = Changes()  # what the first rebuild found, told once connected
        self.start_listing: Optional[Dict[str, OsObject]] = None
        self.catch_up: Optional[CatchUp] = None  # resync and backfill once reconnected
        self.directory: Optional[ObjectDirectory] = None  # learns what each listing finds
        # told when a logon lands on another HMC (it numbers OS messages its own way)
        self.on_new_hmc: Optional[Callable[[str], None]] = None
        self.connected_at = 0.0

    # ------------------------------------------------------------------ facts
    @property
    def host(self) -> str:
        """The HMC (broker) the stream talks to, or is about to."""
        if self._keeper is not None and self._keeper.host:
            return self._keeper.host
        return self._broker.hosts[self._host_index % len(self._broker.hosts)]

    def _ws(self) -> Tuple[SessionKeeper, ChannelOpener]:
        """The WS API parts (only the steps of a source with an HMC session get here)."""
        if self._keeper is None or self._opener is None:
            raise RuntimeError("this step needs an HMC Web Services API session")
        return self._keeper, self._opener

    def needs_rebuild(self) -> bool:
        """True when the session was renewed after the topics were built."""
        return self._keeper is not None and self._keeper.generation > self.built_generation

    # ------------------------------------------------------------------ start
    async def start(self, attempts: Optional[int]) -> None:
        """First connect: each step tried ``attempts`` times (None: forever), then raise."""
        needs = _Needs(logon=self._keeper is not None)
        failures: Dict[Step, int] = {}
        step = self._first_step(needs)
        while step is not Step.DONE:
            try:
                async with self._lock:
                    step = await self._run(step, needs, initial=True)
            except NotificationLoginError as exc:
                raise SourceAuthError(self._mask(exc)) from None
            except TRANSIENT as exc:
                failures[step] = failures.get(step, 0) + 1
                attempt = failures[step]
                if attempts is not None and attempt >= attempts:
                    raise SourceStartError("could not %s after %d attempts: %s" % (
                        step.value, attempt, self._mask(exc) or type(exc).__name__)) from None
                delay = self._start_backoff.next_delay()
                reason = self._mask(exc) or type(exc).__name__
                LOG.warning("could not %s (attempt %d of %s): %s; retrying in %.1f s",
                            step.value, attempt, attempts or "unlimited", reason, delay)
                await self._emitter.status("waiting", step=step.value, attempt=attempt,
                                           reason=reason, retry_in=round(delay, 1))
                await self._clock.sleep(delay)
                step = self._first_step(needs) if step is not Step.CONNECT else Step.CONNECT

    # ------------------------------------------------------------------ recover
    async def recover(self, loss: Loss) -> None:
        """Rebuild the stream after ``loss``; returns only once events flow again."""
        kind = re.sub(r"[0-9.]+", "#", loss.reason)  # one log line per kind of loss
        self._ratelog.log(logging.WARNING, ("lost", kind),
                          "lost the notification stream: %s; recovering", loss.reason)
        await self._stream.close(timeout=2.0)
        await self._emitter.status("disconnected", reason=loss.reason)
        # A connection that failed soon after it was made keeps the back-off growing, so a
        # broker that accepts and then drops us (or an ERROR loop) is not hammered.
        healthy = self._clock.monotonic() - self.connected_at >= HEALTHY_CONNECTION_SECONDS
        if healthy:
            self._backoff.reset()
        needs = _Needs(logon=loss.relogon and self._keeper is not None)
        wait = not healthy
        while True:
            if wait:
                delay = self._backoff.next_delay()
                self._ratelog.log(logging.INFO, ("retry", kind), "reconnecting in %.1f s "
                                  "(attempt %d)", delay, self._backoff.attempt)
                await self._clock.sleep(delay)
            wait = True
            step = self._first_step(needs)
            try:
                async with self._lock:
                    while step is not Step.DONE:
                        step = await self._run(step, needs, initial=False)
            except (SourceAuthError, SourceConfigError):
                raise
            except TRANSIENT_WHEN_RUNNING as exc:
                text = self._mask(exc) or type(exc).__name__
                self._ratelog.log(logging.WARNING, ("reconnect", re.sub(r"[0-9.]+", "#", text)),
                                  "recovery attempt failed: %s", text)
                continue
            break
        self._ratelog.reset(("retry", kind))
        self._ratelog.log(logging.INFO, ("recovered", kind),
                          "recovered (%s): connected to %s:%s, %d topic(s)%s", loss.reason,
                          self.host, self._stream.port, len(self._watch),
                          ", new HMC session" if needs.relogged else "")
        if needs.relogged:
            await self._emitter.status("relogon", topics=self._watch.topic_names(),
                                       hmc=self.host)
        await self._emitter.status("reconnected", topics=self._watch.topic_names())
        if self.catch_up is not None:
            await self.catch_up.after_gap(needs.listed, initial=False)

    # ------------------------------------------------------------------ the steps
    def _first_step(self, needs: _Needs) -> Step:
        if self._keeper is None:
            return Step.CONNECT
        return Step.LOGON if needs.logon else Step.CHECK_SESSION

    async def _run(self, step: Step, needs: _Needs, initial: bool) -> Step:
        """Run one step; returns the next."""
        if step is Step.CHECK_SESSION:
            return await self._check_session(needs)
        if step is Step.LOGON:
            return await self._logon(needs, initial)
        if step is Step.REBUILD:
            return await self._rebuild(needs, initial)
        if step is Step.CONNECT:
            await self._connect(needs, initial)
            return Step.DONE
        raise AssertionError("no step %s" % step)

    async def _check_session(self, needs: _Needs) -> Step:
        keeper, _opener = self._ws()
        try:
            topics, renewed = await keeper.topics()
        except HMCAuthError:
            needs.logon = True
            return Step.LOGON
        except (HMCConnectionError, asyncio.TimeoutError) as exc:
            if keeper.can_fail_over:
                LOG.warning("HMC %s does not answer (%s); logging on to another HMC",
                            keeper.host, self._mask(exc))
                needs.logon = needs.fail_over = True
                return Step.LOGON
            # the broker may be back before the WS API: try the session we have
            self._ratelog.log(logging.WARNING, ("session check", type(exc).__name__),
                              "could not check the HMC session (%s); reconnecting with the "
                              "current one", self._mask(exc))
            return Step.REBUILD if needs.rebuild else Step.CONNECT
        needs.topics = topics
        if renewed or self.needs_rebuild():
            needs.relogged = True
            return Step.REBUILD
        known = {item.get("topic-name") for item in topics or []}
        missing = [s.topic for s in self._watch.channels() if s.topic not in known]
        if missing:
            # the session lives but forgot these channels (a partition that stopped?):
            # open them again in it
            LOG.warning("OS message channel topic(s) gone from the session: %s; opening the "
                        "channels again", ", ".join(missing))
            return Step.REBUILD
        return Step.REBUILD if needs.rebuild else Step.CONNECT

    async def _logon(self, needs: _Needs, initial: bool) -> Step:
        keeper, _opener = self._ws()
        hmc_before = keeper.hmc_name
        try:
            if initial:
                needs.topics = await keeper.open()
            elif needs.fail_over:
                needs.topics = await keeper.fail_over()
            else:
                needs.topics = await keeper.renew()
        except HMCAuthError:
            if not initial and not keeper.can_renew:
                raise SourceAuthError(SESSION_NOT_RENEWABLE) from None
            raise
        needs.logon = needs.fail_over = False
        needs.relogged = not initial
        if hmc_before is not None and keeper.hmc_name != hmc_before \
                and self.on_new_hmc is not None:
            self.on_new_hmc(keeper.hmc_name or "")
        return Step.REBUILD

    async def _rebuild(self, needs: _Needs, initial: bool) -> Step:
        keeper, opener = self._ws()
        generation = keeper.generation
        before = {sub.object_uri for sub in self._watch.channels()}
        before.update(obj.uri for obj, _why in self._watch.unavailable())
        report = self._watch.replace_session(needs.topics or [], keeper.logon_topics())
        for short in report.missing:
            LOG.warning("the HMC reported no %s topic for this session", short)
        for name in report.refused:
            LOG.warning("the HMC named a topic the broker would refuse; left out: %s", name)
        needs.rebuild = True  # until the channels are all open
        changes = await opener.reconcile_all(initial=initial)
        if self.directory is not None:
            self.directory.learn(changes.listed.values())
            if "object" in self._watch.topic_types:  # events about any partition or LPAR
                self.directory.learn(await opener.list_all())
        # Channels re-opened in a new session are no news; new ones and new troubles are.
        # At start the `connected` event lists the topics; the rest is told after it.
        changes.opened = [(o, t) for o, t in changes.opened
                          if o.uri not in before and not initial]
        changes.unavailable = [(o, r) for o, r in changes.unavailable if o.uri not in before]
        needs.listed = changes.listed
        if initial:
            self.start_report = changes
            self.start_listing = changes.listed
        else:
            await publish_changes(changes, self._watch, None, self._emitter.status)
        needs.rebuild = False
        self.built_generation = generation
        return Step.CONNECT

    async def _connect(self, needs: _Needs, initial: bool) -> None:
        if initial and not len(self._watch):
            raise SourceConfigError(
                "nothing to subscribe to: the HMC returned no topics for topic_types %s, no "
                "os_message_channels matched, and no topics were given"
                % (list(self._watch.topic_types),))
        keeper = self._keeper
        credentials = keeper.stomp_credentials() if keeper is not None else None
        userid, password = credentials or (self._broker.userid, self._broker.password)
        try:
            await self._stream.connect(self.host, userid, password, self._watch.topic_names())
        except NotificationLoginError:
            if initial:
                raise  # wrong credentials at start: fail now
            if keeper is None:
                raise  # a broker coming back may refuse logins for a moment: retry
            if not keeper.can_renew:
                raise SourceAuthError(SESSION_NOT_RENEWABLE) from None
            needs.logon = True  # the broker no longer takes the session: a new one
            raise
        except (NotificationConnectionError, asyncio.TimeoutError):
            if keeper is None:
                self._host_index += 1  # topics only: the next redundant host next time
            raise
        self._pump.new_connection()
        self.connected_at = self._clock.monotonic()
