"""A benchmark-only ansible-rulebook source: puts the event dicts of a JSON-lines file on the
queue one after the other, as fast as the rules engine takes them (no network, no parsing of
notifications): the reference for the rules engine's own rate. Not shipped.

    sources:
      - replay_events:
          path: /tmp/events.jsonl
"""
import json
from typing import Any, Dict


async def main(queue: Any, args: Dict[str, Any]) -> None:
    with open(args["path"], encoding="utf-8") as handle:
        for line in handle:
            await queue.put(json.loads(line))
