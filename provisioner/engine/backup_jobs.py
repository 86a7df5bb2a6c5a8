"""Backup and restore jobs: several playbook runs in one job, events all in that job."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.alerts.service import AlertKind, raise_alert, resolve_alert
from provisioner.backups.service import restore_of
from provisioner.backups.steps import BackupStepFailed, restore_backup, run_step, take_backup
from provisioner.config import Settings
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec, credential_steps, steps_run_spec
from provisioner.engine.sink import DatabaseSink
from provisioner.engine.steps import mark_running
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job

S = InstanceState


def finish_backup_job(ctx: Context, job_id: str, *, error: str | None, state: InstanceState | None) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        if state is not None and job.subject.state != state:
            set_state(job.subject, state, reason=error if state is S.FAILED else None)
        if job.kind == JobKind.BACKUP:
            alert(session, ctx.settings, job.subject, AlertKind.BACKUP_FAILED, error)
        finish_job(session, job=job, status=JobStatus.FAILED if error else JobStatus.SUCCEEDED, error=error)


def alert(
    session: Session, settings: Settings, instance: Instance, kind: AlertKind, error: str | None
) -> None:
    """A failed backup or drill opens an alert (operators and the association hear of it); success ends it."""
    if error is None:
        resolve_alert(session, settings, kind=kind, subject_id=instance.id)
    else:
        summary = f"{instance.name} ({instance.id}): {error}"
        raise_alert(
            session,
            settings,
            kind=kind,
            subject_id=instance.id,
            tenant_id=instance.tenant_id,
            summary=summary,
        )


def run_backup_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        instance_id = session.get_one(Job, job_id).subject.id
        instance = session.get_one(Instance, instance_id)
        # A failed instance is backed up as it is (before a repair, say) and stays failed.
        running = instance.state == S.RUNNING
        if running:
            set_state(instance, S.BACKING_UP)
    back_to = S.RUNNING if running else None
    try:
        take_backup(ctx, instance_id=instance_id, job_id=job_id, sink=sink)
    except BackupStepFailed as exc:
        # The instance itself is as well as it was: a failed backup is the job's failure, not its.
        finish_backup_job(ctx, job_id, error=str(exc), state=back_to)
        return
    finish_backup_job(ctx, job_id, error=None, state=back_to)


def deploy_into(ctx: Context, instance_id: str, sink: DatabaseSink) -> bool:
    """Deploy a new instance a backup goes into (a restore into a copy, a drill's throwaway)."""
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        set_state(instance, S.PROVISIONING)
        spec = build_run_spec(ctx.settings, ctx.catalog, instance, JobKind.DEPLOY)
    return run_step(ctx, spec, sink).status == "successful"


def run_restore_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    url = ctx.database_url
    with transaction(url) as session:
        instance_id = session.get_one(Job, job_id).subject.id
        backup_id = restore_of(session, job_id=job_id).id
        instance = session.get_one(Instance, instance_id)
        fresh = instance.state == S.APPROVED  # a restore into a new instance deploys it first
        if not fresh:
            set_state(instance, S.RESTORING)
    if fresh and not deploy_into(ctx, instance_id, sink):
        finish_backup_job(ctx, job_id, error="the new instance could not be deployed", state=S.FAILED)
        return
    try:
        restore_backup(ctx, instance_id=instance_id, backup_id=backup_id, job_id=job_id, sink=sink)
    except BackupStepFailed as exc:
        finish_backup_job(ctx, job_id, error=str(exc), state=S.FAILED)
        return
    if fresh and not own_credentials(ctx, instance_id, sink):
        error = "the backup was restored, but the copy's own admin password could not be set"
        finish_backup_job(ctx, job_id, error=error, state=S.FAILED)
        return
    with transaction(url) as session:
        job = owned_job(session, job_id=job_id)
        mark_running(ctx, job.subject)
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def own_credentials(ctx: Context, instance_id: str, sink: DatabaseSink) -> bool:
    """A copy's restored data knows the original's admin password, not the copy's (shown) one: the
    template's reset steps make the copy's the valid one. Without such steps the copy keeps the
    original's logins, and the portal says so instead of showing a password."""
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        steps = credential_steps(ctx.catalog.get(instance.template))
        if not steps:
            return True
        spec = steps_run_spec(ctx.settings, ctx.catalog, instance, steps, timed_as="deploy")
    return run_step(ctx, spec, sink).status == "successful"
