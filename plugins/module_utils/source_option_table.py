# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The options of the zhmc.eda.notifications source: the one table everything is made from.

The plugin's DOCUMENTATION (what ansible-doc, Galaxy and Automation Hub show) is generated
from this table (``make source-docs``), and so is the JSON schema the AAP UI shows
(``source_option_docs.json_schema``); ``source_options`` validates against it. A test fails
when the shipped DOCUMENTATION or schema differ from what the table gives.

Descriptions use Ansible's documentation markup (O(option), C(code)); paragraphs are
separated by a blank line.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict

from ansible_collections.zhmc.eda.plugins.module_utils.constants import (
    DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES, DEFAULT_STOMP_PORT, DEFAULT_WS_PORT,
    NOTIFICATION_TYPES, TOPIC_TYPE_NAMES)
from ansible_collections.zhmc.eda.plugins.module_utils.stomp_config import DEFAULT_STOMP_RT_CONFIG


class OptionSpec(TypedDict, total=False):
    """One option, as in an Ansible argument spec (plus JSON-schema bounds)."""

    type: str  # str, int, float, bool, list, dict, path, raw (str or list of str)
    default: Any
    required: bool
    elements: Optional[str]
    choices: Optional[List[str]]
    description: str
    no_log: bool
    minimum: float
    maximum: float
    suboptions: Dict[str, "OptionSpec"]
    mutually_exclusive: List[str]  # of a list of dicts: exactly one of these keys per item


def _spec(type: str, description: str, default: Any = None, required: bool = False,
          elements: Optional[str] = None, choices: Optional[List[str]] = None,
          **extra: Any) -> OptionSpec:
    spec = OptionSpec(type=type, default=default, required=required, elements=elements,
                      choices=choices, description=description.strip())
    spec.update(extra)  # type: ignore[typeddict-item]
    return spec


_STOMP_RT = {
    "connect_timeout": ("float", "Seconds to wait for the broker connection (0 = no timeout)."),
    "connect_retries": ("int", """
Retries after a failed connect attempt at start, before the source gives up and the rulebook
ends (-1 = forever: what an EDA controller activation wants, so that one started during an
HMC outage waits for it, with a C(waiting) status event per attempt). Configuration and
authentication errors end the source at once either way. Once running, the source retries
forever."""),
    "reconnect_sleep_initial": ("float", "First back-off sleep in seconds."),
    "reconnect_sleep_increase": ("float", "Each sleep grows by the factor 1 + this."),
    "reconnect_sleep_max": ("float", "Ceiling of the back-off sleep in seconds."),
    "reconnect_sleep_jitter": ("float", "Random fraction added to each sleep."),
    "keepalive": ("bool", "Enable TCP keepalive on the broker connection."),
    "heartbeat_send_cycle": ("float", "STOMP heart-beat the source sends, in seconds (0 = off)."),
    "heartbeat_receive_cycle": ("float", """
STOMP heart-beat the source wants from the broker, in seconds (0 = off, then a silent
connection loss is not detected)."""),
    "heartbeat_receive_check": ("float", """
Fraction of the receive cycle waited on top of it before the connection counts as lost; a
silent broker is detected within receive cycle x (1 + this) + 1 seconds."""),
}

_HMC_AUTH: Dict[str, OptionSpec] = {
    "userid": _spec("str", "HMC userid."),
    "password": _spec("str", """
Password of the HMC userid. Pass it from a vault, or better with O(hmc_auth.password_env) or
O(hmc_auth.password_file), which ansible-rulebook does not template.""", no_log=True),
    "password_env": _spec("str", """
Name of an environment variable that holds the password (what an EDA controller credential
injects). The source reads it itself, so the password is never rendered by ansible-rulebook's
templating, which would turn a password such as C(0x1F) into the number 31. Give only one of
O(hmc_auth.password), O(hmc_auth.password_env) and O(hmc_auth.password_file)."""),
    "password_file": _spec("path", """
Path of a file that holds the password (a trailing newline is ignored), for example one that
an EDA controller credential's file injector writes. Read by the source itself, like
O(hmc_auth.password_env)."""),
    "session_id": _spec("str", "Id of an existing HMC Web Services API session.",
                        no_log=True),
    "session_credential": _spec("str", """
Session credential of that session (for the broker logon).""", no_log=True),
    "session_credential_env": _spec("str", """
Name of an environment variable that holds the session credential (read by the source
itself, not templated)."""),
    "session_credential_file": _spec("path", """
Path of a file that holds the session credential (read by the source itself, not
templated)."""),
    "ca_certs": _spec("path", """
Path of a CA certificate file or directory to verify the HMC certificates with.

Default is the bundle of C(REQUESTS_CA_BUNDLE), C(CURL_CA_BUNDLE) or certifi."""),
    "verify": _spec("bool", "Verify the HMC certificates. Only turn this off for tests.",
                    default=True),
}

SOURCE_OPTIONS: Dict[str, OptionSpec] = {
    "hmc_host": _spec("raw", """
Host name or IP address of the HMC, or a list of redundant HMCs (the first that answers is
used).""", required=True, elements="str"),
    "hmc_auth": _spec("dict", """
How to authenticate with the HMC. Give O(hmc_auth.userid) and O(hmc_auth.password), or an
existing session with O(hmc_auth.session_id) and O(hmc_auth.session_credential) (that session
is never logged off by the source and cannot be renewed when it expires).""", required=True,
                      suboptions=_HMC_AUTH),
    "ws_port": _spec("int", "TCP port of the HMC Web Services API.", default=DEFAULT_WS_PORT,
                     minimum=1, maximum=65535),
    "stomp_port": _spec("int", "TCP port of the HMC message broker (STOMP over TLS).",
                        default=DEFAULT_STOMP_PORT, minimum=1, maximum=65535),
    "topics": _spec("list", """
Topic names to subscribe to, exactly as the HMC or broker knows them.

With only this option (no O(topic_types), no O(os_message_channels)) the source talks STOMP
only, and also works with a plain ActiveMQ broker.""", default=[], elements="str"),
    "topic_types": _spec("list", "Topics of the source's own HMC session to subscribe to.",
                         default=[], elements="str", choices=list(TOPIC_TYPE_NAMES)),
    "os_message_channels": _spec("list", """
Partitions (DPM) or LPARs (classic) whose operating-system messages to receive. The source
opens their OS message channels in its own session and re-opens them after every re-logon.

Each item has O(os_message_channels[].cpc) and exactly one of
O(os_message_channels[].partition) or O(os_message_channels[].lpar). The names are regular
expressions that must match the whole name; at start, an item that matches nothing is an
error.""", default=[], elements="dict", mutually_exclusive=["partition", "lpar"], suboptions={
        "cpc": _spec("str", "Regular expression for the CPC name.", required=True),
        "partition": _spec("str", "Regular expression for partition names (DPM CPCs)."),
        "lpar": _spec("str", "Regular expression for LPAR names (classic CPCs)."),
    }),
    "follow_os_message_channels": _spec("bool", """
Keep O(os_message_channels) true for as long as the source runs: it follows its session's
object topic (whether or not O(topic_types) emits object events) and opens the channel of a
selected partition or LPAR when it is created or becomes active, re-opens it when it comes
back, tries again one that was unavailable (not active, HMC reason 332) at each of its
status changes, and drops the channel of one that is deleted; a full listing every
O(resync_interval) seconds catches what a lost notification hid. Each change is a
C(channel) status event. At start, an item whose CPC pattern matches no CPC is an error; one
that selects no partition or LPAR yet is a warning and a C(watch) status event.

False keeps the set found at start (and after each re-logon): an item that selects nothing
at start is then an error.""", default=True),
    "resync_interval": _spec("float", """
Seconds between the full listings that check the followed channels against the HMC (see
O(follow_os_message_channels)).""", default=300, minimum=10),
    "parallel_hmc_calls": _spec("int", """
Most Web Services API calls the source makes at the same time where it makes many: listing
partitions and LPARs, opening their OS message channels (at start, after a re-logon or an
HMC restart, at each resync) and fetching the OS messages they missed (backfill). 1 makes
them one after the other.

With 1,000 watched partitions on an HMC that takes 0.1 s per call, opening the channels takes
100 s one after the other and about 13 s with the default of 8. The HMC is shared with its
users and other programs: when it answers that it is busy (HTTP 503) or a call times out,
the source halves the number of calls it makes at a time (down to one), pauses them all
(from 1 second, doubling, up to 30), makes the call again (three times at most), and then
lets the number grow back.""", default=8, minimum=1, maximum=32),
    "include_refresh_messages": _spec("bool", """
Ask the HMC to replay the messages it still buffers when a channel is opened. Replays of
messages already emitted are dropped when O(dedupe_os_messages) is true.""", default=True),
    "notification_types": _spec("list", """
Only emit notifications of these types. Empty means all. Status events (O(status_events)) are
always emitted.""", default=[], elements="str", choices=list(NOTIFICATION_TYPES)),
    "classes": _spec("list", """
Only emit notifications of objects of these classes (for example C(partition),
C(logical-partition), C(cpc)). Empty means all.""", default=[], elements="str"),
    "split_os_messages": _spec("bool", """
Emit one event per OS message instead of one per notification.""", default=True),
    "dedupe_os_messages": _spec("bool", """
Drop OS messages whose sequence number was already emitted for the same partition or LPAR
(refresh replays and backfill).""", default=True),
    "backfill_os_messages": _spec("bool", """
After a reconnect or re-logon, fetch the OS messages missed while the stream was down with
List OS Messages and emit them.""", default=True),
    "job_status": _spec("bool", """
On a job completion notification, look up the job's status and results and add them to the
event. Needs a Web Services API session. The job is not deleted. The look-up runs beside the
stream: other events are not held up, and a job whose status the HMC does not give within 10
seconds is emitted without it (C(hmc.job.status_error) says why).""", default=True),
    "meta_hosts": _spec("str", """
Set C(meta.hosts) of each event about an object, so that C(run_playbook) and C(run_module)
act only on that host of the rulebook's inventory: C(cpc) the name of the CPC (of a
partition or LPAR, or the CPC itself), C(object) the name of the partition, LPAR or CPC.
The names must be hosts of the rulebook's inventory. Not set by default (every host).""",
                        choices=["cpc", "object"]),
    "status_events": _spec("bool", """
Emit C(hmc.status) events when the source connects, loses the connection, reconnects,
re-logs on, sees a sequence gap or a backlog, or meets an error.""", default=False),
    "stomp_retry_timeout_config": _spec("dict", """
Timeouts, retries, back-off and heart-beats of the broker connection. Missing keys keep their
defaults. The back-off applies to every recovery, forever.""", default={}, suboptions={
        name: _spec(type_name, text, default=getattr(DEFAULT_STOMP_RT_CONFIG, name))
        for name, (type_name, text) in _STOMP_RT.items()}),
    "checkpoint_file": _spec("path", """
Path of a file in which the source records, as it goes, what it has emitted: per partition or
LPAR the last OS message, and the last known status of every watched object (a second file,
PATH.journal, holds what was recorded since the last snapshot). Its directory must exist and
be writable.

Started again with the same file (after a kill, a crash, a restart of the activation), the
source drops the OS messages it emitted before (the HMC replays its buffer when a channel is
opened), fetches those it missed, and emits a status-change event with C(hmc.resync: true)
for every watched partition or LPAR whose status changed meanwhile. A file that was written
by another version, or that is corrupt, is reported and the source starts without it; OS
message positions of another HMC are not used.

In EDA controller the activation's file system is gone with its container: put the file on a
volume (see the documentation)."""),
    "control_socket": _spec("path", """
Path of a Unix socket (mode 0600, only the user running the source may connect) through which
the zhmc.eda.notification_subscription and zhmc.eda.os_message_channel modules change the
running source's subscriptions; its directory must exist.

Only with the ansible-rulebook command line: in an EDA controller activation nothing outside
the activation's container can reach the socket."""),
    "keepalive_interval": _spec("float", """
Seconds between the requests that keep the source's HMC session (and with it its topics and
OS message channels) alive. Such a request also notices an expired session and starts the
re-logon.""", default=300, minimum=1),
    "max_pending": _spec("int", """
Most notifications held between the broker connection and the rulebook. When the rulebook is
slower, the source stops reading from the broker (back-pressure, with a C(backlog) status
event); nothing is dropped.""", default=DEFAULT_MAX_PENDING, minimum=1),
    "max_pending_bytes": _spec("int", """
Most bytes of memory the notifications held between the broker connection and the rulebook
may take, counted as their size as received plus about 1.6 KB each for their headers; the
source pushes back on the broker at this or at O(max_pending), whichever comes first. The
default (4 MiB: about 1,100 notifications of 2 KB) keeps ansible-rulebook, its rules engine
and the source inside an EDA controller activation's 200 MB under a burst.""",
                               default=DEFAULT_MAX_PENDING_BYTES,
                               minimum=1024),
}

SHORT_DESCRIPTION = "Receive IBM Z HMC notifications as rulebook events"

DESCRIPTION = """
Connects to the message broker of an IBM Z Hardware Management Console (HMC) over STOMP with
TLS and emits one event per notification (job completion, status and property change,
inventory change, audit and security log entries) and one event per operating-system console
message.

All event data is under the key C(hmc); C(meta.uuid) is a UUID5 that is stable for the same
notification, so replays can be recognized.

With only O(topics) the source does not use the HMC Web Services API; it logs on to the broker
with O(hmc_auth.userid) and O(hmc_auth.password). Otherwise it logs on to the Web Services
API, logs on to the broker with that session's id and credential (this works with
multi-factor authentication), keeps the session alive and never logs it off while it
consumes.

It recovers by itself, forever, from broker and connection loss, an expired session and an
HMC restart (re-logon, re-open OS message channels, re-subscribe, backfill missed OS
messages). Configuration and authentication errors at start stop the rulebook."""

NOTES = """
A transient failure at start (HMC or broker unreachable) is retried a few times with backoff
and then stops the rulebook with a clear message (fail fast at start); once running, the
source retries forever with capped exponential backoff and jitter.

On rulebook shutdown the source unsubscribes, disconnects and logs off its own session within
about 2 seconds."""


def paragraphs(text: str) -> List[str]:
    """The paragraphs of a description, each on one line."""
    return [" ".join(block.split()) for block in text.strip().split("\n\n") if block.strip()]
