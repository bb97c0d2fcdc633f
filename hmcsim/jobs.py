"""Asynchronous operations (start/stop partition, activate/deactivate/load LPAR) and their jobs.

The rules follow zhmcclient's mock of the HMC (zhmcclient/mock/_urihandler.py): Start
Partition only from `stopped`; Stop Partition from active/paused/terminated (plus degraded
and reservation-error, see docs/hmcsim.md "Decisions"); an LPAR operation that the HMC
refuses without `force` fails with HTTP status 500 reason 263 in the job's results. A check
the HMC makes before it accepts the request answers at once (409), everything else in the job.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hmcsim.resources import LPAR, PARTITION

if TYPE_CHECKING:
    from hmcsim.hmc import Session
    from hmcsim.resources import Resource

# CPC statuses in which a partition operation is accepted (mock: check_valid_cpc_status).
CPC_OPERABLE = frozenset({"active", "service-required", "degraded", "exceptions"})
JOB_FAILED = (500, 263)


class HmcError(Exception):
    """An HMC-shaped error: HTTP status, reason code and message."""

    def __init__(self, http_status: int, reason: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Operation:
    accepted_from: frozenset[str] | None     # None: any status; else 409 reason `refused_reason`
    refused_reason: int
    interim: str | None                      # status while the job runs
    final: str                               # status after success
    success_code: int                        # job-status-code on success
    cancellable: bool


OPERATIONS: dict[tuple[str, str], Operation] = {
    (PARTITION, "start"): Operation(frozenset({"stopped"}), 1, "starting", "active", 200, True),
    (PARTITION, "stop"): Operation(frozenset({"active", "paused", "terminated", "degraded", "reservation-error"}),
                                   1, "stopping", "stopped", 200, True),
    (LPAR, "activate"): Operation(None, 1, None, "operating", 204, False),
    (LPAR, "deactivate"): Operation(None, 1, None, "not-activated", 204, False),
    (LPAR, "load"): Operation(frozenset({"not-operating", "operating", "exceptions", "acceptable"}), 0,
                              None, "operating", 204, False),
}


def check_accepted(res: Resource, operation: str) -> Operation:
    """The operation's rules, or the HMC's immediate 409 when it refuses the request."""
    rules = OPERATIONS[(res.kind, operation)]
    if res.kind == PARTITION and res.parent is not None and res.parent.status not in CPC_OPERABLE:
        raise HmcError(409, 6, "The operation cannot be performed because CPC %s hosting the targeted "
                       "resource has a status that is not valid for the operation: %s"
                       % (res.parent.name, res.parent.status))
    if rules.accepted_from is not None and res.status not in rules.accepted_from:
        raise HmcError(409, rules.refused_reason, "The operation cannot be performed because %s %s has a "
                       "status that is not valid for the operation: %s" % (res.kind, res.name, res.status))
    return rules


def failure(res: Resource, operation: str, body: dict[str, Any]) -> str | None:
    """Why the job fails on an LPAR (mock: ServerError reason 263), or None."""
    if res.kind != LPAR:
        return None
    force = body.get("force") is True
    if operation == "activate":
        profile = body.get("activation-profile-name")
        if profile is not None and profile != res.name:
            return ("LPAR %r could not be activated because the name of the image activation profile %r is "
                    "different from the LPAR name." % (res.name, profile))
        if res.status == "operating" and not force:
            return ("LPAR %r could not be activated because the LPAR is in status operating (and force was "
                    "not specified)." % res.name)
    if operation == "deactivate" and not force and res.status in ("operating", "not-activated"):
        return ("LPAR %r could not be deactivated because the LPAR is in status %s (and force was not "
                "specified)." % (res.name, res.status))
    if operation == "load" and res.status == "operating" and not force:
        return ("LPAR %r could not be loaded because the LPAR is already loaded (and force was not "
                "specified)." % res.name)
    return None


class Job:
    """One asynchronous job: running, cancel-pending, canceled or complete."""

    def __init__(self, session: Session, operation: str, resource: Resource, rules: Operation,
                 previous_status: str) -> None:
        self.id = uuid.uuid4().hex
        self.uri = "/api/jobs/" + self.id
        self.session = session
        self.operation = operation
        self.resource = resource
        self.rules = rules
        self.previous_status = previous_status
        self.failure: str | None = None       # why the job will fail (decided when it starts)
        self.status = "running"
        self.status_code: int | None = None
        self.reason_code: int | None = None
        self.results: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("complete", "canceled")

    def finish(self, status: str, code: int, reason: int | None, results: dict[str, Any] | None) -> None:
        self.status, self.status_code, self.reason_code, self.results = status, code, reason, results

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.ended:
            data["job-status-code"] = self.status_code
            data["job-reason-code"] = self.reason_code
            data["job-results"] = self.results
        return data
