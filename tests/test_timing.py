"""The end of the suite's report: where its time went (tests/support/timing.py)."""

from __future__ import annotations

from tests.support.timing import SuiteTimes

E2E = "tests/e2e/test_long.py"


def test_each_end_to_end_module_is_summed_and_every_other_test_per_worker() -> None:
    times = SuiteTimes(started=0.0)
    for seconds in (30.0, 200.0, 5.0):  # setup, call, teardown
        times.add(worker="gw0", nodeid=f"{E2E}::test_a", seconds=seconds)
    times.add(worker="gw0", nodeid=f"{E2E}::test_b", seconds=65.0)
    times.add(worker="gw1", nodeid="tests/api/test_x.py::test_one", seconds=2.0)
    times.add(worker="gw1", nodeid="tests/api/test_y.py::test_two", seconds=3.0)
    lines = times.lines()
    assert lines[:2] == [f"   300 s  gw0  {E2E}", "     5 s  gw1  every other test"]
    assert [line.split(" ran its last test")[0] for line in lines[2:]] == ["gw0", "gw1"]
