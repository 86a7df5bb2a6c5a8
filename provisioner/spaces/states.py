"""A space's life cycle. Approval places it at once, so "placed" means approved and placed."""

from __future__ import annotations

from enum import StrEnum

from provisioner.errors import IllegalTransition


class SpaceState(StrEnum):
    REQUESTED = "requested"
    REJECTED = "rejected"
    PLACED = "placed"
    CREATING = "creating"
    RUNNING = "running"
    FAILED = "failed"
    REMOVING = "removing"
    REMOVED = "removed"


S = SpaceState

ALLOWED: dict[SpaceState, frozenset[SpaceState]] = {
    S.REQUESTED: frozenset({S.PLACED, S.REJECTED, S.REMOVED}),
    S.PLACED: frozenset({S.CREATING, S.FAILED, S.REMOVING}),
    S.CREATING: frozenset({S.RUNNING, S.FAILED}),
    S.RUNNING: frozenset({S.REMOVING, S.FAILED}),
    # A failed space is made again (its commands are safe to repeat) or removed.
    S.FAILED: frozenset({S.CREATING, S.REMOVING}),
    S.REMOVING: frozenset({S.REMOVED, S.FAILED}),
    S.REJECTED: frozenset(),
    S.REMOVED: frozenset(),
}

# Spaces that hold their name, their address and a place in their shared instance.
LIVE = frozenset(set(S) - {S.REMOVED, S.REJECTED})


def check_transition(current: str, target: SpaceState) -> None:
    state = SpaceState(current)
    if target not in ALLOWED[state]:
        raise IllegalTransition(f"a space that is {state.value} cannot become {target.value}")
