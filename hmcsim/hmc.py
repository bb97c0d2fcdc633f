"""The simulated HMC's state: API sessions, topics, notifications, jobs, logs, OS messages.

Everything the WS API, the STOMP endpoint and the control interface share lives here,
behind one lock. Notifications are built here (headers as strings, JSON bodies) and
handed to a *publisher* (the built-in STOMP server or an external broker), so that
sequence numbers are assigned in delivery order. Observers (tests) see every notification
hmcsim publishes as the HMC (not `publish_raw`).
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any, Callable, Protocol

from hmcsim import osmessages
from hmcsim.inventory import Inventory, Query
from hmcsim.jobs import JOB_FAILED, HmcError, Job, check_accepted, failure
from hmcsim.logs import ConsoleLog, log_entry, now_ms
from hmcsim.resources import CPC, STATUS_PROPERTIES, Resource, stable_id

LOG = logging.getLogger("hmcsim.hmc")

Observer = Callable[[str, dict[str, str], str], None]   # (topic name, headers, body text)

# The body of console-shutting-down before restart() (values from IBM's enumerations).
SHUTDOWN_NOTICE = {"console-type": "hmc", "invoker": "user", "reason": "firmware-update",
                   "shutdown-type": "restart", "component": "firmware-management"}
# Re-exported for older imports.
__all__ = ["Hmc", "HmcError", "Session", "Topic", "now_ms"]


class Session:
    """An API session with its per-session topics."""

    def __init__(self, userid: str, number: int) -> None:
        self.id = secrets.token_hex(16)
        self.credential = secrets.token_urlsafe(24)
        self.userid = userid
        self.number = number
        self.object_topic = "%s.%dobj" % (userid, number)
        self.job_topic = "%s.%djob" % (userid, number)
        self.channels: dict[str, Topic] = {}        # object uri -> OS-message channel topic
        self.sequence_nr = 0


class Topic:
    def __init__(self, name: str, topic_type: str, session: Session | None = None,
                 resource: Resource | None = None, include_refresh: bool = False) -> None:
        self.name = name
        self.type = topic_type
        self.session = session
        self.resource = resource
        self.include_refresh = include_refresh
        self.sequence_nr = 0                        # used only for HMC-wide topics

    def describe(self) -> dict[str, Any]:
        item: dict[str, Any] = {"topic-type": self.type, "topic-name": self.name}
        if self.type == "os-message-notification" and self.resource is not None:
            item["object-uri"] = self.resource.uri
            item["include-refresh-messages"] = self.include_refresh
        return item


class Publisher(Protocol):
    """Where notifications go: the built-in STOMP endpoint or an external broker."""

    def publish(self, topic_name: str, headers: dict[str, str], body: str) -> None: ...


class NullPublisher:
    """Publishes nowhere (before a transport is attached)."""

    def publish(self, topic_name: str, headers: dict[str, str], body: str) -> None:
        pass


class Hmc:
    """State and behaviour of the simulated HMC (thread-safe)."""

    def __init__(self, config: dict[str, Any], job_delay: float = 0.5) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.job_delay = job_delay
        self.publisher: Publisher = NullPublisher()
        self.observers: list[Observer] = []
        self.hmc_name: str = config["hmc_name"]
        self.hmc_version: str = config["hmc_version"]
        self.api_version = tuple(config["api_version"])
        self.os_messages_need_active: bool = config["os_messages_need_active"]
        self.users: dict[str, dict[str, str]] = {}
        for user in config["users"]:
            self.users[user["userid"]] = {"password": user.get("password") or secrets.token_urlsafe(18),
                                          "uri": "/api/users/" + stable_id("user", user["userid"])}
        self.inventory = Inventory(config["cpcs"])
        self.console_headers = {"object-uri": "/api/console", "object-id": stable_id("console", self.hmc_name),
                                "class": "console", "name": self.hmc_name}
        self.audit_topic = "%s.audit" % self.hmc_name.lower()
        self.security_topic = "%s.security" % self.hmc_name.lower()
        self.logs = {self.audit_topic: ConsoleLog(), self.security_topic: ConsoleLog()}
        self.sessions: dict[str, Session] = {}
        self.topics: dict[str, Topic] = {}
        self.jobs: dict[str, Job] = {}
        self.session_counter = 0
        self.global_sequence_nr = 0
        self.generation = 0                    # bumped by restart(): stale job timers do nothing
        # External-broker mode has no SUBSCRIBE hook: refresh messages are published this many
        # seconds after the channel is opened instead (None: replay on subscribe, built-in endpoint).
        self.refresh_after_open: float | None = None
        self.down_until = 0.0                  # monotonic time until which the WS API answers 503
        for name, kind in ((self.audit_topic, "audit-notification"), (self.security_topic, "security-notification")):
            self.topics[name] = Topic(name, kind)

    # ----------------------------------------------------------------- lookups
    @property
    def cpcs(self) -> list[Resource]:
        return list(self.inventory.cpcs.values())

    @property
    def by_uri(self) -> dict[str, Resource]:
        return self.inventory.by_uri

    def first_user(self) -> tuple[str, str]:
        userid = next(iter(self.users))
        return userid, self.users[userid]["password"]

    def find(self, cpc_name: str, name: str | None = None) -> Resource:
        with self.lock:
            return self.inventory.find(cpc_name, name)

    def resource(self, uri: str, kind: str | None = None) -> Resource:
        with self.lock:
            return self.inventory.resource(uri, kind)

    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    # ------------------------------------------------------------- publishing
    def _number(self, topic: Topic, headers: dict[str, Any], body: Any) -> tuple[dict[str, str], str]:
        """Headers as strings with the sequence numbers, and the body text (caller holds the lock)."""
        if topic.session is not None:
            topic.session.sequence_nr += 1
            seq = topic.session.sequence_nr
        else:
            topic.sequence_nr += 1
            seq = topic.sequence_nr
        self.global_sequence_nr += 1
        full = {"notification-type": str(headers.pop("notification-type")), "session-sequence-nr": str(seq),
                "global-sequence-nr": str(self.global_sequence_nr), "timestamp": str(now_ms()),
                "expires": "0", "priority": "4"}
        full.update({k: str(v) for k, v in headers.items()})
        return full, "" if body is None else json.dumps(body, separators=(",", ":"))

    def _observe(self, topic_name: str, headers: dict[str, str], text: str) -> None:
        for observer in self.observers:
            observer(topic_name, headers, text)

    def _publish(self, topic: Topic, headers: dict[str, Any], body: Any) -> None:
        full, text = self._number(topic, headers, body)
        self._observe(topic.name, full, text)
        self.publisher.publish(topic.name, full, text)

    @staticmethod
    def _object_headers(res: Resource) -> dict[str, str]:
        return {"object-uri": res.uri, "object-id": res.oid, "class": res.kind, "name": res.name}

    def _publish_to_object_topics(self, ntype: str, object_headers: dict[str, str], body: Any,
                                  extra: dict[str, str] | None = None) -> None:
        for session in list(self.sessions.values()):
            headers: dict[str, Any] = {"notification-type": ntype, **object_headers, **(extra or {})}
            self._publish(self.topics[session.object_topic], headers, body)

    def _log(self, topic_name: str, event_id: str, items: list[str], userid: str) -> None:
        """Add an entry to the audit or security log and publish it as a log-entry notification."""
        entry = log_entry(event_id, items, userid, self.users.get(userid, {}).get("uri"))
        self.logs[topic_name].add(entry)
        self._publish(self.topics[topic_name], {"notification-type": "log-entry", **self.console_headers},
                      {"log-entries": [entry]})

    # --------------------------------------------------------------- sessions
    def logon(self, userid: Any, password: Any, location: str = "") -> Session:
        with self.lock:
            user = self.users.get(userid) if isinstance(userid, str) else None
            if user is None or not isinstance(password, str) or not secrets.compare_digest(
                    user["password"].encode(), password.encode()):
                shown = str(userid)[:64]
                self._log(self.security_topic, "522", [shown], shown)
                raise HmcError(403, 0, "Logon failed: the userid or password is not valid.")
            self.session_counter += 1
            session = Session(userid, self.session_counter)
            self.sessions[session.id] = session
            self.topics[session.object_topic] = Topic(session.object_topic, "object-notification", session)
            self.topics[session.job_topic] = Topic(session.job_topic, "job-notification", session)
            # The session data item is the logon number, never the session id (a secret).
            items = [userid, str(session.number), location]
            self._log(self.audit_topic, "1941", items, userid)
            self._log(self.security_topic, "1941", items, userid)
            LOG.info("logon of %s (session #%d)", userid, session.number)
            return session

    def session(self, session_id: str | None) -> Session:
        """Return the valid session for an X-API-Session value, or raise 403 4/5."""
        if not session_id:
            raise HmcError(403, 4, "The request did not include an X-API-Session header.")
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise HmcError(403, 5, "The session ID is not valid or the session has expired.")
            return session

    def _end_session(self, session: Session, reason: str | None) -> None:
        self.sessions.pop(session.id, None)
        for name in [session.object_topic, session.job_topic] + [t.name for t in session.channels.values()]:
            self.topics.pop(name, None)
        session.channels.clear()
        if reason is not None:
            items = [session.userid, str(session.number), reason]
            self._log(self.audit_topic, "1942", items, session.userid)
            self._log(self.security_topic, "1942", items, session.userid)

    def logoff(self, session: Session) -> None:
        with self.lock:
            if session.id in self.sessions:
                self._end_session(session, "a logoff request")
                LOG.info("logoff of %s (session #%d)", session.userid, session.number)

    def expire_session(self, session_id: str | None = None) -> int:
        with self.lock:
            if session_id is None:
                victims = list(self.sessions.values())
            else:
                victims = [self.sessions[session_id]] if session_id in self.sessions else []
            for session in victims:
                self._end_session(session, "session expiration")
            return len(victims)

    def announce_shutdown(self, **fields: str) -> None:
        """console-shutting-down on every session's object topic (before a restart)."""
        with self.lock:
            self._publish_to_object_topics("console-shutting-down", self.console_headers,
                                           {**SHUTDOWN_NOTICE, **fields})

    def restart(self) -> None:
        """As after a reboot: sessions, their topics and jobs are gone; buffers and URIs stay."""
        with self.lock:
            for session in list(self.sessions.values()):
                self._end_session(session, None)
            self.jobs.clear()
            self.generation += 1

    def session_ids(self) -> list[str]:
        with self.lock:
            return list(self.sessions)

    def authenticate_stomp(self, login: str | None, passcode: str | None) -> bool:
        """STOMP login: session id + session credential, or userid + password."""
        if not isinstance(login, str) or not isinstance(passcode, str):
            return False
        with self.lock:
            session = self.sessions.get(login)
            if session is not None:
                return secrets.compare_digest(session.credential.encode(), passcode.encode())
            user = self.users.get(login)
            return user is not None and secrets.compare_digest(user["password"].encode(), passcode.encode())

    def topics_for(self, session: Session) -> list[dict[str, Any]]:
        with self.lock:
            names = [session.object_topic, session.job_topic, self.audit_topic, self.security_topic]
            return [self.topics[n].describe() for n in names] + [t.describe() for t in session.channels.values()]

    def topic_known(self, name: str) -> bool:
        with self.lock:
            return name in self.topics

    def open_channels(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"topic-name": t.name, "object-uri": t.resource.uri, "name": t.resource.name,
                     "cpc": t.resource.parent.name, "session-number": t.session.number,
                     "include-refresh-messages": t.include_refresh}
                    for s in self.sessions.values() for t in s.channels.values()
                    if t.resource is not None and t.resource.parent is not None and t.session is not None]

    # ------------------------------------------------------------- resources
    def list_cpcs(self, query: Query) -> list[dict[str, Any]]:
        with self.lock:
            return self.inventory.list_cpcs(query)

    def list_children(self, cpc: Resource, kind: str, query: Query) -> list[dict[str, Any]]:
        with self.lock:
            return self.inventory.list_children(cpc, kind, query)

    def list_permitted(self, kind: str, query: Query) -> list[dict[str, Any]]:
        with self.lock:
            return self.inventory.list_permitted(kind, query)

    def properties(self, res: Resource, wanted: set[str] | None = None) -> dict[str, Any]:
        with self.lock:
            props = res.properties()
        return {k: v for k, v in props.items() if k in wanted} if wanted else props

    def set_status(self, res: Resource, status: str, additional_status: str | None = None) -> bool:
        """Change a status; a status-change (only that: the properties are (sc)) if anything changed."""
        with self.lock:
            new_add = res.additional_status if additional_status is None else additional_status
            if (status, new_add) == (res.status, res.additional_status):
                return False
            report: dict[str, Any] = {"old-status": res.status, "new-status": status,
                                      "old-additional-status": res.additional_status,
                                      "new-additional-status": new_add}
            res.status, res.additional_status = status, new_add
            report["has-unacceptable-status"] = res.has_unacceptable_status
            self._publish_to_object_topics("status-change", self._object_headers(res), {"change-reports": [report]})
            return True

    def set_property(self, res: Resource, name: str, value: Any) -> None:
        """Change a (pc) property and publish a property-change; (sc) properties are refused."""
        if name in STATUS_PROPERTIES:
            raise ValueError("%s is a status property (sc): it changes with set_status and is reported only "
                             "in status-change notifications" % name)
        with self.lock:
            old = res.properties().get(name)
            res.pc_properties[name] = value
            self._publish_to_object_topics("property-change", self._object_headers(res),
                                           {"change-reports": [{"property-name": name, "old-value": old,
                                                                "new-value": value}]},
                                           {"property-names": " %s " % name})

    def add_child(self, cpc: Resource, child_cfg: dict[str, Any]) -> Resource:
        """A new partition/LPAR (already validated); inventory-change add on the object topics."""
        with self.lock:
            child = self.inventory.add(cpc, child_cfg)
            self._publish_to_object_topics("inventory-change", self._object_headers(child), None, {"action": "add"})
            return child

    def delete_child(self, res: Resource) -> None:
        """Remove a partition/LPAR: its channels close; inventory-change remove on the object topics."""
        with self.lock:
            for session in self.sessions.values():
                topic = session.channels.pop(res.uri, None)
                if topic is not None:
                    self.topics.pop(topic.name, None)
            self.inventory.remove(res)
            self._publish_to_object_topics("inventory-change", self._object_headers(res), None,
                                           {"action": "remove"})

    def inventory_change(self, res: Resource, action: str) -> None:
        if action not in ("add", "remove"):
            raise ValueError("action must be 'add' or 'remove', got %r" % (action,))
        with self.lock:
            self._publish_to_object_topics("inventory-change", self._object_headers(res), None, {"action": action})

    # ----------------------------------------------------------- OS messages
    @staticmethod
    def _no_os_messages(res: Resource) -> HmcError:
        return HmcError(409, 332, "The operating system messages interface of %s %s is not available: its "
                        "operating system does not support OS messages." % (res.kind, res.name))

    def open_os_message_channel(self, session: Session, res: Resource, include_refresh: bool) -> str:
        with self.lock:
            if not res.os_messages_supported:
                raise self._no_os_messages(res)
            if res.uri in session.channels:
                raise HmcError(409, 331, "An OS message channel for this object is already open for this session.")
            if self.os_messages_need_active and not res.os_running:
                raise HmcError(409, 332, "The operating system messages interface of %s %s is not available: "
                               "status %s." % (res.kind, res.name, res.status))
            name = "%s.%dosm.%s" % (session.userid, session.number, res.oid.replace("-", ""))
            topic = Topic(name, "os-message-notification", session, res, include_refresh)
            session.channels[res.uri] = topic
            self.topics[name] = topic
            if include_refresh and self.refresh_after_open is not None and res.os_messages:
                timer = threading.Timer(self.refresh_after_open, self._publish_refresh, args=(name,))
                timer.daemon = True
                timer.start()
            return name

    def _publish_refresh(self, topic_name: str) -> None:
        with self.lock:
            for headers, body in self.refresh_notifications(topic_name):
                self.publisher.publish(topic_name, headers, body)

    def emit_os_messages(self, res: Resource, messages: list[Any]) -> list[int]:
        """Append messages to the buffer and publish them on every channel open for the object."""
        if res.kind == CPC:
            raise ValueError("OS messages need a partition or LPAR, not a CPC")
        with self.lock:
            infos = osmessages.append(res, messages)
            live = [dict(i, **{"is-refresh": False}) for i in infos]
            for session in list(self.sessions.values()):
                topic = session.channels.get(res.uri)
                if topic is not None:
                    self._publish(topic, {"notification-type": "os-message", **self._object_headers(res)},
                                  {"os-messages": live})
            return [i["sequence-number"] for i in infos]

    def refresh_notifications(self, topic_name: str) -> list[tuple[dict[str, str], str]]:
        """Refresh messages for a new subscriber of an OS channel topic: [(headers, body_text)]."""
        with self.lock:
            topic = self.topics.get(topic_name)
            if topic is None or topic.type != "os-message-notification" or not topic.include_refresh \
                    or topic.resource is None:
                return []
            out = []
            for chunk in osmessages.refresh_chunks(topic.resource):
                headers = {"notification-type": "os-message", **self._object_headers(topic.resource)}
                full, text = self._number(topic, headers, {"os-messages": chunk})
                self._observe(topic_name, full, text)
                out.append((full, text))
            return out

    def list_os_messages(self, res: Resource, **filters: Any) -> list[dict[str, Any]]:
        if not res.os_messages_supported:
            raise self._no_os_messages(res)
        with self.lock:
            return osmessages.query(res, **filters)

    def delete_os_message(self, res: Resource, seq: int) -> None:
        with self.lock:
            osmessages.delete(res, seq)

    def send_os_command(self, res: Resource, text: str, is_priority: bool) -> None:
        with self.lock:
            if not res.os_messages_supported or not res.os_running:
                raise HmcError(409, 332, "The operating system messages interface of %s %s is not available "
                               "(status %s)." % (res.kind, res.name, res.status))
        # The echo: the OS shows the command, as consoles do.
        self.emit_os_messages(res, [{"message-text": text + "\n", "is-priority": is_priority}])

    # ------------------------------------------------------------------ jobs
    def start_job(self, session: Session, res: Resource, operation: str, body: dict[str, Any]) -> Job:
        with self.lock:
            rules = check_accepted(res, operation)
            job = Job(session, operation, res, rules, res.status)
            job.failure = failure(res, operation, body)
            self.jobs[job.id] = job
            if rules.interim and job.failure is None:
                self.set_status(res, rules.interim)
            generation = self.generation
            if self.job_delay <= 0:        # a job that is done before the 202 goes out
                self._finish_job(job, generation)
                return job
        timer = threading.Timer(self.job_delay, self._finish_job, args=(job, generation))
        timer.daemon = True
        timer.start()
        return job

    def _finish_job(self, job: Job, generation: int) -> None:
        with self.lock:
            if generation != self.generation or job.id not in self.jobs or job.ended:
                return
            res = job.resource
            if job.status == "cancel-pending":
                self.set_status(res, job.previous_status)
                job.finish("canceled", 500, 0, {"message": "The %s job was canceled." % job.operation})
            elif job.failure is not None:
                job.finish("complete", JOB_FAILED[0], JOB_FAILED[1], {"message": job.failure})
            else:
                self.set_status(res, job.rules.final)
                job.finish("complete", job.rules.success_code, 0, None)
            if job.session.id in self.sessions:
                self._publish(self.topics[job.session.job_topic],
                              {"notification-type": "job-completion", "job-uri": job.uri}, None)

    def job(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise HmcError(404, 1, "The job designated by the request URI does not exist.")
            return job

    def delete_job(self, job_id: str) -> None:
        with self.lock:
            if not self.job(job_id).ended:
                raise HmcError(409, 40, "The job has not ended yet.")
            del self.jobs[job_id]

    def cancel_job(self, job_id: str) -> None:
        with self.lock:
            job = self.job(job_id)
            if job.ended:
                raise HmcError(409, 41, "The job has already ended.")
            if not job.rules.cancellable:
                raise HmcError(404, 4, "The %s job cannot be canceled." % job.operation)
            if job.status == "cancel-pending":
                raise HmcError(409, 42, "A cancellation of the job is already pending.")
            job.status = "cancel-pending"

    # ------------------------------------------------------------------ logs
    def console_log(self, which: str, begin: int | None, end: int | None) -> list[dict[str, Any]]:
        with self.lock:
            return self.logs[self.audit_topic if which == "audit" else self.security_topic].query(begin, end)

    # --------------------------------------------------------------- raw use
    def publish_raw(self, topic_name: str, headers: dict[str, Any] | None, body: Any) -> None:
        """Publish anything to a topic name (no checks, body as given: str, None or JSON data)."""
        if not isinstance(topic_name, str) or not topic_name:
            raise ValueError("topic_name must be a non-empty string")
        raw = {str(k): str(v) for k, v in (headers or {}).items()}
        text = "" if body is None else body if isinstance(body, str) else json.dumps(body)
        with self.lock:
            raw.setdefault("timestamp", str(now_ms()))
            self.publisher.publish(topic_name, raw, text)
