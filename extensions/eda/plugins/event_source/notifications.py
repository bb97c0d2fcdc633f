# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""zhmc.eda.notifications: IBM Z HMC notifications as ansible-rulebook events.

A thin shell: ansible-rulebook loads this file with runpy (no package, no relative
imports), so it makes the collection importable by its fully qualified name and hands
over to plugins/module_utils/source_runtime.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
short_description: Receive IBM Z HMC notifications as rulebook events
description:
  - Connects to the message broker of an IBM Z Hardware Management Console (HMC) over STOMP with
    TLS and emits one event per notification (job completion, status and property change, inventory
    change, audit and security log entries) and one event per operating-system console message.
  - All event data is under the key C(hmc); C(meta.uuid) is a UUID5 that is stable for the same
    notification, so replays can be recognized.
  - With only O(topics) the source does not use the HMC Web Services API; it logs on to the broker
    with O(hmc_auth.userid) and O(hmc_auth.password). Otherwise it logs on to the Web Services
    API, logs on to the broker with that session's id and credential (this works with multi-factor
    authentication), keeps the session alive and never logs it off while it consumes.
  - It recovers by itself, forever, from broker and connection loss, an expired session and an
    HMC restart (re-logon, re-open OS message channels, re-subscribe, backfill missed OS messages).
    Configuration and authentication errors at start stop the rulebook.
version_added: 0.1.0
options:
  hmc_host:
    description: Host name or IP address of the HMC, or a list of redundant HMCs (the first that
      answers is used).
    type: raw
    elements: str
    required: true
  hmc_auth:
    description: How to authenticate with the HMC. Give O(hmc_auth.userid) and O(hmc_auth.password),
      or an existing session with O(hmc_auth.session_id) and O(hmc_auth.session_credential) (that
      session is never logged off by the source and cannot be renewed when it expires).
    type: dict
    required: true
    suboptions:
      userid:
        description: HMC userid.
        type: str
      password:
        description: Password of the HMC userid. Pass it from a vault, or better with O(hmc_auth.password_env)
          or O(hmc_auth.password_file), which ansible-rulebook does not template.
        type: str
      password_env:
        description: Name of an environment variable that holds the password (what an EDA controller
          credential injects). The source reads it itself, so the password is never rendered by
          ansible-rulebook's templating, which would turn a password such as C(0x1F) into the
          number 31. Give only one of O(hmc_auth.password), O(hmc_auth.password_env) and O(hmc_auth.password_file).
        type: str
      password_file:
        description: Path of a file that holds the password (a trailing newline is ignored), for
          example one that an EDA controller credential's file injector writes. Read by the source
          itself, like O(hmc_auth.password_env).
        type: path
      session_id:
        description: Id of an existing HMC Web Services API session.
        type: str
      session_credential:
        description: Session credential of that session (for the broker logon).
        type: str
      session_credential_env:
        description: Name of an environment variable that holds the session credential (read by
          the source itself, not templated).
        type: str
      session_credential_file:
        description: Path of a file that holds the session credential (read by the source itself,
          not templated).
        type: path
      ca_certs:
        description:
          - Path of a CA certificate file or directory to verify the HMC certificates with.
          - Default is the bundle of C(REQUESTS_CA_BUNDLE), C(CURL_CA_BUNDLE) or certifi.
        type: path
      verify:
        description: Verify the HMC certificates. Only turn this off for tests.
        type: bool
        default: true
  ws_port:
    description: TCP port of the HMC Web Services API.
    type: int
    default: 6794
  stomp_port:
    description: TCP port of the HMC message broker (STOMP over TLS).
    type: int
    default: 61612
  topics:
    description:
      - Topic names to subscribe to, exactly as the HMC or broker knows them.
      - With only this option (no O(topic_types), no O(os_message_channels)) the source talks
        STOMP only, and also works with a plain ActiveMQ broker.
    type: list
    elements: str
    default: []
  topic_types:
    description: Topics of the source's own HMC session to subscribe to.
    type: list
    elements: str
    choices:
      - object
      - job
      - audit
      - security
    default: []
  os_message_channels:
    description:
      - Partitions (DPM) or LPARs (classic) whose operating-system messages to receive. The source
        opens their OS message channels in its own session and re-opens them after every re-logon.
      - Each item has O(os_message_channels[].cpc) and exactly one of O(os_message_channels[].partition)
        or O(os_message_channels[].lpar). The names are regular expressions that must match the
        whole name; at start, an item that matches nothing is an error.
    type: list
    elements: dict
    default: []
    suboptions:
      cpc:
        description: Regular expression for the CPC name.
        type: str
        required: true
      partition:
        description: Regular expression for partition names (DPM CPCs).
        type: str
      lpar:
        description: Regular expression for LPAR names (classic CPCs).
        type: str
  follow_os_message_channels:
    description:
      - 'Keep O(os_message_channels) true for as long as the source runs: it follows its session''s
        object topic (whether or not O(topic_types) emits object events) and opens the channel
        of a selected partition or LPAR when it is created or becomes active, re-opens it when
        it comes back, tries again one that was unavailable (not active, HMC reason 332) at each
        of its status changes, and drops the channel of one that is deleted; a full listing every
        O(resync_interval) seconds catches what a lost notification hid. Each change is a C(channel)
        status event. At start, an item whose CPC pattern matches no CPC is an error; one that
        selects no partition or LPAR yet is a warning and a C(watch) status event.'
      - 'False keeps the set found at start (and after each re-logon): an item that selects nothing
        at start is then an error.'
    type: bool
    default: true
  resync_interval:
    description: Seconds between the full listings that check the followed channels against the
      HMC (see O(follow_os_message_channels)).
    type: float
    default: 300
  parallel_hmc_calls:
    description:
      - 'Most Web Services API calls the source makes at the same time where it makes many: listing
        partitions and LPARs, opening their OS message channels (at start, after a re-logon or
        an HMC restart, at each resync) and fetching the OS messages they missed (backfill). 1
        makes them one after the other.'
      - 'With 1,000 watched partitions on an HMC that takes 0.1 s per call, opening the channels
        takes 100 s one after the other and about 13 s with the default of 8. The HMC is shared
        with its users and other programs: when it answers that it is busy (HTTP 503) or a call
        times out, the source halves the number of calls it makes at a time (down to one), pauses
        them all (from 1 second, doubling, up to 30), makes the call again (three times at most),
        and then lets the number grow back.'
    type: int
    default: 8
  include_refresh_messages:
    description: Ask the HMC to replay the messages it still buffers when a channel is opened.
      Replays of messages already emitted are dropped when O(dedupe_os_messages) is true.
    type: bool
    default: true
  notification_types:
    description: Only emit notifications of these types. Empty means all. Status events (O(status_events))
      are always emitted.
    type: list
    elements: str
    choices:
      - os-message
      - job-completion
      - status-change
      - property-change
      - inventory-change
      - log-entry
      - console-shutting-down
    default: []
  classes:
    description: Only emit notifications of objects of these classes (for example C(partition),
      C(logical-partition), C(cpc)). Empty means all.
    type: list
    elements: str
    default: []
  split_os_messages:
    description: Emit one event per OS message instead of one per notification.
    type: bool
    default: true
  dedupe_os_messages:
    description: Drop OS messages whose sequence number was already emitted for the same partition
      or LPAR (refresh replays and backfill).
    type: bool
    default: true
  backfill_os_messages:
    description: After a reconnect or re-logon, fetch the OS messages missed while the stream
      was down with List OS Messages and emit them.
    type: bool
    default: true
  job_status:
    description: 'On a job completion notification, look up the job''s status and results and
      add them to the event. Needs a Web Services API session. The job is not deleted. The look-up
      runs beside the stream: other events are not held up, and a job whose status the HMC does
      not give within 10 seconds is emitted without it (C(hmc.job.status_error) says why).'
    type: bool
    default: true
  meta_hosts:
    description: 'Set C(meta.hosts) of each event about an object, so that C(run_playbook) and
      C(run_module) act only on that host of the rulebook''s inventory: C(cpc) the name of the
      CPC (of a partition or LPAR, or the CPC itself), C(object) the name of the partition, LPAR
      or CPC. The names must be hosts of the rulebook''s inventory. Not set by default (every
      host).'
    type: str
    choices:
      - cpc
      - object
  status_events:
    description: Emit C(hmc.status) events when the source connects, loses the connection, reconnects,
      re-logs on, sees a sequence gap or a backlog, or meets an error.
    type: bool
    default: false
  stomp_retry_timeout_config:
    description: Timeouts, retries, back-off and heart-beats of the broker connection. Missing
      keys keep their defaults. The back-off applies to every recovery, forever.
    type: dict
    default: {}
    suboptions:
      connect_timeout:
        description: Seconds to wait for the broker connection (0 = no timeout).
        type: float
        default: 30
      connect_retries:
        description: 'Retries after a failed connect attempt at start, before the source gives
          up and the rulebook ends (-1 = forever: what an EDA controller activation wants, so
          that one started during an HMC outage waits for it, with a C(waiting) status event per
          attempt). Configuration and authentication errors end the source at once either way.
          Once running, the source retries forever.'
        type: int
        default: 3
      reconnect_sleep_initial:
        description: First back-off sleep in seconds.
        type: float
        default: 0.1
      reconnect_sleep_increase:
        description: Each sleep grows by the factor 1 + this.
        type: float
        default: 0.5
      reconnect_sleep_max:
        description: Ceiling of the back-off sleep in seconds.
        type: float
        default: 60
      reconnect_sleep_jitter:
        description: Random fraction added to each sleep.
        type: float
        default: 0.1
      keepalive:
        description: Enable TCP keepalive on the broker connection.
        type: bool
        default: true
      heartbeat_send_cycle:
        description: STOMP heart-beat the source sends, in seconds (0 = off).
        type: float
        default: 5.0
      heartbeat_receive_cycle:
        description: STOMP heart-beat the source wants from the broker, in seconds (0 = off, then
          a silent connection loss is not detected).
        type: float
        default: 5.0
      heartbeat_receive_check:
        description: Fraction of the receive cycle waited on top of it before the connection counts
          as lost; a silent broker is detected within receive cycle x (1 + this) + 1 seconds.
        type: float
        default: 1.0
  checkpoint_file:
    description:
      - 'Path of a file in which the source records, as it goes, what it has emitted: per partition
        or LPAR the last OS message, and the last known status of every watched object (a second
        file, PATH.journal, holds what was recorded since the last snapshot). Its directory must
        exist and be writable.'
      - 'Started again with the same file (after a kill, a crash, a restart of the activation),
        the source drops the OS messages it emitted before (the HMC replays its buffer when a
        channel is opened), fetches those it missed, and emits a status-change event with C(hmc.resync:
        true) for every watched partition or LPAR whose status changed meanwhile. A file that
        was written by another version, or that is corrupt, is reported and the source starts
        without it; OS message positions of another HMC are not used.'
      - 'In EDA controller the activation''s file system is gone with its container: put the file
        on a volume (see the documentation).'
    type: path
  control_socket:
    description:
      - Path of a Unix socket (mode 0600, only the user running the source may connect) through
        which the zhmc.eda.notification_subscription and zhmc.eda.os_message_channel modules change
        the running source's subscriptions; its directory must exist.
      - 'Only with the ansible-rulebook command line: in an EDA controller activation nothing
        outside the activation''s container can reach the socket.'
    type: path
  keepalive_interval:
    description: Seconds between the requests that keep the source's HMC session (and with it
      its topics and OS message channels) alive. Such a request also notices an expired session
      and starts the re-logon.
    type: float
    default: 300
  max_pending:
    description: Most notifications held between the broker connection and the rulebook. When
      the rulebook is slower, the source stops reading from the broker (back-pressure, with a
      C(backlog) status event); nothing is dropped.
    type: int
    default: 100000
  max_pending_bytes:
    description: 'Most bytes of memory the notifications held between the broker connection and
      the rulebook may take, counted as their size as received plus about 1.6 KB each for their
      headers; the source pushes back on the broker at this or at O(max_pending), whichever comes
      first. The default (4 MiB: about 1,100 notifications of 2 KB) keeps ansible-rulebook, its
      rules engine and the source inside an EDA controller activation''s 200 MB under a burst.'
    type: int
    default: 4194304
notes:
  - A transient failure at start (HMC or broker unreachable) is retried a few times with backoff
    and then stops the rulebook with a clear message (fail fast at start); once running, the source
    retries forever with capped exponential backoff and jitter.
  - On rulebook shutdown the source unsubscribes, disconnects and logs off its own session within
    about 2 seconds.
"""

EXAMPLES = r"""
- name: React to HMC notifications
  hosts: localhost
  sources:
    - name: hmc
      zhmc.eda.notifications:
        hmc_host: "{{ hmc_host }}"
        hmc_auth:
          userid: "{{ hmc_userid }}"
          password: "{{ hmc_password }}"
          ca_certs: "{{ hmc_ca_certs | default(none) }}"
        topic_types: [object, job]
        os_message_channels:
          - {cpc: CPC1, partition: "PART.*"}
        status_events: true
  rules:
    - name: Partition stopped
      condition: >-
        event.hmc.notification_type == "status-change" and
        event.hmc.body["change-reports"][0]["new-status"] == "stopped"
      action:
        run_playbook:
          name: zhmc.eda.demo_report
    - name: Held OS message
      condition: event.hmc.os_message.is_held == true
      action:
        print_event:
"""

import asyncio
import importlib.util
import logging
import os
import signal
import sys
import threading

LOG = logging.getLogger("zhmc.eda.source")


def _make_collection_importable():
    """Put the directory above ansible_collections/ on sys.path when it is not importable.

    This file lives at <P>/ansible_collections/zhmc/eda/extensions/eda/plugins/event_source/,
    so <P> is eight dirname()s up.
    """
    try:
        found = importlib.util.find_spec("ansible_collections.zhmc.eda") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return
    base = os.path.abspath(__file__)
    for _level in range(8):
        base = os.path.dirname(base)
    if base not in sys.path:
        sys.path.insert(0, base)


_make_collection_importable()

from ansible_collections.zhmc.eda.plugins.module_utils.source_options import (  # noqa: E402
    parse_source_args,
)
from ansible_collections.zhmc.eda.plugins.module_utils.source_runtime import (  # noqa: E402
    run_source,
)


def _take_over_shutdown_signals():
    """Make SIGTERM and SIGINT stop ansible-rulebook gracefully, so our clean-up runs.

    ansible-rulebook's own handler raises KeyboardInterrupt wherever the main thread is,
    which is lost when that happens inside a destructor or a weakref callback (seen:
    "Exception ignored in: WeakSet._remove ... KeyboardInterrupt"): the process then keeps
    running. And the JVM of its rules engine (drools via jpy) installs handlers of its own
    that end the process at once (exit 143) with no clean-up at all. We register the
    signals with the event loop instead: the KeyboardInterrupt is raised from a loop
    callback, leaves asyncio.run() the way ansible-rulebook expects (all tasks cancelled,
    exit code 0), and the source unsubscribes, disconnects and logs off on its way out.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(signum) in (signal.SIG_IGN, None):
            continue  # deliberately ignored (or not ours to touch)
        try:
            loop.add_signal_handler(signum, _shutdown_requested, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            return


def _shutdown_requested(signum):
    name = signal.Signals(signum).name
    LOG.info("Received signal %s, initiating shutdown", name)
    raise KeyboardInterrupt("Signal %s received" % name)


async def main(queue, args):
    """ansible-rulebook entry point: validate the options, then run until cancelled."""
    args = dict(args or {})
    if args.pop("eda_feedback_queue", None) is not None or args.get("feedback"):
        # ansible-rulebook would hand every processed event back on a queue we never read
        raise ValueError("zhmc.eda.notifications: 'feedback: true' is not supported; HMC "
                         "topics cannot be acknowledged (remove the option)")
    args.pop("feedback", None)
    try:
        options = parse_source_args(args)
    except ValueError as exc:
        raise ValueError("zhmc.eda.notifications: %s" % exc) from None
    _take_over_shutdown_signals()
    # again once connected: the rules engine's JVM may have started in between
    await run_source(queue, options, on_started=_take_over_shutdown_signals)


if __name__ == "__main__":
    # Standalone run: `python notifications.py ARGS.json` prints events as they arrive.
    # The options come from a JSON file (mode 0600), so no password is on a command line.
    import json

    class _PrintQueue:
        async def put(self, event):
            for item in event if isinstance(event, list) else [event]:
                print(json.dumps(item, default=str), flush=True)

    logging.basicConfig(level=logging.INFO)
    if len(sys.argv) != 2:
        sys.exit("usage: %s ARGS.json  (the source options as a JSON object)" % sys.argv[0])
    with open(sys.argv[1], encoding="utf-8") as args_file:
        cli_args = json.load(args_file)
    try:
        asyncio.run(main(_PrintQueue(), cli_args))
    except KeyboardInterrupt:
        pass
