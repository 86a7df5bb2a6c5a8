"""An event sink that keeps what a run reported, for tests that drive the runner adapter directly."""

from __future__ import annotations

from provisioner.runner.spec import RunnerEvent


class CollectingSink:
    def __init__(self) -> None:
        self.events: list[RunnerEvent] = []

    def emit(self, event: RunnerEvent) -> None:
        self.events.append(event)

    def should_cancel(self) -> bool:
        return False

    @property
    def changed(self) -> list[str]:
        return [e.line for e in self.events if e.status == "changed"]
