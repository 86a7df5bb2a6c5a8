from __future__ import annotations

import pytest

from provisioner.errors import IllegalTransition
from provisioner.instances.states import ALLOWED, InstanceState, check_transition

S = InstanceState


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.REQUESTED, S.APPROVED),
        (S.REQUESTED, S.REJECTED),
        (S.APPROVED, S.PROVISIONING),
        (S.PROVISIONING, S.RUNNING),
        (S.PROVISIONING, S.FAILED),
        (S.RUNNING, S.UPDATING),
        (S.RUNNING, S.BACKING_UP),
        (S.RUNNING, S.RESTORING),
        (S.RESTORING, S.RUNNING),
        (S.RUNNING, S.REMOVING),
        (S.FAILED, S.REMOVING),
        (S.REMOVING, S.REMOVED),
    ],
)
def test_the_contracts_transitions_are_allowed(current: InstanceState, target: InstanceState) -> None:
    check_transition(current.value, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.REQUESTED, S.RUNNING),
        (S.REJECTED, S.APPROVED),
        (S.PROVISIONING, S.REMOVING),
        (S.REMOVED, S.PROVISIONING),
        (S.UPDATING, S.BACKING_UP),
    ],
)
def test_other_transitions_are_refused_with_a_reason(current: InstanceState, target: InstanceState) -> None:
    with pytest.raises(IllegalTransition, match=f"{current.value} cannot become {target.value}"):
        check_transition(current.value, target)


def test_removed_is_final_and_every_state_is_covered() -> None:
    assert set(ALLOWED) == set(InstanceState)
    assert ALLOWED[S.REMOVED] == frozenset()
