"""The simulated HMC's state: resources, API sessions, topics, jobs, OS messages.

Everything the WS API, the STOMP endpoint and the control interface share lives here,
behind one lock. Notifications are built here (headers as strings, JSON bodies) and
handed to a *publisher* (the built-in STOMP server or an external broker), so that
sequence numbers are assigned in delivery order.
"""
import json
import logging
import re
import secrets
import threading
import time
import uuid

LOG = logging.getLogger("hmcsim.hmc")

OS_MESSAGE_BUFFER_SIZE = 1000   # per partition/LPAR, like the SE's limited buffer
REFRESH_CHUNK = 100             # OS messages per refresh notification
UUID_NAMESPACE = uuid.UUID("5c1f7a0e-7d0e-4b59-9c41-6a8e2d4f0b11")


class HmcError(Exception):
    """An HMC-shaped error: HTTP status, reason code and message."""

    def __init__(self, http_status, reason, message):
        super().__init__(message)
        self.http_status = http_status
        self.reason = reason
        self.message = message


def now_ms():
    return int(time.time() * 1000)


def _stable_id(*parts):
    """An object ID that stays the same across restarts (so URIs do too)."""
    return str(uuid.uuid5(UUID_NAMESPACE, "/".join(parts)))


class Resource:
    """A CPC, a DPM partition or a classic LPAR."""

    def __init__(self, kind, name, parent=None, status=None, os_type=None, os_messages=False):
        self.kind = kind                       # "cpc" | "partition" | "logical-partition"
        self.name = name
        self.parent = parent
        self.oid = _stable_id(kind, parent.name if parent else "", name)
        base = {"cpc": "/api/cpcs/", "partition": "/api/partitions/",
                "logical-partition": "/api/logical-partitions/"}[kind]
        self.uri = base + self.oid
        self.status = status
        self.additional_status = ""
        self.os_type = os_type
        self.os_messages_supported = os_messages
        self.os_messages = []                  # the SE's buffer; survives restart()
        self.next_os_seq = 0
        self.dpm = None                        # only for CPCs
        self.children = []

    @property
    def acceptable_statuses(self):
        if self.kind == "partition":
            return ["active"]
        if self.kind == "logical-partition":
            return ["operating"]
        return ["active", "operating"]

    @property
    def has_unacceptable_status(self):
        return self.status not in self.acceptable_statuses

    def properties(self):
        props = {
            "object-uri": self.uri,
            "object-id": self.oid,
            "class": self.kind,
            "name": self.name,
            "description": "hmcsim %s %s" % (self.kind, self.name),
            "status": self.status,
            "has-unacceptable-status": self.has_unacceptable_status,
            "acceptable-status": list(self.acceptable_statuses),
        }
        if self.kind == "cpc":
            props.update({
                "parent": "/api/console",
                "dpm-enabled": self.dpm,
                "se-version": "2.16.0",
                "machine-type": "3931",
                "machine-model": "A01",
                "is-locked": False,
            })
        else:
            props.update({
                "parent": self.parent.uri,
                "os-type": self.os_type,
                "os-name": self.name if self.status in ("active", "operating") else "",
                "os-version": "",
                "additional-status": self.additional_status,
            })
            if self.kind == "partition":
                props["type"] = "linux" if self.os_type == "Linux" else "ssc" if self.os_type == "SSC" else "linux"
            else:
                props["activation-mode"] = "esa390" if self.os_type == "z/OS" else "linux"
        return props


class Session:
    """An API session with its per-session topics."""

    def __init__(self, userid, number):
        self.id = secrets.token_hex(16)
        self.credential = secrets.token_urlsafe(24)
        self.userid = userid
        self.number = number
        self.object_topic = "%s.%dobj" % (userid, number)
        self.job_topic = "%s.%djob" % (userid, number)
        self.channels = {}                     # object uri -> Topic
        self.sequence_nr = 0


class Topic:
    def __init__(self, name, topic_type, session=None, resource=None, include_refresh=False):
        self.name = name
        self.type = topic_type
        self.session = session
        self.resource = resource
        self.include_refresh = include_refresh
        self.sequence_nr = 0                   # used only for HMC-wide topics

    def describe(self):
        item = {"topic-type": self.type, "topic-name": self.name}
        if self.type == "os-message-notification":
            item["object-uri"] = self.resource.uri
            item["include-refresh-messages"] = self.include_refresh
        return item


class Job:
    def __init__(self, session, operation, resource):
        self.id = uuid.uuid4().hex
        self.uri = "/api/jobs/" + self.id
        self.session = session
        self.operation = operation
        self.resource = resource
        self.status = "running"
        self.status_code = None
        self.reason_code = None
        self.results = None

    def to_json(self):
        data = {"status": self.status}
        if self.status in ("complete", "canceled"):
            data["job-status-code"] = self.status_code
            data["job-reason-code"] = self.reason_code
            data["job-results"] = self.results
        return data


class NullPublisher:
    """Publishes nowhere (before a transport is attached)."""

    def publish(self, topic_name, headers, body):
        pass


# What each async operation does: allowed start statuses, interim status, final status.
_OPERATIONS = {
    ("partition", "start"): (("stopped", "terminated", "paused", "status-check"), "starting", "active"),
    ("partition", "stop"): (("active", "degraded", "paused", "starting", "status-check", "reservation-error"),
                            "stopping", "stopped"),
    ("logical-partition", "activate"): (("not-activated", "not-operating", "operating", "exceptions"),
                                        None, "operating"),
    ("logical-partition", "deactivate"): (("not-activated", "not-operating", "operating", "exceptions",
                                           "acceptable"), None, "not-activated"),
    ("logical-partition", "load"): (("not-operating", "operating", "exceptions"), None, "operating"),
}


class Hmc:
    """State and behaviour of the simulated HMC (thread-safe)."""

    def __init__(self, config, job_delay=0.5):
        self.lock = threading.RLock()
        self.config = config
        self.job_delay = job_delay
        self.publisher = NullPublisher()
        self.hmc_name = config["hmc_name"]
        self.hmc_version = config["hmc_version"]
        self.api_version = tuple(config["api_version"])
        self.users = {}
        for user in config["users"]:
            self.users[user["userid"]] = {
                "password": user.get("password") or secrets.token_urlsafe(18),
                "uri": "/api/users/" + _stable_id("user", user["userid"]),
            }
        self.cpcs = []
        self.by_uri = {}
        for cpc_cfg in config["cpcs"]:
            cpc = Resource("cpc", cpc_cfg["name"], status="active" if cpc_cfg["dpm"] else "operating")
            cpc.dpm = cpc_cfg["dpm"]
            self.cpcs.append(cpc)
            self.by_uri[cpc.uri] = cpc
            kind = "partition" if cpc.dpm else "logical-partition"
            for child_cfg in cpc_cfg["partitions" if cpc.dpm else "lpars"]:
                child = Resource(kind, child_cfg["name"], parent=cpc, status=child_cfg["status"],
                                 os_type=child_cfg["os_type"], os_messages=child_cfg["os_messages"])
                cpc.children.append(child)
                self.by_uri[child.uri] = child
        self.audit_topic = "%s.audit" % self.hmc_name.lower()
        self.security_topic = "%s.security" % self.hmc_name.lower()
        self.sessions = {}
        self.topics = {}
        self.jobs = {}
        self.session_counter = 0
        self.global_sequence_nr = 0
        self.generation = 0                    # bumped by restart(): stale job timers do nothing
        # External-broker mode has no SUBSCRIBE hook: refresh messages are published this many
        # seconds after the channel is opened instead (None: replay on subscribe, built-in endpoint).
        self.refresh_after_open = None
        self.down_until = 0.0                  # monotonic time until which the WS API answers 503
        self._install_global_topics()

    # ----------------------------------------------------------------- helpers
    def _install_global_topics(self):
        self.topics[self.audit_topic] = Topic(self.audit_topic, "audit-notification")
        self.topics[self.security_topic] = Topic(self.security_topic, "security-notification")

    def first_user(self):
        userid = next(iter(self.users))
        return userid, self.users[userid]["password"]

    def find(self, cpc_name, name=None):
        """Return the CPC (name None) or its partition/LPAR by name; KeyError if absent."""
        for cpc in self.cpcs:
            if cpc.name == cpc_name:
                if name is None:
                    return cpc
                for child in cpc.children:
                    if child.name == name:
                        return child
                raise KeyError("CPC %r has no partition or LPAR named %r" % (cpc_name, name))
        raise KeyError("no CPC named %r" % (cpc_name,))

    def resource(self, uri, kind=None):
        res = self.by_uri.get(uri)
        if res is None or (kind is not None and res.kind != kind):
            raise HmcError(404, 1, "The object designated by the request URI does not exist.")
        return res

    # ------------------------------------------------------------- publishing
    def _publish(self, topic, headers, body):
        """Number and hand one notification to the publisher (caller holds the lock)."""
        if topic.session is not None:
            topic.session.sequence_nr += 1
            seq = topic.session.sequence_nr
        else:
            topic.sequence_nr += 1
            seq = topic.sequence_nr
        self.global_sequence_nr += 1
        full = {
            "notification-type": headers.pop("notification-type"),
            "session-sequence-nr": str(seq),
            "global-sequence-nr": str(self.global_sequence_nr),
            "timestamp": str(now_ms()),
            "expires": "0",
            "priority": "4",
        }
        full.update({k: str(v) for k, v in headers.items()})
        text = "" if body is None else json.dumps(body, separators=(",", ":"))
        self.publisher.publish(topic.name, full, text)
        return full, text

    @staticmethod
    def _object_headers(res):
        return {"object-uri": res.uri, "object-id": res.oid, "class": res.kind, "name": res.name}

    def _publish_to_object_topics(self, ntype, res, body, extra=None):
        for session in list(self.sessions.values()):
            headers = {"notification-type": ntype}
            headers.update(self._object_headers(res))
            headers.update(extra or {})
            self._publish(self.topics[session.object_topic], headers, body)

    def _log_entry(self, topic_name, event_name, event_id, userid, message):
        entry = {
            "event-time": now_ms(),
            "event-name": event_name,
            "event-id": event_id,
            "userid": userid,
            "user-uri": self.users.get(userid, {}).get("uri"),
            "event-message": message,
            "event-data-items": [
                {"data-item-number": 0, "data-item-value": userid, "data-item-type": "string"},
            ],
        }
        console = {"object-uri": "/api/console", "object-id": "console", "class": "console",
                   "name": self.hmc_name}
        headers = {"notification-type": "log-entry"}
        headers.update(console)
        self._publish(self.topics[topic_name], headers, {"log-entries": [entry]})

    # --------------------------------------------------------------- sessions
    def logon(self, userid, password):
        with self.lock:
            user = self.users.get(userid) if isinstance(userid, str) else None
            if user is None or not isinstance(password, str) or not secrets.compare_digest(
                    user["password"].encode(), password.encode()):
                self._log_entry(self.security_topic, "Logon failed", "1951", str(userid)[:64],
                                "A Web Services API logon for user %s failed." % str(userid)[:64])
                raise HmcError(403, 0, "Logon failed: the userid or password is not valid.")
            self.session_counter += 1
            session = Session(userid, self.session_counter)
            self.sessions[session.id] = session
            self.topics[session.object_topic] = Topic(session.object_topic, "object-notification", session)
            self.topics[session.job_topic] = Topic(session.job_topic, "job-notification", session)
            message = "User %s logged on to the Web Services API (session %d)." % (userid, session.number)
            self._log_entry(self.audit_topic, "Web Services API logon", "1950", userid, message)
            self._log_entry(self.security_topic, "User logged on", "1950", userid, message)
            LOG.info("logon of %s (session #%d)", userid, session.number)
            return session

    def session(self, session_id):
        """Return the valid session for an X-API-Session value, or raise 403 4/5."""
        if not session_id:
            raise HmcError(403, 4, "The request did not include an X-API-Session header.")
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise HmcError(403, 5, "The session ID is not valid or the session has expired.")
            return session

    def _end_session(self, session):
        self.sessions.pop(session.id, None)
        for name in [session.object_topic, session.job_topic] + [t.name for t in session.channels.values()]:
            self.topics.pop(name, None)
        session.channels.clear()

    def logoff(self, session):
        with self.lock:
            if session.id not in self.sessions:
                return
            self._end_session(session)
            message = "User %s logged off from the Web Services API (session %d)." % (
                session.userid, session.number)
            self._log_entry(self.audit_topic, "Web Services API logoff", "1952", session.userid, message)
            self._log_entry(self.security_topic, "User logged off", "1952", session.userid, message)
            LOG.info("logoff of %s (session #%d)", session.userid, session.number)

    def expire_session(self, session_id=None):
        """End one session (or all): 403 reason 5 from then on, its topics are gone."""
        with self.lock:
            if session_id is None:
                victims = list(self.sessions.values())
            else:
                victim = self.sessions.get(session_id)
                if victim is None:
                    raise KeyError("no such session")
                victims = [victim]
            for session in victims:
                self._end_session(session)
            LOG.info("expired %d session(s)", len(victims))
            return len(victims)

    def restart(self):
        """As after an HMC reboot: sessions, their topics and jobs are gone; OS message buffers stay."""
        with self.lock:
            for session in list(self.sessions.values()):
                self._end_session(session)
            self.jobs.clear()
            self.generation += 1
            self.topics.clear()
            self._install_global_topics()
            LOG.info("restarted: all sessions, session topics and jobs are gone")

    def is_down(self):
        return time.monotonic() < self.down_until

    def session_ids(self):
        with self.lock:
            return list(self.sessions)

    def authenticate_stomp(self, login, passcode):
        """STOMP login: session id + session credential, or userid + password."""
        if not isinstance(login, str) or not isinstance(passcode, str):
            return False
        with self.lock:
            session = self.sessions.get(login)
            if session is not None:
                return secrets.compare_digest(session.credential.encode(), passcode.encode())
            user = self.users.get(login)
            if user is not None:
                return secrets.compare_digest(user["password"].encode(), passcode.encode())
            return False

    def topics_for(self, session):
        with self.lock:
            items = [self.topics[session.object_topic].describe(), self.topics[session.job_topic].describe(),
                     self.topics[self.audit_topic].describe(), self.topics[self.security_topic].describe()]
            items.extend(t.describe() for t in session.channels.values())
            return items

    def topic_known(self, name):
        with self.lock:
            return name in self.topics

    def open_channels(self):
        with self.lock:
            return [{"topic-name": t.name, "object-uri": t.resource.uri, "name": t.resource.name,
                     "cpc": t.resource.parent.name, "session-number": t.session.number,
                     "include-refresh-messages": t.include_refresh}
                    for s in self.sessions.values() for t in s.channels.values()]

    # ------------------------------------------------------------- resources
    @staticmethod
    def _match(pattern_list, value):
        for pattern in pattern_list:
            try:
                if re.fullmatch(pattern, value or ""):
                    return True
            except re.error as exc:
                raise HmcError(400, 14, "The filter value %r is not a valid regular expression: %s"
                               % (pattern, exc)) from None
        return False

    def list_cpcs(self, names):
        with self.lock:
            out = []
            for cpc in self.cpcs:
                if names and not self._match(names, cpc.name):
                    continue
                props = cpc.properties()
                out.append({k: props[k] for k in ("object-uri", "name", "status", "has-unacceptable-status",
                                                  "dpm-enabled", "se-version")})
            return out

    def list_children(self, cpc, kind, filters):
        with self.lock:
            out = []
            wanted_kind = "partition" if kind == "partitions" else "logical-partition"
            for child in cpc.children:
                if child.kind != wanted_kind:
                    continue
                props = child.properties()
                if filters.get("name") and not self._match(filters["name"], child.name):
                    continue
                if filters.get("status") and child.status not in filters["status"]:
                    continue
                if filters.get("type") and props.get("type") not in filters["type"]:
                    continue
                keys = ["object-uri", "name", "status"] + (["type"] if wanted_kind == "partition" else [])
                out.append({k: props[k] for k in keys})
            return out

    def properties(self, res, wanted=None):
        with self.lock:
            props = res.properties()
        if wanted:
            props = {k: v for k, v in props.items() if k in wanted}
        return props

    def set_status(self, res, status, additional_status=None):
        """Change a status and publish status-change and property-change notifications."""
        with self.lock:
            old_status, old_add, old_unacc = res.status, res.additional_status, res.has_unacceptable_status
            res.status = status
            if additional_status is not None:
                res.additional_status = additional_status
            report = {
                "old-status": old_status,
                "new-status": status,
                "old-additional-status": old_add,
                "new-additional-status": res.additional_status,
                "has-unacceptable-status": res.has_unacceptable_status,
            }
            self._publish_to_object_topics("status-change", res, {"change-reports": [report]})
            changes = [{"property-name": "status", "old-value": old_status, "new-value": status}]
            if old_unacc != res.has_unacceptable_status:
                changes.append({"property-name": "has-unacceptable-status", "old-value": old_unacc,
                                "new-value": res.has_unacceptable_status})
            names = " " + " ".join(c["property-name"] for c in changes) + " "
            self._publish_to_object_topics("property-change", res, {"change-reports": changes},
                                           {"property-names": names})

    def inventory_change(self, res, action):
        if action not in ("add", "remove"):
            raise ValueError("action must be 'add' or 'remove', got %r" % (action,))
        with self.lock:
            self._publish_to_object_topics("inventory-change", res, None, {"action": action})

    # ----------------------------------------------------------- OS messages
    def open_os_message_channel(self, session, res, include_refresh):
        with self.lock:
            if not res.os_messages_supported:
                raise HmcError(409, 332, "The operating system in %s %s does not support OS messages."
                               % (res.kind, res.name))
            if res.uri in session.channels:
                raise HmcError(409, 331, "An OS message channel for this object is already open for this session.")
            name = "%s.%dosm.%s" % (session.userid, session.number, res.oid.replace("-", ""))
            topic = Topic(name, "os-message-notification", session, res, include_refresh)
            session.channels[res.uri] = topic
            self.topics[name] = topic
            if include_refresh and self.refresh_after_open is not None and res.os_messages:
                timer = threading.Timer(self.refresh_after_open, self._publish_refresh, args=(name,))
                timer.daemon = True
                timer.start()
            return name

    def _publish_refresh(self, topic_name):
        with self.lock:
            for headers, body in self.refresh_notifications(topic_name):
                self.publisher.publish(topic_name, headers, body)

    def emit_os_messages(self, res, messages):
        """Append messages to the partition's buffer and publish them on every open channel."""
        if res.kind == "cpc":
            raise ValueError("OS messages need a partition or LPAR, not a CPC")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list of strings or dicts")
        with self.lock:
            infos = []
            for item in messages:
                msg = {"message-text": item} if isinstance(item, str) else item
                if not isinstance(msg, dict) or not isinstance(msg.get("message-text"), str):
                    raise ValueError("each message must be a string or a dict with a 'message-text' string")
                res.next_os_seq += 1
                info = {
                    "sequence-number": res.next_os_seq,
                    "message-text": msg["message-text"],
                    "message-id": str(msg.get("message-id", "0")),
                    "timestamp": msg.get("timestamp", now_ms()),
                    "sound-alarm": bool(msg.get("sound-alarm", False)),
                    "is-priority": bool(msg.get("is-priority", False)),
                    "is-held": bool(msg.get("is-held", False)),
                    "prompt-text": msg.get("prompt-text", ""),
                    "os-name": msg.get("os-name"),
                }
                infos.append(info)
                res.os_messages.append(info)
            self._trim_buffer(res)
            self._publish_os_messages(res, [dict(i, **{"is-refresh": False}) for i in infos])
            return [i["sequence-number"] for i in infos]

    @staticmethod
    def _trim_buffer(res):
        """Drop the oldest messages that are neither held nor priority, as the SE does."""
        excess = len(res.os_messages) - OS_MESSAGE_BUFFER_SIZE
        if excess <= 0:
            return
        kept = []
        for info in res.os_messages:
            if excess > 0 and not info["is-held"] and not info["is-priority"]:
                excess -= 1
                continue
            kept.append(info)
        res.os_messages = kept

    def _publish_os_messages(self, res, infos, only_topic=None):
        for session in list(self.sessions.values()):
            topic = session.channels.get(res.uri)
            if topic is None or (only_topic is not None and topic is not only_topic):
                continue
            headers = {"notification-type": "os-message"}
            headers.update(self._object_headers(res))
            self._publish(topic, headers, {"os-messages": infos})

    def refresh_notifications(self, topic_name):
        """Refresh messages for a new subscriber of an OS channel topic: [(headers, body_text)]."""
        with self.lock:
            topic = self.topics.get(topic_name)
            if topic is None or topic.type != "os-message-notification" or not topic.include_refresh:
                return []
            res = topic.resource
            infos = [dict(i, **{"is-refresh": True}) for i in res.os_messages]
            out = []
            for start in range(0, len(infos), REFRESH_CHUNK):
                headers = {"notification-type": "os-message"}
                headers.update(self._object_headers(res))
                out.append(self._numbered(topic, headers, {"os-messages": infos[start:start + REFRESH_CHUNK]}))
            return out

    def _numbered(self, topic, headers, body):
        """Like _publish but returns the message instead of publishing it (one subscriber only)."""
        captured = []
        publisher, self.publisher = self.publisher, _Capture(captured)
        try:
            self._publish(topic, headers, body)
        finally:
            self.publisher = publisher
        return captured[0]

    def list_os_messages(self, res, begin=None, end=None, is_held=None, is_priority=None, max_messages=None):
        if not res.os_messages_supported:
            raise HmcError(409, 332, "The operating system in %s %s does not support OS messages."
                           % (res.kind, res.name))
        with self.lock:
            out = []
            for info in res.os_messages:
                seq = info["sequence-number"]
                if begin is not None and seq < begin:
                    continue
                if end is not None and seq > end:
                    continue
                if is_held is not None and info["is-held"] != is_held:
                    continue
                if is_priority is not None and info["is-priority"] != is_priority:
                    continue
                out.append(dict(info))
                if max_messages is not None and len(out) >= max_messages:
                    break
            return out

    def delete_os_message(self, res, seq):
        with self.lock:
            for i, info in enumerate(res.os_messages):
                if info["sequence-number"] == seq:
                    del res.os_messages[i]
                    return
            raise HmcError(404, 1, "There is no OS message with sequence number %d." % seq)

    def send_os_command(self, res, text, is_priority):
        with self.lock:
            if not res.os_messages_supported or res.status not in ("active", "degraded", "operating"):
                raise HmcError(409, 332, "The operating system messages interface of %s %s is not available "
                               "(status %s)." % (res.kind, res.name, res.status))
        # The echo: the OS shows the command, as consoles do.
        self.emit_os_messages(res, [{"message-text": text + "\n", "is-priority": is_priority}])

    # ------------------------------------------------------------------ jobs
    def start_job(self, session, res, operation):
        key = (res.kind, operation)
        allowed, interim, final = _OPERATIONS[key]
        with self.lock:
            if res.status not in allowed:
                raise HmcError(409, 1, "The %s operation is not allowed for %s %s in status %s."
                               % (operation, res.kind, res.name, res.status))
            job = Job(session, operation, res)
            self.jobs[job.id] = job
            if interim:
                self.set_status(res, interim)
            generation = self.generation
        timer = threading.Timer(self.job_delay, self._finish_job, args=(job, final, generation))
        timer.daemon = True
        timer.start()
        return job

    def _finish_job(self, job, final, generation):
        with self.lock:
            if generation != self.generation or job.id not in self.jobs or job.status != "running":
                return
            self.set_status(job.resource, final)
            job.status = "complete"
            job.status_code = 200 if job.operation in ("start", "stop") else 204
            job.reason_code = None
            job.results = None
            session = job.session
            if session.id in self.sessions:
                self._publish(self.topics[session.job_topic],
                              {"notification-type": "job-completion", "job-uri": job.uri}, None)

    def job(self, job_id):
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise HmcError(404, 1, "The job designated by the request URI does not exist.")
            return job

    def delete_job(self, job_id):
        with self.lock:
            job = self.job(job_id)
            if job.status not in ("complete", "canceled"):
                raise HmcError(409, 40, "The job has not completed yet.")
            del self.jobs[job_id]

    def cancel_job(self, job_id):
        with self.lock:
            job = self.job(job_id)
            if job.status in ("complete", "canceled"):
                raise HmcError(409, 41, "The job has already completed.")
            raise HmcError(404, 4, "The %s job cannot be canceled." % job.operation)

    # --------------------------------------------------------------- raw use
    def publish_raw(self, topic_name, headers, body):
        """Publish anything to a topic name (no checks, body as given: str, None or JSON data)."""
        if not isinstance(topic_name, str) or not topic_name:
            raise ValueError("topic_name must be a non-empty string")
        headers = {str(k): str(v) for k, v in (headers or {}).items()}
        if body is None:
            text = ""
        elif isinstance(body, str):
            text = body
        else:
            text = json.dumps(body)
        with self.lock:
            headers.setdefault("timestamp", str(now_ms()))
            self.publisher.publish(topic_name, headers, text)


class _Capture:
    def __init__(self, sink):
        self.sink = sink

    def publish(self, topic_name, headers, body):
        self.sink.append((headers, body))
