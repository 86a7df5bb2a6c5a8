"""The real parts a worker runs jobs with: ansible-runner, health checks over the network, the clock."""

from __future__ import annotations

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.context import Context, SystemClock
from provisioner.health.tls import check_on_server
from provisioner.runner.adapter import AnsibleRunner


def real_context(settings: Settings, catalog: Catalog | None = None) -> Context:
    return Context(
        settings=settings,
        catalog=catalog or Catalog.from_dir(settings.resolved_templates_dir),
        runner=AnsibleRunner(settings.data_dir / "runs"),
        health=check_on_server,
        clock=SystemClock(),
    )
