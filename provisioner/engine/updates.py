"""An update that cannot leave an instance broken: backup, new version, health within the template's
window, and otherwise the old version back with the data of the backup.

The job's states: the instance is ``updating`` throughout; it ends ``running`` on the new version
(job succeeded), ``running`` on the old one after a rollback or a refused start (job failed, with the
reason), or ``failed`` only when the rollback itself failed (the reason names the backup to restore).
"""

from __future__ import annotations

from provisioner.backups.steps import BackupStepFailed, StepSink, restore_backup
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.engine.sink import Unstoppable, note
from provisioner.engine.steps import (
    StepFailed,
    TakenBackup,
    backup_first,
    end_job,
    kept_in,
    restored_from,
    run_on_server,
    run_steps_before_update,
    stamp,
    wait_healthy,
    why,
)
from provisioner.errors import DomainError
from provisioner.health.probe import Health
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job

S = InstanceState


def run_update(ctx: Context, job_id: str, sink: StepSink) -> None:
    with transaction(ctx.database_url) as session:
        job = session.get_one(Job, job_id)
        instance = job.subject
        set_state(instance, S.UPDATING)
        instance_id, old, new = instance.id, instance.version, job.target_version or instance.version
        window = ctx.catalog.get(instance.template).updates.health_window_seconds

    try:
        backup = backup_first(ctx, instance_id=instance_id, job_id=job_id, sink=sink)
    except (BackupStepFailed, DomainError) as exc:
        # Nothing was changed yet: the instance goes on as it was.
        reason = f"the update to {new} was not started, because the backup before it failed: {why(exc)}"
        health = wait_healthy(ctx, instance_id=instance_id, within=0)
        end_job(ctx, job_id, status=JobStatus.FAILED, state=S.RUNNING, health=health, error=reason)
        return

    note(sink, f"updating from {old} to {new}")
    outcome = run_steps_before_update(ctx, sink, instance_id=instance_id)
    if outcome is not None and outcome.status != "successful":
        what = f"the template's steps before the update to {new} failed: {outcome.error}"
        _roll_back(ctx, job_id, Unstoppable(sink), what=what, old=old, backup=backup)
        return
    # The new version's deploy runs the template's hooks.update.after steps once it answers.
    outcome = run_on_server(ctx, sink, instance_id=instance_id, kind=JobKind.UPDATE, version=new)
    if outcome.status == "successful":
        health = wait_healthy(ctx, instance_id=instance_id, within=window)
        if health is Health.HEALTHY:
            end_job(
                ctx,
                job_id,
                status=JobStatus.SUCCEEDED,
                state=S.RUNNING,
                health=health,
                change=lambda row: _set_version(row, new),
            )
            return
    if outcome.status == "successful" or "did not answer" in (outcome.error or ""):
        what = f"version {new} did not become healthy within {window} s"
    elif outcome.status == "canceled":
        what = f"the update to {new} was canceled while it ran"
    else:
        what = f"the update to {new} failed: {outcome.error}"
    _roll_back(ctx, job_id, Unstoppable(sink), what=what, old=old, backup=backup)


def _roll_back(
    ctx: Context,
    job_id: str,
    sink: StepSink,
    *,
    what: str,
    old: str,
    backup: TakenBackup | None,
) -> None:
    with transaction(ctx.database_url) as session:
        instance_id = session.get_one(Job, job_id).subject.id
    note(sink, f"{what}; rolling back to {old}")
    try:
        if backup is not None:
            # The data first, then the old version: a service may refuse to start on data the new
            # version has already changed (Nextcloud does), so it must never see that data.
            note(sink, f"restoring the backup taken at {stamp(backup.created_at)} under version {old}")
            restore_backup(
                ctx,
                instance_id=instance_id,
                backup_id=backup.id,
                job_id=job_id,
                sink=sink,
                version=old,
            )
        outcome = run_on_server(ctx, sink, instance_id=instance_id, kind=JobKind.DEPLOY, version=old)
        if outcome.status != "successful":
            raise StepFailed(f"version {old} could not be deployed again: {outcome.error}")
    except (StepFailed, BackupStepFailed, DomainError) as exc:
        error = f"{what}; the rollback to {old} failed too: {why(exc)}{kept_in(backup)}"
        end_job(ctx, job_id, status=JobStatus.FAILED, state=S.FAILED, error=error)
        return
    window = ctx.catalog.get(_template(ctx, instance_id)).updates.health_window_seconds
    health = wait_healthy(ctx, instance_id=instance_id, within=window)
    error = f"{what}; rolled back to {old}{restored_from(backup)}"
    end_job(ctx, job_id, status=JobStatus.FAILED, state=S.RUNNING, health=health, error=error)


def _set_version(instance: Instance, version: str) -> None:
    instance.version = version


def _template(ctx: Context, instance_id: str) -> str:
    with transaction(ctx.database_url) as session:
        return session.get_one(Instance, instance_id).template
