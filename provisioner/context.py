"""What a job or a request works with, in one object: settings, catalog, runner, health check, clock.

Passed instead of ``settings, catalog`` through every call of the job engine and the steps it uses, so
a test can hand the engine a scripted runner, a health answer and a clock of its own. The real
parts are put together by ``provisioner.engine.wiring.real_context``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import HealthCheck
from provisioner.config import Settings
from provisioner.health.probe import Health
from provisioner.models import Server
from provisioner.runner.spec import Runner
from provisioner.timeutil import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class HealthChecker(Protocol):
    """Asks an instance through its server's proxy, as a visitor would (``health.tls.check_on_server``)."""

    def __call__(
        self,
        session: Session,
        settings: Settings,
        check: HealthCheck,
        *,
        url: str,
        server: Server,
        timeout: float = 5.0,
    ) -> Health: ...


@dataclass(frozen=True)
class Context:
    settings: Settings
    catalog: Catalog
    runner: Runner
    health: HealthChecker
    clock: Clock

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url
