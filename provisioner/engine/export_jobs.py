"""An export job: a fresh backup (the template's consistency hooks around it), restored into a
throwaway folder on the control plane and made into one sealed archive in open formats.

The instance is backing up only while the backup runs, and running again while the archive is made:
the export reads the backup, never the live files.
"""

from __future__ import annotations

from provisioner.backups.steps import BackupStepFailed
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.engine.sink import DatabaseSink, note
from provisioner.engine.steps import backup_first, stamp
from provisioner.exports.making import ExportFailed, fail_export, make_export
from provisioner.exports.service import export_of_job
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobStatus
from provisioner.models import Instance, Job

S = InstanceState


def run_export_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Job, job_id).subject
        instance_id = instance.id
        if instance.state != S.RUNNING:
            # Asked for while it ran; a failure or an update came first.
            error = f"the service is {instance.state}; only a running service can be exported"
            end_job(ctx, job_id, error=error)
            return
        set_state(instance, S.BACKING_UP)
    try:
        taken = backup_first(ctx, instance_id=instance_id, job_id=job_id, sink=sink)
    except BackupStepFailed as exc:
        _back_to_running(ctx, instance_id)
        end_job(ctx, job_id, error=str(exc))
        return
    _back_to_running(ctx, instance_id)
    made_from = f" from the backup taken at {stamp(taken.created_at)}" if taken else ""
    note(sink, f"making the export{made_from}")
    try:
        make_export(ctx.settings, ctx.catalog, job_id=job_id, backup_id=taken.id if taken else None)
    except ExportFailed as exc:
        end_job(ctx, job_id, error=str(exc))
        return
    end_export_job(ctx, job_id, sink)


def _back_to_running(ctx: Context, instance_id: str) -> None:
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        if instance.state == S.BACKING_UP:
            set_state(instance, S.RUNNING)


def end_export_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    """A made export's job ends: its size said, the job succeeded."""
    with transaction(ctx.database_url) as session:
        size = export_of_job(session, job_id=job_id).size_bytes or 0
    note(sink, f"export ready: {size / 1_000_000:.1f} MB")
    end_job(ctx, job_id, error=None)


def end_job(ctx: Context, job_id: str, *, error: str | None) -> None:
    """The job's end; a failed export's row says why, its files are gone already (``write_sealed``)."""
    if error is not None:
        fail_export(ctx.settings, job_id=job_id, error=error)
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        finish_job(session, job=job, status=JobStatus.FAILED if error else JobStatus.SUCCEEDED, error=error)
