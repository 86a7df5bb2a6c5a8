"""Jobs on one space's own data, holding its shared instance's lock like every space job:

- ``space_backup``: the service's export command takes the space's data apart from the others', and
  restic keeps it in the association's own repository; the space goes on running meanwhile.
- ``space_restore``: a backup of the space put back into its place in the shared instance by the
  service's import command; the other spaces are not touched. A failed restore fails the space alone.
- ``space_export``: the space backed up as above, that backup restored into a throwaway folder on the
  control plane and the parts the template names made into one sealed archive
  (``provisioner.exports.space_making``); the space goes on running meanwhile.
- ``space_move_out``: the space backed up, the association's new dedicated instance deployed, the
  backup loaded into it (at the instance's own address), then the space removed, and the shared
  instance with it when it was the last. Until the data is in the new instance the space stays as it
  was; a failure there fails the new instance, not the space.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from provisioner.backups.escrow import EscrowFailed, ensure_copy
from provisioner.backups.reported import UntrustedReport, check_report
from provisioner.backups.repository import repository_for
from provisioner.backups.steps import ReportReader, run_step
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec
from provisioner.engine.export_jobs import end_export_job, end_job
from provisioner.engine.sink import DatabaseSink, note
from provisioner.engine.space_jobs import check_space_health, remove_space_now, space_of
from provisioner.engine.steps import mark_running
from provisioner.exports.making import ExportFailed
from provisioner.exports.service import export_of_job
from provisioner.exports.space_making import make_space_export
from provisioner.instances.credentials import store_secrets
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job, Space, SpaceBackup
from provisioner.spaces.backup_alerts import space_backup_outcome
from provisioner.spaces.data import restore_of_space
from provisioner.spaces.data_runs import space_backup_spec, space_restore_spec
from provisioner.spaces.service import set_space_state
from provisioner.spaces.states import SpaceState
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)
I = InstanceState  # noqa: E741 - read as the instance's state beside the space's


class SpaceDataFailed(Exception):
    """A step on a space's data failed; one line for people."""


def run_space_data_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        kind = JobKind(session.get_one(Job, job_id).kind)
    try:
        if kind is JobKind.SPACE_BACKUP:
            back_up_space(ctx, job_id, sink)
            _finish(ctx, job_id, None)
        elif kind is JobKind.SPACE_EXPORT:
            _export(ctx, job_id, sink)
        elif kind is JobKind.SPACE_RESTORE:
            _restore(ctx, job_id, sink)
        else:
            _move_out(ctx, job_id, sink)
    except SpaceDataFailed as exc:
        _finish(ctx, job_id, str(exc))


def back_up_space(ctx: Context, job_id: str, sink: DatabaseSink, *, space_id: str | None = None) -> str:
    """Back the job's space (or ``space_id``, for an association's export) up into its association's
    repository; the backup's id. Raises ``SpaceDataFailed``."""
    url = ctx.database_url
    with transaction(url) as session:
        job = owned_job(session, job_id=job_id)
        space = session.get_one(Space, space_id) if space_id is not None else space_of(job)
        repository = repository_for(session, ctx.settings, tenant_id=space.tenant_id)
        backup = SpaceBackup(space_id=space.id, repository_id=repository.id, job_id=job_id, status="running")
        session.add(backup)
        session.flush()
        backup_id, repository_id = backup.id, repository.id
        spec = space_backup_spec(
            ctx.settings,
            ctx.catalog.get(space.template),
            space=space,
            repository=repository,
            job_id=job_id,
        )
    try:
        # A repository whose password could be lost with the control plane is not written to silently.
        ensure_copy(ctx.settings, repository_id=repository_id)
    except EscrowFailed as exc:
        _failed_backup(ctx, backup_id, str(exc))
    note(sink, "backing the space up into the association's own repository")
    reader = ReportReader(sink)
    outcome = run_step(ctx, spec, sink, reader)
    if outcome.status != "successful" or reader.report is None:
        _failed_backup(ctx, backup_id, outcome.error or "the backup playbook reported no snapshot")
    try:
        checked = check_report(reader.report)
    except UntrustedReport as exc:
        log.warning("space backup %s: the server's report was refused: %s", backup_id, exc)
        _failed_backup(ctx, backup_id, f"the server's report was refused ({exc}); nothing of it was kept")
    with transaction(url) as session:
        backup = session.get_one(SpaceBackup, backup_id)
        backup.status, backup.finished_at = "succeeded", utcnow()
        backup.snapshot_id, backup.size_bytes = checked.snapshot_id, checked.size_bytes
    return backup_id


def _export(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    """A fresh backup of the space, made into its export; a failure of either fails the export alone."""
    with transaction(ctx.database_url) as session:
        export_of_job(session, job_id=job_id).state = "running"
        space = space_of(owned_job(session, job_id=job_id))
        # Asked for while it ran; a failure or a removal came first.
        stopped = space.state if space.state != SpaceState.RUNNING else None
    if stopped is not None:
        end_job(ctx, job_id, error=f"the space is {stopped}; only a running space can be exported")
        return
    try:
        backup_id = back_up_space(ctx, job_id, sink)
        note(sink, "making the export of the space from its backup")
        make_space_export(ctx.settings, ctx.catalog, job_id=job_id, backup_id=backup_id)
    except (SpaceDataFailed, ExportFailed) as exc:
        end_job(ctx, job_id, error=str(exc))
        return
    end_export_job(ctx, job_id, sink)


def _failed_backup(ctx: Context, backup_id: str, error: str) -> NoReturn:
    with transaction(ctx.database_url) as session:
        backup = session.get_one(SpaceBackup, backup_id)
        backup.status, backup.error, backup.finished_at = "failed", error, utcnow()
    raise SpaceDataFailed(f"the space's backup failed: {error}")


def _restore(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        space = space_of(job)
        backup = restore_of_space(session, job_id=job_id).backup
        if backup is None:
            raise SpaceDataFailed("the restore names no backup")
        spec = space_restore_spec(
            ctx.settings,
            ctx.catalog.get(space.template),
            space=space,
            backup=backup,
            into=job.subject,
            job_id=job_id,
        )
    note(sink, "putting the space's backup back into its place in the shared instance")
    outcome = run_step(ctx, spec, sink)
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        space = space_of(job)
        if outcome.status != "successful":
            # The import may have stopped half-way: the space is not as it was, nor as backed up.
            error = f"the space's restore failed: {outcome.error}"
            set_space_state(space, SpaceState.FAILED, reason=error)
            finish_job(session, job=job, status=JobStatus.FAILED, error=error)
            return
        check_space_health(ctx, session, space)
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def _move_out(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    url = ctx.database_url
    backup_id = back_up_space(ctx, job_id, sink)
    with transaction(url) as session:
        move = restore_of_space(session, job_id=job_id)
        move.backup_id = backup_id
        instance = move.instance
        if instance is None or instance.state != I.APPROVED:
            raise SpaceDataFailed("the dedicated instance to move into is gone")
        instance_id = instance.id
        set_state(instance, I.PROVISIONING)
        store_secrets(ctx.settings, instance, ctx.catalog.get(instance.template))
        deploy = build_run_spec(ctx.settings, ctx.catalog, instance, JobKind.DEPLOY)
    note(sink, "deploying the association's dedicated instance")
    if run_step(ctx, deploy, sink).status != "successful":
        _fail_instance(ctx, instance_id, "the dedicated instance's deploy failed; the space stays as it was")
    with transaction(url) as session:
        job = owned_job(session, job_id=job_id)
        space = space_of(job)
        backup = session.get_one(SpaceBackup, backup_id)
        into = session.get_one(Instance, instance_id)
        spec = space_restore_spec(
            ctx.settings,
            ctx.catalog.get(space.template),
            space=space,
            backup=backup,
            into=into,
            job_id=job_id,
        )
    note(sink, "loading the space's data into the dedicated instance, at its own address")
    if run_step(ctx, spec, sink).status != "successful":
        _fail_instance(ctx, instance_id, "the space's data could not be loaded; the space stays as it was")
    with transaction(url) as session:
        mark_running(ctx, session.get_one(Instance, instance_id))
    note(sink, "the dedicated instance holds the space's data: removing the space")
    remove_space_now(ctx, job_id, sink, reason=f"moved into the dedicated instance {instance_id}")


def _fail_instance(ctx: Context, instance_id: str, error: str) -> NoReturn:
    with transaction(ctx.database_url) as session:
        set_state(session.get_one(Instance, instance_id), I.FAILED, reason=error)
    raise SpaceDataFailed(error)


def _finish(ctx: Context, job_id: str, error: str | None) -> None:
    """A backup or a move that failed before the space was touched leaves the space as it was; a
    backup's end opens or clears the space's backup alert."""
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        if job.kind == JobKind.SPACE_BACKUP:
            space_backup_outcome(session, ctx.settings, space=space_of(job), error=error)
        finish_job(session, job=job, status=JobStatus.FAILED if error else JobStatus.SUCCEEDED, error=error)
