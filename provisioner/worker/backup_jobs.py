"""Runs backup, restore and drill jobs: several playbook runs in one job, events all in that job."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from provisioner.alerts.service import AlertKind, raise_alert, resolve_alert
from provisioner.backups.runs import check_spec
from provisioner.backups.service import latest_backup, make_throwaway, restore_of
from provisioner.backups.steps import BackupStepFailed, restore_backup, run_step, take_backup
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec, credential_steps, steps_run_spec
from provisioner.errors import IllegalTransition
from provisioner.health.probe import Health
from provisioner.health.tls import check_on_server
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import JobLost, finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import DrillResult, Instance, Job
from provisioner.timeutil import utcnow
from provisioner.worker.execution import DatabaseSink, mark_running

log = logging.getLogger(__name__)
S = InstanceState


def _finish(settings: Settings, job_id: str, *, error: str | None, state: InstanceState | None) -> None:
    with transaction(settings.resolved_database_url) as session:
        job = owned_job(session, job_id=job_id)
        if state is not None and job.instance.state != state:
            set_state(job.instance, state, reason=error if state is S.FAILED else None)
        if job.kind == JobKind.BACKUP:
            _alert(session, settings, job.instance, AlertKind.BACKUP_FAILED, error)
        finish_job(session, job=job, status=JobStatus.FAILED if error else JobStatus.SUCCEEDED, error=error)


def _alert(
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


def _backup(settings: Settings, catalog: Catalog, job_id: str, instance_id: str, sink: DatabaseSink) -> None:
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        # A failed instance is backed up as it is (before a repair, say) and stays failed.
        running = instance.state == S.RUNNING
        if running:
            set_state(instance, S.BACKING_UP)
    back_to = S.RUNNING if running else None
    try:
        take_backup(settings, catalog, instance_id=instance_id, job_id=job_id, sink=sink)
    except BackupStepFailed as exc:
        # The instance itself is as well as it was: a failed backup is the job's failure, not its.
        _finish(settings, job_id, error=str(exc), state=back_to)
        return
    _finish(settings, job_id, error=None, state=back_to)


def _deploy(settings: Settings, catalog: Catalog, instance_id: str, sink: DatabaseSink) -> bool:
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        set_state(instance, S.PROVISIONING)
        spec = build_run_spec(settings, catalog, instance, JobKind.DEPLOY)
    return run_step(settings, spec, sink).status == "successful"


def _restore(settings: Settings, catalog: Catalog, job_id: str, instance_id: str, sink: DatabaseSink) -> None:
    url = settings.resolved_database_url
    with transaction(url) as session:
        backup_id = restore_of(session, job_id=job_id).id
        instance = session.get_one(Instance, instance_id)
        fresh = instance.state == S.APPROVED  # a restore into a new instance deploys it first
        if not fresh:
            set_state(instance, S.RESTORING)
    if fresh and not _deploy(settings, catalog, instance_id, sink):
        _finish(settings, job_id, error="the new instance could not be deployed", state=S.FAILED)
        return
    try:
        restore_backup(
            settings, catalog, instance_id=instance_id, backup_id=backup_id, job_id=job_id, sink=sink
        )
    except BackupStepFailed as exc:
        _finish(settings, job_id, error=str(exc), state=S.FAILED)
        return
    if fresh and not _own_credentials(settings, catalog, instance_id, sink):
        error = "the backup was restored, but the copy's own admin password could not be set"
        _finish(settings, job_id, error=error, state=S.FAILED)
        return
    with transaction(url) as session:
        job = owned_job(session, job_id=job_id)
        mark_running(settings, catalog, job.instance)
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def _own_credentials(settings: Settings, catalog: Catalog, instance_id: str, sink: DatabaseSink) -> bool:
    """A copy's restored data knows the original's admin password, not the copy's (shown) one: the
    template's reset steps make the copy's the valid one. Without such steps the copy keeps the
    original's logins, and the portal says so instead of showing a password."""
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        steps = credential_steps(catalog.get(instance.template))
        if not steps:
            return True
        spec = steps_run_spec(settings, catalog, instance, steps, timed_as="deploy")
    return run_step(settings, spec, sink).status == "successful"


def _drill(settings: Settings, catalog: Catalog, job_id: str, instance_id: str, sink: DatabaseSink) -> None:
    url = settings.resolved_database_url
    with transaction(url) as session:
        source = session.get_one(Instance, instance_id)
        backup = latest_backup(session, instance_id=instance_id)
        drill = DrillResult(
            instance_id=instance_id, job_id=job_id, backup_id=backup.id if backup else None, status="running"
        )
        session.add(drill)
        session.flush()
        drill_id = drill.id
        check = (
            check_spec(settings, catalog.get(source.template), source, backup.repository, read_data=True)
            if backup
            else None
        )
    throwaway_id: str | None = None
    error: str | None = None
    try:
        if backup is None or check is None:
            raise BackupStepFailed("the instance has no succeeded backup to drill with")
        if run_step(settings, check, sink).status != "successful":
            raise BackupStepFailed("restic check --read-data found the repository damaged")
        with transaction(url) as session:
            throwaway = make_throwaway(session, settings, catalog, session.get_one(Instance, instance_id))
            throwaway_id = throwaway.id
            session.get_one(DrillResult, drill_id).throwaway_instance_id = throwaway_id
        if not _deploy(settings, catalog, throwaway_id, sink):
            raise BackupStepFailed("the throwaway instance could not be deployed")
        restore_backup(
            settings, catalog, instance_id=throwaway_id, backup_id=backup.id, job_id=job_id, sink=sink
        )
        with transaction(url) as session:
            throwaway = session.get_one(Instance, throwaway_id)
            template = catalog.get(throwaway.template)
            if throwaway.url is None or throwaway.server is None:
                raise BackupStepFailed("the throwaway instance has no address")
            healthy = check_on_server(
                session, settings, template.health, url=throwaway.url, server=throwaway.server, timeout=15
            )
            data_check = check_spec(settings, template, throwaway, backup.repository, read_data=False)
        if healthy is not Health.HEALTHY:
            raise BackupStepFailed("the restored instance did not answer its health check")
        if run_step(settings, data_check, sink).status != "successful":
            raise BackupStepFailed("the restored data did not pass the template's data check")
    except BackupStepFailed as exc:
        error = str(exc)
    finally:
        # Gone before the job ends, so whoever waits for the drill finds no throwaway left.
        if throwaway_id is not None:
            _remove_throwaway(settings, catalog, throwaway_id, sink)
    _end_drill(settings, job_id, drill_id, error=error)


def _end_drill(settings: Settings, job_id: str, drill_id: str, *, error: str | None) -> None:
    with transaction(settings.resolved_database_url) as session:
        drill = session.get_one(DrillResult, drill_id)
        drill.status = "failed" if error else "passed"
        drill.detail = error or "restored, healthy, data check passed, repository verified"
        drill.finished_at = utcnow()
        job = owned_job(session, job_id=job_id)
        _alert(session, settings, job.instance, AlertKind.DRILL_FAILED, error)
        finish_job(session, job=job, status=JobStatus.FAILED if error else JobStatus.SUCCEEDED, error=error)


def _remove_throwaway(settings: Settings, catalog: Catalog, instance_id: str, sink: DatabaseSink) -> None:
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        if instance.state in (S.APPROVED, S.PROVISIONING, S.RESTORING):
            set_state(instance, S.FAILED, reason="a drill's throwaway")
        set_state(instance, S.REMOVING)
        spec = build_run_spec(settings, catalog, instance, JobKind.REMOVE)
    removed = run_step(settings, spec, sink).status == "successful"
    with transaction(settings.resolved_database_url) as session:
        instance = session.get_one(Instance, instance_id)
        if removed:
            set_state(instance, S.REMOVED)
            instance.url = None
        else:
            set_state(instance, S.FAILED, reason="the drill could not remove its throwaway instance")


RUNNERS = {JobKind.BACKUP: _backup, JobKind.RESTORE: _restore, JobKind.DRILL: _drill}


def execute_backup_job(
    settings: Settings, catalog: Catalog, job_id: str, kind: JobKind, sink: DatabaseSink
) -> None:
    """Called by the worker for a claimed job of one of the kinds in ``RUNNERS``."""
    with transaction(settings.resolved_database_url) as session:
        instance_id = session.get_one(Job, job_id).instance_id
    try:
        RUNNERS[kind](settings, catalog, job_id, instance_id, sink)
    except IllegalTransition as exc:
        # The instance changed while the job waited (a removal went first, say): nothing to do.
        with transaction(settings.resolved_database_url) as session:
            job = owned_job(session, job_id=job_id)
            finish_job(session, job=job, status=JobStatus.CANCELED, error=f"nothing done: {exc.detail}")
    except JobLost:
        raise
    except Exception as exc:
        log.exception("job %s broke down", job_id)
        sink.flush()
        with transaction(settings.resolved_database_url) as session:
            job = owned_job(session, job_id=job_id)
            error = f"the {kind.value} broke down inside the control plane: {type(exc).__name__}"
            finish_job(session, job=job, status=JobStatus.FAILED, error=error)
