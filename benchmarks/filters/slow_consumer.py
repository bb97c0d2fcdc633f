"""A benchmark-only ansible-rulebook event filter (`-F benchmarks/filters`), not shipped: the
reliability suite's slow consumer (tests/reliability/test_slow_consumer.py: a pause of
`seconds` after every `every` events) inside ansible-rulebook, and a count of what passed.

It runs in the source's put (ansible-rulebook applies filters there), so its pause holds the
source exactly as the test's consumer does: nothing is taken from the source meanwhile. It
counts the distinct `zeda-test-id` headers it sees and prints `SLOW-CONSUMER <distinct>
<repeated>` every `report_every` events and when `expect` distinct ones have passed.

    filters:
      - slow_consumer: {every: 50, seconds: 0.01, expect: 50000}
"""
import time
from typing import Any, Dict

_SEEN: set = set()
_STATE: Dict[str, int] = {"events": 0, "repeated": 0}


def main(event: Dict[str, Any], every: int = 50, seconds: float = 0.01, expect: int = 0,
         report_every: int = 5000) -> Dict[str, Any]:
    item = ((event.get("hmc") or {}).get("headers") or {}).get("zeda-test-id")
    if item is not None:
        if item in _SEEN:
            _STATE["repeated"] += 1
        _SEEN.add(item)
        _STATE["events"] += 1
        if _STATE["events"] % report_every == 0 or len(_SEEN) == expect:
            print("SLOW-CONSUMER %d %d" % (len(_SEEN), _STATE["repeated"]), flush=True)
        if every and _STATE["events"] % every == 0:
            time.sleep(seconds)
    return event
