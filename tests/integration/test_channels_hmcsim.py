"""Opening the OS message channels of a generated estate against hmcsim (the real HMC client
over verified HTTPS): many calls at once end with the same watch list as one at a time, also
when the HMC answers busy (503, HTML) to what goes beyond what it can take."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Dict, List, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.aio import Clock
from ansible_collections.zhmc.eda.plugins.module_utils.channels import ChannelOpener
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClient
from ansible_collections.zhmc.eda.plugins.module_utils.parallel_calls import ParallelCalls
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper
from ansible_collections.zhmc.eda.plugins.module_utils.watch_list import ChannelSpec, WatchList

ESTATE = {"estate": {"cpcs": 4, "per_cpc": 25, "seed": 7}}
SPECS = [{"cpc": "CPC0[13]", "partition": ".*"}, {"cpc": "CPC0[24]", "lpar": "(ZOS|LNX).*"}]
SPEED_UP = 20.0  # back-off waits of the test run this many times shorter


class FastClock(Clock):
    """Time that runs SPEED_UP times faster than the real one."""

    def monotonic(self) -> float:
        return time.monotonic() * SPEED_UP

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / SPEED_UP)


def open_estate(sim, limit: int) -> Tuple[WatchList, ParallelCalls]:
    """Log on and open the channels the specs select, wired as the source wires its parts."""
    calls = ParallelCalls(limit, FastClock())
    client = HMCClient("127.0.0.1", sim.userid, sim.password, port=sim.ws_port,
                       verify_cert=sim.ca_file, timeout=(5, 20), max_connections=limit + 2,
                       on_busy=calls.note_busy)
    client._http.sleep = lambda seconds: time.sleep(seconds / SPEED_UP)
    keeper = SessionKeeper(client, can_renew=True, call_timeout=30, report=lambda signal: None)
    watch = WatchList(channel_specs=[ChannelSpec.from_option(s) for s in SPECS], follow=True)

    async def main() -> None:
        await keeper.open()
        await ChannelOpener(keeper, watch, True, calls).reconcile_all(initial=True)

    try:
        asyncio.run(main())
    finally:
        client.logoff()
        client.close()
    return watch, calls


def outcome(watch: WatchList) -> Dict[str, List]:
    """What the watch list holds, without the session's topic names."""
    return {"open": [(s.obj.cpc_name, s.obj.name) for s in watch.channels()],
            "unavailable": [(o.cpc_name, o.name, why) for o, why in watch.unavailable()]}


def test_many_calls_at_once_against_a_busy_hmc_end_like_one_at_a_time(hmcsim_factory, caplog):
    caplog.set_level(logging.WARNING, logger="zhmc.eda.source")
    sim = hmcsim_factory(config=ESTATE)
    one, _calls = open_estate(sim, 1)
    expected = outcome(one)
    assert len(expected["open"]) > 40 and expected["unavailable"], "a mixed estate"

    sim.set_ws_delay(0.02)
    sim.set_ws_capacity(3)  # more than 3 requests at once: 503 with an HTML page
    before = sim.ws_stats()
    many, calls = open_estate(sim, 8)
    stats = sim.ws_stats()
    busy = stats["busy"] - before["busy"]
    requests = stats["requests"] - before["requests"]

    assert outcome(many) == expected
    assert busy > 0 and calls.busy_answers >= busy, "the HMC was busy and the source noticed"
    assert "4 call(s) at a time from now on" in caplog.text, "it slowed down"
    # bounded: every object's call made at most a few times over, not hammered
    objects = len(expected["open"]) + len(expected["unavailable"])
    assert requests < 3 * objects, (requests, busy, objects)
