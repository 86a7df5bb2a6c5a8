"""The instance life cycle from the API contract. Every state change goes through ``transition``."""

from __future__ import annotations

from enum import StrEnum

from provisioner.errors import IllegalTransition


class InstanceState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    FAILED = "failed"
    UPDATING = "updating"
    BACKING_UP = "backing_up"
    RESTORING = "restoring"
    MOVING = "moving"
    REMOVING = "removing"
    REMOVED = "removed"


S = InstanceState

ALLOWED: dict[InstanceState, frozenset[InstanceState]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED, S.REMOVING}),
    S.APPROVED: frozenset({S.PROVISIONING, S.FAILED, S.REMOVING}),
    S.PROVISIONING: frozenset({S.RUNNING, S.FAILED}),
    S.RUNNING: frozenset(
        {S.UPDATING, S.BACKING_UP, S.RESTORING, S.REMOVING, S.FAILED, S.PROVISIONING, S.MOVING}
    ),
    S.UPDATING: frozenset({S.RUNNING, S.FAILED}),
    S.BACKING_UP: frozenset({S.RUNNING, S.FAILED}),
    S.RESTORING: frozenset({S.RUNNING, S.FAILED}),
    # A move that fails leaves the instance where it was, running.
    S.MOVING: frozenset({S.RUNNING, S.FAILED}),
    # A failed instance can be deployed again, updated (to a version that works), restored, moved or
    # removed.
    S.FAILED: frozenset({S.PROVISIONING, S.UPDATING, S.RESTORING, S.REMOVING, S.MOVING}),
    S.REJECTED: frozenset({S.REMOVING}),
    S.REMOVING: frozenset({S.REMOVED, S.FAILED}),
    S.REMOVED: frozenset(),
}


def check_transition(current: str, target: InstanceState) -> None:
    state = InstanceState(current)
    if target not in ALLOWED[state]:
        raise IllegalTransition(f"an instance that is {state.value} cannot become {target.value}")
