"""The job engine's context for tests: a scripted runner, health answers the test gives, a clock
that moves only when the engine sleeps. Nothing here reaches a network, SSH or Ansible."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.context import Context
from provisioner.health.probe import Health
from provisioner.runner.scripted import ScriptedRunner
from tests.support import factories


class SteppedClock:
    """Moves on by the time the engine sleeps, and by half a second each time it is read: as long as
    ansible-runner takes between two questions to the sink, so a cancel request is seen by the next."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._start = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        self.elapsed += 0.5
        return 1000.0 + self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds


class HealthAnswers:
    """Answers each health check with the next answer given; the last one repeats."""

    def __init__(self, answers: Iterable[Health]) -> None:
        self._answers = list(answers) or [Health.HEALTHY]
        self.asked: list[str] = []

    def __call__(self, session: Any, settings: Settings, check: Any, *, url: str, **_: Any) -> Health:
        self.asked.append(url)
        return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]


def scripted_context(
    settings: Settings,
    runner: ScriptedRunner | None = None,
    *,
    health: Iterable[Health] = (Health.HEALTHY,),
    catalog: Catalog | None = None,
) -> Context:
    return Context(
        settings=settings,
        catalog=catalog or factories.CATALOG,
        runner=runner or ScriptedRunner(),
        health=HealthAnswers(health),
        clock=SteppedClock(),
    )
