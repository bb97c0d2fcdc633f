"""The console's audit and security logs: entries in the HMC's format, kept for Get Console
Audit/Security Log and published as log-entry notifications by the caller.

Event ids and message templates come from zhmc-log-forwarder's catalogue of HMC log
messages (zhmc_log_messages.yml): 1941 WS API logon, 1942 WS API logoff, 522 logon with a
userid or password that is not valid. Entry fields are the ones zhmc-log-forwarder reads.
"""
from __future__ import annotations

import collections
import time
from typing import Any

MAX_LOG_ENTRIES = 10000      # per log; the oldest go first

# event id -> (event name, message template with {0}.. for the data items)
EVENTS = {
    "1941": ("Web Services API logon",
             "User {0} has logged on to Web Services API session {1} from location {2}"),
    "1942": ("Web Services API logoff",
             "User {0} has logged off from Web Services API session {1} due to {2}"),
    "522": ("Logon failed",
            "User {0} attempted to log on with a user identification or password that was not valid"),
}


def now_ms() -> int:
    return int(time.time() * 1000)


def log_entry(event_id: str, items: list[str], userid: str | None, user_uri: str | None) -> dict[str, Any]:
    """One log entry: the event's name, its message with the data items filled in, the items."""
    name, template = EVENTS[event_id]
    return {
        "event-time": now_ms(),
        "event-name": name,
        "event-id": event_id,
        "userid": userid,
        "user-uri": user_uri,
        "event-message": template.format(*items),
        "event-data-items": [{"data-item-number": n, "data-item-value": v, "data-item-type": "string"}
                             for n, v in enumerate(items)],
    }


class ConsoleLog:
    """A bounded log (audit or security) that answers Get Console ... Log queries."""

    def __init__(self) -> None:
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_LOG_ENTRIES)

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)

    def query(self, begin: int | None = None, end: int | None = None) -> list[dict[str, Any]]:
        """Entries whose event-time is within [begin, end] (milliseconds), oldest first."""
        return [dict(e) for e in self.entries
                if (begin is None or e["event-time"] >= begin) and (end is None or e["event-time"] <= end)]
