"""A restore drill: the repository checked, the latest backup restored into a throwaway instance that
must answer its health check and pass the template's data check, the throwaway removed again."""

from __future__ import annotations

from provisioner.alerts.service import AlertKind
from provisioner.backups.runs import check_spec
from provisioner.backups.service import latest_backup, make_throwaway
from provisioner.backups.steps import BackupStepFailed, restore_backup, run_step
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec
from provisioner.engine.backup_jobs import alert, deploy_into
from provisioner.engine.sink import DatabaseSink
from provisioner.health.probe import Health
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import DrillResult, Instance, Job
from provisioner.runner.spec import RunOutcome

S = InstanceState


def run_drill_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    settings, catalog, url = ctx.settings, ctx.catalog, ctx.database_url
    with transaction(url) as session:
        instance_id = session.get_one(Job, job_id).subject.id
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
        _passed(run_step(ctx, check, sink), "restic check --read-data found the repository damaged")
        with transaction(url) as session:
            throwaway = make_throwaway(session, settings, catalog, session.get_one(Instance, instance_id))
            throwaway_id = throwaway.id
            session.get_one(DrillResult, drill_id).throwaway_instance_id = throwaway_id
        if not deploy_into(ctx, throwaway_id, sink):
            raise BackupStepFailed("the throwaway instance could not be deployed")
        restore_backup(ctx, instance_id=throwaway_id, backup_id=backup.id, job_id=job_id, sink=sink)
        with transaction(url) as session:
            throwaway = session.get_one(Instance, throwaway_id)
            template = catalog.get(throwaway.template)
            if throwaway.url is None or throwaway.server is None:
                raise BackupStepFailed("the throwaway instance has no address")
            healthy = ctx.health(
                session, settings, template.health, url=throwaway.url, server=throwaway.server, timeout=15
            )
            data_check = check_spec(settings, template, throwaway, backup.repository, read_data=False)
        if healthy is not Health.HEALTHY:
            raise BackupStepFailed("the restored instance did not answer its health check")
        _passed(run_step(ctx, data_check, sink), "the restored data did not pass the template's data check")
    except BackupStepFailed as exc:
        error = str(exc)
    finally:
        # Gone before the job ends, so whoever waits for the drill finds no throwaway left.
        if throwaway_id is not None:
            _remove_throwaway(ctx, throwaway_id, sink)
    _end_drill(ctx, job_id, drill_id, error=error)


def _passed(outcome: RunOutcome, failed: str) -> None:
    """A check that failed found a fault; one canceled or stopped found nothing, and says so."""
    if outcome.status == "failed":
        raise BackupStepFailed(failed)
    if outcome.status != "successful":
        raise BackupStepFailed(f"the drill's check did not finish: {outcome.error}")


def _end_drill(ctx: Context, job_id: str, drill_id: str, *, error: str | None) -> None:
    with transaction(ctx.database_url) as session:
        drill = session.get_one(DrillResult, drill_id)
        drill.status = "failed" if error else "passed"
        drill.detail = error or "restored, healthy, data check passed, repository verified"
        drill.finished_at = ctx.clock.now()
        job = owned_job(session, job_id=job_id)
        alert(session, ctx.settings, job.subject, AlertKind.DRILL_FAILED, error)
        finish_job(session, job=job, status=JobStatus.FAILED if error else JobStatus.SUCCEEDED, error=error)


def _remove_throwaway(ctx: Context, instance_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        if instance.state in (S.APPROVED, S.PROVISIONING, S.RESTORING):
            set_state(instance, S.FAILED, reason="a drill's throwaway")
        set_state(instance, S.REMOVING)
        spec = build_run_spec(ctx.settings, ctx.catalog, instance, JobKind.REMOVE)
    removed = run_step(ctx, spec, sink).status == "successful"
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        if removed:
            set_state(instance, S.REMOVED)
            instance.url = None
        else:
            set_state(instance, S.FAILED, reason="the drill could not remove its throwaway instance")
