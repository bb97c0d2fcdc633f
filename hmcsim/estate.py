"""Generated estates for scale tests: N CPCs x M partitions or LPARs.

Deterministic for a seed: the same arguments give the same names, statuses and OS types
(so two hmcsim instances, or two test runs, see the same estate). Odd-numbered CPCs are in
DPM mode (partitions), even-numbered ones classic (LPARs), unless `dpm` says otherwise.
Names follow the HMC's rules (LPAR names 1-8 characters): an OS prefix, the CPC number and
the index, e.g. `LNX03017` (partition 17 of CPC03) or `ZOS04002`.
"""
from __future__ import annotations

import random
from typing import Any

# (os type, name prefix, OS-message support, weight) per CPC mode: a typical mix.
_DPM_MIX = (("Linux", "LNX", True, 80), ("z/VM", "ZVM", True, 10), ("SSC", "SSC", False, 10))
_CLASSIC_MIX = (("z/OS", "ZOS", True, 70), ("z/VM", "ZVM", True, 10), ("Linux", "LNX", True, 10),
                ("CF", "ICF", False, 10))
# (status, weight): most are running, some stopped, a few in trouble.
_DPM_STATUSES = (("active", 85), ("stopped", 10), ("degraded", 3), ("paused", 2))
_CLASSIC_STATUSES = (("operating", 85), ("not-activated", 10), ("not-operating", 3), ("exceptions", 2))

MAX_CPCS = 99
MAX_PER_CPC = 999
DPM_CHOICES = ("mixed", "all", "none")


def _pick(rng: random.Random, table: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    return rng.choices(table, weights=[row[-1] for row in table])[0]


def generate(cpcs: int, per_cpc: int, seed: int = 0, dpm: str = "mixed") -> list[dict[str, Any]]:
    """The `cpcs` list of a configuration (see hmcsim.config) for a generated estate."""
    rng = random.Random(seed)   # noqa: S311 - a reproducible estate, not a secret
    out = []
    for number in range(1, cpcs + 1):
        is_dpm = dpm == "all" or (dpm == "mixed" and number % 2 == 1)
        mix, statuses = (_DPM_MIX, _DPM_STATUSES) if is_dpm else (_CLASSIC_MIX, _CLASSIC_STATUSES)
        children = []
        for index in range(1, per_cpc + 1):
            os_type, prefix, os_messages = _pick(rng, mix)[:3]
            children.append({"name": "%s%02d%03d" % (prefix, number, index), "status": _pick(rng, statuses)[0],
                             "os_type": os_type, "os_messages": os_messages})
        out.append({"name": "CPC%02d" % number, "dpm": is_dpm,
                    "partitions" if is_dpm else "lpars": children})
    return out


def parse_size(text: str) -> dict[str, int]:
    """`NxM` (e.g. `10x100`) -> {"cpcs": N, "per_cpc": M}; ValueError names the problem."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError("must be CPCSxPARTITIONS, e.g. 10x100, got %r" % text)
    return {"cpcs": int(parts[0]), "per_cpc": int(parts[1])}
