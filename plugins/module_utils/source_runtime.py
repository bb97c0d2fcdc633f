# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The `zhmc.eda.notifications` source at run time: its parts, wired, and its main loop.

``run_source(queue, options)`` builds one ``Source`` from the validated options and runs it
until it is cancelled. The parts, each with one job (see docs/architecture.md):

- ``SessionKeeper``   the HMC Web Services API session (logon, re-logon, keep-alive);
- ``WatchList``       what the source watches: topics, OS message channel specs;
- ``ChannelOpener``   opens the channels the specs select;
- ``Stream``          the STOMP receiver of the moment;
- ``Pump``            received notifications -> filtered, deduplicated events;
- ``Emitter``         events -> the rulebook's queue, one dict per put;
- ``Recovery``        the steps that bring the stream up, at start and after every loss;
- ``WatchCommands``   what control requests may change (served by source_control).

This module owns only the loop that feeds the pump and turns what the parts report (a lost
connection, an ERROR frame, a renewed or expired session) into recoveries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Callable, List, Optional

from ansible_collections.zhmc.eda.plugins.module_utils import events as events_mod
from ansible_collections.zhmc.eda.plugins.module_utils.aio import (
    SYSTEM_CLOCK, Clock, run_blocking, within)
from ansible_collections.zhmc.eda.plugins.module_utils.catch_up import CatchUp
from ansible_collections.zhmc.eda.plugins.module_utils.channels import (
    ChannelOpener, publish_changes)
from ansible_collections.zhmc.eda.plugins.module_utils.control import ControlServer
from ansible_collections.zhmc.eda.plugins.module_utils.directory import ObjectDirectory
from ansible_collections.zhmc.eda.plugins.module_utils.emitter import Emitter, QueueLike
from ansible_collections.zhmc.eda.plugins.module_utils.errors import blank_secrets
from ansible_collections.zhmc.eda.plugins.module_utils.follower import Follower
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClient
from ansible_collections.zhmc.eda.plugins.module_utils.job_status import JobStatusLookup
from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (
    NotificationError, NotificationJMSError)
from ansible_collections.zhmc.eda.plugins.module_utils.pacing import Backoff
from ansible_collections.zhmc.eda.plugins.module_utils.parallel_calls import ParallelCalls
from ansible_collections.zhmc.eda.plugins.module_utils.pump import Pump
from ansible_collections.zhmc.eda.plugins.module_utils.receiver import NotificationReceiver
from ansible_collections.zhmc.eda.plugins.module_utils.recovery import BrokerLogon, Loss, Recovery
from ansible_collections.zhmc.eda.plugins.module_utils.resume import Resume, selector_of
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import (
    HmcClientLike, SessionExpired, SessionFatal, SessionKeeper, SessionRenewed, SessionSignal)
from ansible_collections.zhmc.eda.plugins.module_utils.source_control import ControlHandler
from ansible_collections.zhmc.eda.plugins.module_utils.source_options import SourceOptions
from ansible_collections.zhmc.eda.plugins.module_utils.stream import (
    ReceiverFactory, Stream, StreamSettings)
from ansible_collections.zhmc.eda.plugins.module_utils.watch_commands import WatchCommands
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import (
    EXPLICIT, ChannelSpec, WatchList)

LOG = logging.getLogger("zhmc.eda.source")

# How many received notifications one loop iteration takes from the receiver.
BATCH_SIZE = 500
# Total time budget for clean-up on cancellation (design target: shutdown <= 2 s).
SHUTDOWN_BUDGET = 1.8
# Bound of one HMC Web Services API call made from the loop (it runs in a daemon thread).
WS_CALL_TIMEOUT = 90.0
# HTTPS connections kept beyond parallel_hmc_calls: the keep-alive and job status look-ups.
SPARE_CONNECTIONS = 2


@dataclasses.dataclass(frozen=True)
class Dependencies:
    """What the source builds its parts from; tests hand in fakes."""

    hmc_client_factory: Callable[..., HmcClientLike] = HMCClient
    receiver_factory: ReceiverFactory = NotificationReceiver
    clock: Clock = SYSTEM_CLOCK


async def run_source(queue: QueueLike, options: SourceOptions,
                     on_started: Optional[Callable[[], None]] = None,
                     deps: Optional[Dependencies] = None) -> None:
    """Run the source until cancelled; raises on configuration and authentication errors.

    ``on_started``, if given, is called (on the loop) once the first connection is up.
    """
    await Source(queue, options, deps or Dependencies()).run(on_started)


class Source:
    """One running source (one per rulebook source entry): its parts and its main loop."""

    def __init__(self, queue: QueueLike, options: SourceOptions, deps: Dependencies) -> None:
        self._options = options
        self._clock = deps.clock
        auth = options.hmc_auth
        self._secrets = auth.secrets()
        self._signals: List[SessionSignal] = []
        self._tasks: List[asyncio.Future] = []
        self._control: Optional[ControlServer] = None
        verify_cert = (auth.ca_certs or True) if auth.verify else False
        # the pacing of the WS API calls made many at a time (channels, backfill)
        self.calls = ParallelCalls(options.parallel_hmc_calls, self._clock)

        self.keeper: Optional[SessionKeeper] = None
        if options.needs_ws_api:
            client = deps.hmc_client_factory(
                list(options.hmc_host), userid=auth.userid, password=auth.password,
                session_id=auth.session_id, session_credential=auth.session_credential,
                port=options.ws_port, verify_cert=verify_cert,
                max_connections=options.parallel_hmc_calls + SPARE_CONNECTIONS,
                on_busy=self.calls.note_busy)
            self.keeper = SessionKeeper(
                client, can_renew=bool(auth.password), call_timeout=WS_CALL_TIMEOUT,
                report=self._on_session_signal, secrets=tuple(self._secrets))
        self.watch = WatchList(options.topics, options.topic_types,
                               [ChannelSpec.from_option(c) for c in options.os_message_channels],
                               follow=options.follow_os_message_channels and options.needs_ws_api)
        self.stream = Stream(deps.receiver_factory, StreamSettings(
            port=options.stomp_port, rt_config=options.stomp_retry_timeout_config,
            verify_cert=verify_cert, max_pending=options.max_pending,
            max_pending_bytes=options.max_pending_bytes), self.mask)
        self.resume = Resume(options.checkpoint_file, selector_of(
            options.topics, options.topic_types, options.os_message_channels))
        self.emitter = Emitter(queue, options.status_events, lambda: self.recovery.host,
                               after_put=self.resume.emitted)
        self.jobs = (JobStatusLookup(self.keeper, self.emitter)
                     if self.keeper is not None and options.job_status else None)
        self.directory = ObjectDirectory(self.keeper)
        self.pump = Pump(self.emitter, self.watch,
                         event_filter=events_mod.EventFilter(
                             notification_types=options.notification_types,
                             classes=options.classes),
                         dedupe=options.dedupe_os_messages,
                         split_os_messages=options.split_os_messages, jobs=self.jobs,
                         host=lambda: self.recovery.host, directory=self.directory,
                         meta_hosts=options.meta_hosts, observe=self._observe)
        self.opener = (ChannelOpener(self.keeper, self.watch, options.include_refresh_messages,
                                     self.calls)
                       if self.keeper is not None else None)
        self.lock = asyncio.Lock()
        rt_config = options.stomp_retry_timeout_config
        self.recovery = Recovery(
            keeper=self.keeper, opener=self.opener, watch=self.watch, stream=self.stream,
            pump=self.pump, emitter=self.emitter,
            broker_logon=BrokerLogon(tuple(options.hmc_host), auth.userid or "",
                                     auth.password or ""),
            backoff=Backoff.from_config(rt_config), start_backoff=Backoff.from_config(rt_config),
            clock=self._clock, mask=self.mask, lock=self.lock)
        self.recovery.on_new_hmc = self._on_new_hmc
        self.recovery.directory = self.directory
        if self.keeper is not None and self.opener is not None:
            self.recovery.catch_up = CatchUp(
                keeper=self.keeper, opener=self.opener, watch=self.watch, stream=self.stream,
                pump=self.pump, emitter=self.emitter, resume=self.resume, lock=self.lock,
                host=lambda: self.recovery.host, backfill_enabled=options.backfill_os_messages,
                split_os_messages=options.split_os_messages)
        self.commands = WatchCommands(self.watch, self.stream, self.opener, self.lock,
                                      self.emitter.status)
        self.follower: Optional[Follower] = None
        if self.keeper is not None and self.opener is not None and self.watch.follow:
            self.follower = Follower(self.watch, self.opener, self.keeper, self.directory,
                                     self.lock, self._clock, options.resync_interval,
                                     self.stream.live, self.emitter.status)
        self._shutdown_announced: Optional[str] = None

    def mask(self, text: object) -> str:
        """Text with every secret the source knows blanked."""
        if self.keeper is not None:
            return self.keeper.mask(text)
        return blank_secrets(str(text), self._secrets)

    # ------------------------------------------------------------------ run
    async def run(self, on_started: Optional[Callable[[], None]] = None) -> None:
        options = self._options
        try:
            self.resume.load()
            retries = options.stomp_retry_timeout_config.connect_retries
            await self.recovery.start(None if retries is not None and retries < 0
                                      else 1 + (retries or 0))
            self.resume.seed_dedupe(self.pump.dedupe, self._hmc_name())
            await self._start_control()
            # This line tells users (and tests) that events flow from now on.
            LOG.info("zhmc.eda.notifications connected to %s:%s, subscribed to %d topic(s): "
                     "%s%s", self.recovery.host, options.stomp_port, len(self.watch),
                     ", ".join(self.watch.topic_names()),
                     "; control socket %s" % options.control_socket
                     if options.control_socket else "")
            if on_started is not None:
                on_started()
            await self.emitter.status("connected", topics=self.watch.topic_names())
            await publish_changes(self.recovery.start_report, self.watch, None,
                                  self.emitter.status)
            if self.recovery.catch_up is not None:
                await self.recovery.catch_up.after_gap(self.recovery.start_listing, initial=True)
            if self.keeper is not None:
                self._tasks.append(asyncio.ensure_future(
                    self.keeper.keep_alive(options.keepalive_interval, self._clock)))
            if self.follower is not None:
                self._tasks.append(asyncio.ensure_future(self.follower.run()))
            await self._consume_forever()
        finally:
            await self._cleanup()

    async def _start_control(self) -> None:
        path = self._options.control_socket
        if not path:
            return
        handler = ControlHandler(self.commands, asyncio.get_running_loop())
        self._control = ControlServer(path, handler)
        await run_blocking(self._control.start, timeout=30)

    def _idle_wait(self) -> float:
        """How long to wait for notifications before the receiver's watchdog is asked."""
        loss = self._options.stomp_retry_timeout_config.loss_detection_seconds()
        return max(0.05, min(1.0, loss / 2.0)) if loss else 1.0

    async def _consume_forever(self) -> None:
        idle_wait = self._idle_wait()
        while True:
            loss = self._take_signals()
            if loss is not None:
                await self.recovery.recover(loss)
                continue
            try:
                items = self.stream.poll(BATCH_SIZE)
            except NotificationJMSError as exc:
                await self.recovery.recover(await self._jms_loss(exc))
                continue
            except NotificationError as exc:
                await self.recovery.recover(Loss(self.mask(exc) or type(exc).__name__))
                continue
            if items:
                await self.pump.deliver(items, self.stream.new_backlog())
                # a batch the filters dropped whole awaits nothing that yields: let the loop
                # run (a cancellation, control requests) before the next one
                await asyncio.sleep(0)
                continue
            await self.stream.wait(idle_wait)

    # ------------------------------------------------------------------ what parts report
    def _on_session_signal(self, signal: SessionSignal) -> None:
        """The keeper's reports (on the loop): kept until the main loop takes them."""
        self._signals.append(signal)
        self.stream.wake()

    def _hmc_name(self) -> str:
        """Whose OS message numbers the dedupe holds (the checkpoint keeps them per HMC)."""
        if self.keeper is not None and self.keeper.hmc_name:
            return self.keeper.hmc_name
        return self.recovery.host

    def _on_new_hmc(self, hmc_name: str) -> None:
        """A logon landed on another HMC: its OS message numbers are its own."""
        LOG.warning("now on HMC %s (%s): OS messages seen before are recognised by their time",
                    hmc_name, self.recovery.host)
        if self.pump.dedupe is not None:
            self.pump.dedupe.switch_hmc()
        self.resume.seed_dedupe(self.pump.dedupe, hmc_name)

    def _observe(self, event: dict) -> None:
        """Every event of the session's own object topic (the pump calls this)."""
        self.resume.book.observe(event)
        if event["hmc"].get("notification_type") == "console-shutting-down":
            # the HMC goes down (restart, shutdown): do not wait for the heart-beats to tell
            self._shutdown_announced = "the HMC announced that it shuts down"
            self.stream.wake()
        elif self.follower is not None:
            self.follower.observe(event)

    def _take_signals(self) -> Optional[Loss]:
        """The loss the keeper's reports amount to, if any; raises a fatal one."""
        signals, self._signals = self._signals, []
        loss = None
        if self._shutdown_announced is not None:
            loss = Loss(self._shutdown_announced, relogon=True)
            self._shutdown_announced = None
        for signal in signals:
            if isinstance(signal, SessionFatal):
                raise signal.error
            if isinstance(signal, SessionExpired):
                loss = Loss(signal.reason, relogon=True)
            elif isinstance(signal, SessionRenewed) and loss is None \
                    and signal.generation > self.recovery.built_generation:
                loss = Loss("the HMC session was renewed")
        return loss

    async def _jms_loss(self, exc: NotificationJMSError) -> Loss:
        """What an ERROR frame means for the stream."""
        topic = exc.topic_name
        if not exc.unknown_topic:
            return Loss("ERROR frame: %s" % self.mask(exc))
        sub = self.watch.get(topic) if topic else None
        if sub is not None and sub.kind == EXPLICIT:
            # A topic the user named that the broker does not know: a re-logon would not
            # bring it back, so drop it instead of looping forever.
            async with self.lock:
                self.watch.remove(sub.topic)
            LOG.error("the broker does not know topic %s; unsubscribed it", topic)
            await self.emitter.status("error", reason="unknown topic", topic=topic)
            return Loss("ERROR frame for topic %s" % topic)
        if self.keeper is None:
            LOG.error("the broker does not know topic %s", topic)
            return Loss("unknown topic %s" % topic)
        # One of the session's own topics: the broker refuses it, whatever the WS API still
        # lists, so a new session (and new topics) is what ends a refusal loop.
        return Loss("the broker no longer knows topic %s" % topic, relogon=True)

    # ------------------------------------------------------------------ clean-up
    async def _cleanup(self) -> None:
        """Bounded clean-up: stop control, unsubscribe and disconnect, log off our session."""
        end = asyncio.get_running_loop().time() + SHUTDOWN_BUDGET

        def left(share: float = 1.0) -> float:
            return max(0.05, (end - asyncio.get_running_loop().time()) * share)

        for task in self._tasks:
            task.cancel()
        if self.jobs is not None:
            self.jobs.close()
        self.resume.close()
        control, self._control = self._control, None
        steps = [self.stream.close(timeout=left(0.6))]
        if control is not None:
            steps.append(run_blocking(control.close, timeout=left(0.3)))
        await self._shielded(steps, left())
        if self.keeper is not None:
            # the client logs off only a session it created; one handed in is the caller's
            await self._shielded([self.keeper.close(timeout=left())], left())
        LOG.info("zhmc.eda.notifications stopped (%d events emitted)", self.emitter.count)

    async def _shielded(self, coros: list, timeout: float) -> None:
        """Run clean-up steps to completion (or timeout) even while being cancelled."""
        gathered = asyncio.ensure_future(asyncio.gather(*coros, return_exceptions=True))
        try:
            results = await within(asyncio.shield(gathered), timeout)
        except asyncio.CancelledError:
            # cancelled again while cleaning up: give the steps their time, then go
            try:
                await within(gathered, timeout)
            except BaseException as exc:  # pylint: disable=broad-except
                LOG.debug("clean-up interrupted: %s", type(exc).__name__)
            raise
        except asyncio.TimeoutError:
            LOG.warning("clean-up did not finish within %.1f s; leaving it", timeout)
            return
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                LOG.debug("clean-up step: %s", self.mask(result))
