# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Job status look-ups beside the event stream.

A job-completion notification names only the job. With ``job_status`` the source asks the
HMC for the job's status and results (Query Job Status) before it emits the event. That
call may hang; it must not hold up every other event. So each look-up runs in a task of its
own with a short budget: the job's event is emitted when the answer comes, or without the
status (``hmc.job.status_error`` says why) when the budget is spent. Other events go on
meanwhile, so a job-completion event may come after events that arrived later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Set

from ansible_collections.zhmc.eda.plugins.module_utils.emitter import Emitter
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClientError
from ansible_collections.zhmc.eda.plugins.module_utils.session_keeper import SessionKeeper

LOG = logging.getLogger("zhmc.eda.source")

# Seconds one look-up may take before the event goes out without the job's status.
LOOKUP_BUDGET = 10.0
# Look-ups in flight at most; beyond that, events go out at once without the status.
MAX_LOOKUPS = 32


class JobStatusLookup:
    """Adds the job's status to job-completion events, off the event path."""

    def __init__(self, keeper: SessionKeeper, emitter: Emitter,
                 budget: float = LOOKUP_BUDGET, max_lookups: int = MAX_LOOKUPS) -> None:
        self._keeper = keeper
        self._emitter = emitter
        self._budget = budget
        self._max_lookups = max_lookups
        self._tasks: Set[asyncio.Task] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, event: dict) -> None:
        """Emit ``event`` once its job is looked up (or at once, when too many are)."""
        job = event["hmc"].setdefault("job", {})
        if not job.get("uri"):
            await self._emitter.emit(event)
            return
        if len(self._tasks) >= self._max_lookups:
            job["status_error"] = ("not looked up: %d job look-ups are in flight already"
                                   % len(self._tasks))
            await self._emitter.emit(event)
            return
        task = asyncio.ensure_future(self._look_up_and_emit(event, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _look_up_and_emit(self, event: dict, job: dict) -> None:
        uri = job["uri"]
        try:
            status = await self._keeper.call(
                self._keeper.client.query_job_status, uri, timeout=self._budget)
        except asyncio.TimeoutError:
            job["status_error"] = "the HMC did not answer within %.0f s" % self._budget
            LOG.warning("job %s: %s", uri, job["status_error"])
        except (HMCClientError, ValueError) as exc:
            job["status_error"] = self._keeper.mask(exc)
            LOG.warning("could not look up the status of job %s: %s", uri, job["status_error"])
        else:
            add_status(job, status or {})
        await self._emitter.emit(event)

    def close(self) -> None:
        """Stop the look-ups (the source is stopping: their events go with it)."""
        for task in list(self._tasks):
            task.cancel()


def add_status(job: dict, status: dict) -> None:
    """The Query Job Status fields an event carries (see events.md)."""
    job["status"] = status.get("status")
    job["job_status_code"] = status.get("job-status-code")
    job["job_reason_code"] = status.get("job-reason-code")
    job["job_results"] = status.get("job-results")
