"""A partition's or LPAR's OS-message buffer, as the SE keeps it.

Sequence numbers rise per object; the buffer holds `BUFFER_SIZE` messages and drops the
oldest that are neither held nor priority first; it survives an HMC restart.
"""
from __future__ import annotations

from typing import Any

from hmcsim.jobs import HmcError
from hmcsim.logs import now_ms
from hmcsim.resources import Resource

BUFFER_SIZE = 1000          # per partition/LPAR, like the SE's limited buffer
REFRESH_CHUNK = 100         # OS messages per refresh notification


def append(res: Resource, messages: list[Any]) -> list[dict[str, Any]]:
    """Number the messages (str, or dicts with message-text ...), buffer them, return their infos."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of strings or dicts")
    items = [{"message-text": m} if isinstance(m, str) else m for m in messages]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("message-text"), str):
            raise ValueError("each message must be a string or a dict with a 'message-text' string")
    infos = []
    for item in items:
        res.next_os_seq += 1
        infos.append({
            "sequence-number": res.next_os_seq,
            "message-text": item["message-text"],
            "message-id": str(item.get("message-id", "0")),
            "timestamp": item.get("timestamp", now_ms()),
            "sound-alarm": bool(item.get("sound-alarm", False)),
            "is-priority": bool(item.get("is-priority", False)),
            "is-held": bool(item.get("is-held", False)),
            "prompt-text": item.get("prompt-text", ""),
            "os-name": item.get("os-name"),
        })
    res.os_messages.extend(infos)
    _trim(res)
    return infos


def _trim(res: Resource) -> None:
    excess = len(res.os_messages) - BUFFER_SIZE
    if excess <= 0:
        return
    kept = []
    for info in res.os_messages:
        if excess > 0 and not info["is-held"] and not info["is-priority"]:
            excess -= 1
            continue
        kept.append(info)
    res.os_messages = kept


def query(res: Resource, begin: int | None = None, end: int | None = None, is_held: bool | None = None,
          is_priority: bool | None = None, max_messages: int | None = None) -> list[dict[str, Any]]:
    """List OS Messages with its filters."""
    out = []
    for info in res.os_messages:
        seq = info["sequence-number"]
        if (begin is not None and seq < begin) or (end is not None and seq > end):
            continue
        if (is_held is not None and info["is-held"] != is_held) or \
                (is_priority is not None and info["is-priority"] != is_priority):
            continue
        out.append(dict(info))
        if max_messages is not None and len(out) >= max_messages:
            break
    return out


def delete(res: Resource, seq: int) -> None:
    for i, info in enumerate(res.os_messages):
        if info["sequence-number"] == seq:
            del res.os_messages[i]
            return
    raise HmcError(404, 1, "There is no OS message with sequence number %d." % seq)


def refresh_chunks(res: Resource) -> list[list[dict[str, Any]]]:
    """The buffer as refresh messages (is-refresh true), in chunks of REFRESH_CHUNK."""
    infos = [dict(i, **{"is-refresh": True}) for i in res.os_messages]
    return [infos[i:i + REFRESH_CHUNK] for i in range(0, len(infos), REFRESH_CHUNK)]
