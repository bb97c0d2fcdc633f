"""Scripted scenarios: a YAML timeline of control-method calls.

A scenario is a list of steps (or a mapping with a `steps` list). Each step has exactly
one action key, the name of an HmcSim control method, whose value is the mapping of its
keyword arguments, and optionally `at` (seconds since the scenario started) or `wait`
(seconds after the previous step):

    steps:
      - emit_os_messages: {cpc: CPC1, name: PART1, messages: ["boot\\n"]}
      - wait: 0.5
        set_status: {cpc: CPC1, name: PART1, status: degraded}
      - at: 2
        drop_stomp_connections: {}

The whole scenario is validated before the first step runs.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, TypedDict

import yaml

if TYPE_CHECKING:
    from hmcsim.sim import HmcSim

LOG = logging.getLogger("hmcsim.scenario")

ACTIONS = (
    "emit_os_messages", "set_status", "set_property", "publish_raw", "emit_inventory_change",
    "add_partition", "add_lpar", "delete_partition", "delete_lpar", "drop_stomp_connections",
    "stall_heartbeats", "expire_session", "restart", "send_error_frame", "set_delivery_delay", "refuse_stomp",
    "set_ws_delay", "set_ws_capacity",
)
MAX_SCENARIO_SECONDS = 3600


class ScenarioError(ValueError):
    """A scenario file or step is not valid; the message names the step."""


class Step(TypedDict):
    """One validated step."""

    at: float | None          # seconds since the scenario started
    wait: float | None        # seconds after the previous step
    action: str               # the HmcSim control method
    kwargs: dict[str, Any]
    where: str                # "scenario step N", for messages


def load_steps(path_or_steps: object) -> list[Step]:
    """The validated steps of a scenario file (a path) or of a list of steps (or {steps: [...]})."""
    if isinstance(path_or_steps, (str, os.PathLike)):
        path = os.fspath(path_or_steps)
        if not os.path.isfile(path):
            raise ScenarioError("scenario file %r does not exist" % path)
        with open(path, encoding="utf-8") as handle:
            try:
                data = yaml.safe_load(handle)
            except yaml.YAMLError as exc:
                raise ScenarioError("scenario file %r is not valid YAML: %s" % (path, exc)) from None
    else:
        data = path_or_steps
    if isinstance(data, dict):
        if set(data) != {"steps"}:
            raise ScenarioError("a scenario mapping must have exactly one key, 'steps'; got %s" % sorted(data))
        data = data["steps"]
    if not isinstance(data, list) or not data:
        raise ScenarioError("a scenario must be a non-empty list of steps")
    return [_check_step(i, step) for i, step in enumerate(data)]


def _check_step(index: int, step: Any) -> Step:
    where = "scenario step %d" % (index + 1)
    if not isinstance(step, dict):
        raise ScenarioError("%s must be a mapping, got %r" % (where, step))
    actions = [k for k in step if k not in ("at", "wait")]
    unknown = [k for k in actions if k not in ACTIONS]
    if unknown:
        raise ScenarioError("%s: unknown action %r (known: %s)" % (where, unknown[0], ", ".join(ACTIONS)))
    if len(actions) != 1:
        raise ScenarioError("%s must have exactly one action, got %s" % (where, actions or "none"))
    if "at" in step and "wait" in step:
        raise ScenarioError("%s: use either 'at' or 'wait', not both" % where)
    for key in ("at", "wait"):
        if key in step:
            value = step[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not 0 <= value <= MAX_SCENARIO_SECONDS:
                raise ScenarioError("%s: %r must be a number of seconds from 0 to %d, got %r"
                                    % (where, key, MAX_SCENARIO_SECONDS, value))
    action = actions[0]
    kwargs = step[action]
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise ScenarioError("%s: the arguments of %s must be a mapping, got %r" % (where, action, kwargs))
    return {"at": step.get("at"), "wait": step.get("wait"), "action": action, "kwargs": kwargs,
            "where": where}


def _run(sim: HmcSim, steps: list[Step]) -> list[Any]:
    started = time.monotonic()
    results = []
    for step in steps:
        if step["at"] is not None:
            delay = started + step["at"] - time.monotonic()
        else:
            delay = step["wait"] or 0
        if delay > 0:
            time.sleep(delay)
        try:
            results.append(getattr(sim, step["action"])(**step["kwargs"]))
        except (TypeError, ValueError, KeyError) as exc:
            raise ScenarioError("%s (%s) failed: %s" % (step["where"], step["action"], exc)) from None
        LOG.info("%s: %s done", step["where"], step["action"])
    return results


def run_scenario(sim: HmcSim, path_or_steps: object, background: bool = False) -> list[Any] | dict[str, Any]:
    """Run the steps; with background=True return at once (errors are logged)."""
    steps = load_steps(path_or_steps)
    if not background:
        return _run(sim, steps)

    def runner() -> None:
        try:
            _run(sim, steps)
        except Exception:   # a background scenario has nobody to raise to
            LOG.exception("scenario failed")

    threading.Thread(target=runner, name="hmcsim-scenario", daemon=True).start()
    return {"steps": len(steps), "background": True}
