"""Scheduler-driven tasks: due schedules, health sweeps, server metrics, alerts, notices, backup pruning."""

from __future__ import annotations

from provisioner.alerts.delivery import deliver_pending
from provisioner.backups.prune import prune_rest_targets
from provisioner.catalog.loader import Catalog
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.health.sweep import sweep
from provisioner.monitoring.metrics import collect_all
from provisioner.notices.delivery import deliver_due
from provisioner.schedules.runner import run_due
from provisioner.worker.celery_app import (
    COLLECT_METRICS,
    DELIVER_ALERTS,
    DELIVER_NOTICES,
    HEALTH_SWEEP,
    PRUNE_BACKUPS,
    RUN_SCHEDULES,
    app,
)
from provisioner.worker.dispatch import CeleryDispatcher


@app.task(name=RUN_SCHEDULES)  # type: ignore[untyped-decorator]
def run_schedules() -> int:
    settings = get_settings()
    catalog = Catalog.from_dir(settings.resolved_templates_dir)
    due = run_due(settings, catalog)
    dispatcher = CeleryDispatcher(settings.resolved_broker_url)
    with transaction(settings.resolved_database_url) as session:
        for job_id in due.job_ids:
            dispatcher.send(session, job_id)
    if due.sweep_ids:
        sweep(settings, catalog, instance_ids=due.sweep_ids)
        deliver_pending(settings)
    return len(due.job_ids)


@app.task(name=HEALTH_SWEEP)  # type: ignore[untyped-decorator]
def health_sweep() -> int:
    settings = get_settings()
    report = sweep(settings, Catalog.from_dir(settings.resolved_templates_dir))
    deliver_pending(settings)
    return report.checked


@app.task(name=COLLECT_METRICS)  # type: ignore[untyped-decorator]
def collect_server_metrics() -> int:
    settings = get_settings()
    found = collect_all(settings)
    deliver_pending(settings)
    return len(found)


@app.task(name=DELIVER_ALERTS)  # type: ignore[untyped-decorator]
def deliver_alerts() -> int:
    return deliver_pending(get_settings())


@app.task(name=DELIVER_NOTICES)  # type: ignore[untyped-decorator]
def deliver_notices() -> int:
    """Mail and webhook notices queued by requests and jobs; failed ones are retried by later runs."""
    settings = get_settings()
    return deliver_due(settings, Catalog.from_dir(settings.resolved_templates_dir))


@app.task(name=PRUNE_BACKUPS)  # type: ignore[untyped-decorator]
def prune_backups() -> int:
    return len(prune_rest_targets(get_settings()).pruned)
