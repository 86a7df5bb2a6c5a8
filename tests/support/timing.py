"""Where the suite's time goes, printed at its end: each end-to-end module's time (setup, tests and
teardown, its module's fixtures included) for the SECONDS of tests/support/schedule.py, and when each
xdist worker ran its last test, so that a worker left idle at the end shows."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from _pytest.terminal import TerminalReporter

from tests.support.schedule import is_end_to_end, scope

OTHER = "every other test"


@dataclass
class SuiteTimes:
    started: float = field(default_factory=time.monotonic)
    spent: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    last_end: dict[str, float] = field(default_factory=dict)

    def add(self, *, worker: str, nodeid: str, seconds: float) -> None:
        unit = scope(nodeid)
        self.spent[(worker, unit if is_end_to_end(unit) else OTHER)] += seconds
        self.last_end[worker] = time.monotonic() - self.started

    def lines(self) -> list[str]:
        """The end-to-end modules longest first (with the worker that ran each), the other tests per
        worker, and the moment each worker ended, in seconds from the suite's start."""
        rows = sorted(self.spent.items(), key=lambda row: -row[1])
        modules = [f"{seconds:6.0f} s  {worker}  {unit}" for (worker, unit), seconds in rows if unit != OTHER]
        others = [f"{seconds:6.0f} s  {worker}  {unit}" for (worker, unit), seconds in rows if unit == OTHER]
        ends = [f"{worker} ran its last test at {end:.0f} s" for worker, end in sorted(self.last_end.items())]
        return [*modules, *others, *ends]


class SuiteTimer:
    """A pytest plugin for the process that reports (xdist's controller, or the only process)."""

    def __init__(self) -> None:
        self.times = SuiteTimes()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)  # the xdist worker that ran it
        worker = node.gateway.id if node is not None else "main"
        self.times.add(worker=worker, nodeid=report.nodeid, seconds=report.duration)

    def pytest_terminal_summary(self, terminalreporter: TerminalReporter) -> None:
        if not any(unit != OTHER for _, unit in self.times.spent):
            return  # no end-to-end module ran
        terminalreporter.write_sep("=", "time per end-to-end module and worker")
        for line in self.times.lines():
            terminalreporter.write_line(line)
