"""How the suite's two workers share the tests out (tests/support/schedule.py)."""

from __future__ import annotations

import pytest

from tests.support import schedule
from tests.support.schedule import pick, scope

LONG, SHORT = "tests/e2e/test_long.py", "tests/playbooks/test_short.py"
UNITS = ["tests/api/test_a.py::test_one", "tests/api/test_a.py::test_two"]


@pytest.fixture(autouse=True)
def _measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule, "SECONDS", {LONG: 600, SHORT: 60})


def test_an_end_to_end_module_is_one_unit_and_any_other_test_is_its_own() -> None:
    assert scope(f"{LONG}::test_a") == scope(f"{LONG}::test_b") == LONG
    assert scope("tests/provisioner/cli/test_smoke.py::test_x") == "tests/provisioner/cli/test_smoke.py"
    assert scope(UNITS[0]) == UNITS[0]


def test_the_lead_takes_the_longest_end_to_end_module_first_and_then_the_rest() -> None:
    unmeasured = "tests/e2e/test_new.py"
    assert pick([SHORT, LONG, *UNITS], lead=True) == LONG
    assert pick([SHORT, unmeasured, *UNITS], lead=True) == unmeasured
    assert pick(UNITS, lead=True) == UNITS[0]


def test_the_other_worker_takes_the_other_tests_then_the_longest_end_to_end_module_left() -> None:
    assert pick([LONG, SHORT, *UNITS], lead=False) == UNITS[0]
    assert pick([SHORT, LONG], lead=False) == LONG
    assert pick([SHORT], lead=False) == SHORT
    assert pick([LONG, SHORT], lead=False, e2e_on_lead_only=True) is None
    assert pick([], lead=False) is None
