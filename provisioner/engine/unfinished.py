"""A job that ends without its handler's say: its worker lost (killed, its machine gone) or its handler
broken down inside the control plane.

What the handler would have settled is settled here, so that nothing waits on a job that has ended:
an instance the job left half-way (in a working state such as ``backing_up``) is failed with the
job's reason, for an operator to look at, and so is the space a space job worked on; a backup or
drill the job had begun is failed, and raises its alert as a failed backup or drill does. An instance
a backup, drill or space job never changed (a drill's original, a shared instance) keeps its state; a
job of a kind that changes its instance fails it in any state, as its handler would have.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.alerts.service import AlertKind
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.engine.backup_jobs import alert
from provisioner.engine.registry import HANDLERS
from provisioner.exports.service import ACTIVE
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import reap_lost_jobs
from provisioner.jobs.states import JobKind
from provisioner.models import (
    Backup,
    DrillResult,
    Export,
    Instance,
    Job,
    Offboarding,
    SpaceBackup,
    SpaceRestore,
)
from provisioner.spaces.backup_alerts import space_backup_outcome
from provisioner.spaces.service import set_space_state
from provisioner.spaces.states import SpaceState
from provisioner.timeutil import utcnow

S = InstanceState

# The states an instance is in only while a job works on it.
WORKING_STATES = frozenset({S.PROVISIONING, S.UPDATING, S.BACKING_UP, S.RESTORING, S.MOVING, S.REMOVING})

# A space job's space ends failed unless it had reached one of these.
SPACE_SETTLED = frozenset({SpaceState.FAILED, SpaceState.REMOVED, SpaceState.REJECTED})

_ALERTS = {JobKind.BACKUP: AlertKind.BACKUP_FAILED, JobKind.DRILL: AlertKind.DRILL_FAILED}


def settle_unfinished(session: Session, settings: Settings, job: Job, *, reason: str) -> None:
    """Leave the job's instance, backups and drill as its handler would have on a failure."""
    if job.tenant_id is not None:
        _settle_association_job(session, job, reason=reason)
        return
    if job.offboarding_id is not None:
        # Stopped where it was: resumed by an operator, never left looking as if it ran on.
        offboarding = session.get_one(Offboarding, job.offboarding_id)
        offboarding.state, offboarding.error = "stopped", reason
    if job.instance is None:
        return  # a server's own job leaves nothing half-way but its outcome, written already
    kind = JobKind(job.kind)
    _fail(job.subject, reason, half_way_only=not HANDLERS[kind].breakdown_fails_instance)
    # A backup or an export of a space, a move that had not yet removed it, or a change of its limits
    # (one setting of the service's, the old one or the new) leaves the space working as it was.
    untouching = (JobKind.SPACE_BACKUP, JobKind.SPACE_EXPORT, JobKind.SPACE_MOVE_OUT, JobKind.SPACE_QUOTA)
    space_untouched = kind in untouching and (job.space is None or job.space.state == SpaceState.RUNNING)
    if job.space is not None and job.space.state not in SPACE_SETTLED and not space_untouched:
        set_space_state(job.space, SpaceState.FAILED, reason=reason)
    moved_into = session.get(SpaceRestore, job.id)
    if moved_into is not None and moved_into.instance is not None:
        _fail(moved_into.instance, reason, half_way_only=True)
    _fail_space_backups(session, job, reason=reason)
    begun = select(Backup).where(Backup.job_id == job.id, Backup.status == "running")
    for backup in session.scalars(begun):
        backup.status = "failed"
        backup.error = reason
    drills = select(DrillResult).where(DrillResult.job_id == job.id, DrillResult.status == "running")
    for drill in session.scalars(drills):
        drill.status = "failed"
        drill.detail = reason
        drill.finished_at = utcnow()
        if drill.throwaway_instance_id is not None:
            _fail(session.get_one(Instance, drill.throwaway_instance_id), reason, half_way_only=True)
    if kind in _ALERTS:
        alert(session, settings, job.subject, _ALERTS[kind], reason)
    if kind is JobKind.SPACE_BACKUP and job.space is not None:
        space_backup_outcome(session, settings, space=job.space, error=reason)
    _fail_exports(session, job, reason=reason)


def _settle_association_job(session: Session, job: Job, *, reason: str) -> None:
    """An association's export: the service whose backup it was taking is failed, as a service's own
    export would leave it, with that backup; a space's backup it was taking is failed (the space runs
    on, as after its own backup); the export ends failed."""
    begun = select(Backup).where(Backup.job_id == job.id, Backup.status == "running")
    for backup in session.scalars(begun):
        backup.status, backup.error = "failed", reason
        _fail(session.get_one(Instance, backup.instance_id), reason, half_way_only=True)
    _fail_space_backups(session, job, reason=reason)
    _fail_exports(session, job, reason=reason)


def _fail_space_backups(session: Session, job: Job, *, reason: str) -> None:
    for space_backup in session.scalars(
        select(SpaceBackup).where(SpaceBackup.job_id == job.id, SpaceBackup.status == "running")
    ):
        space_backup.status, space_backup.error, space_backup.finished_at = "failed", reason, utcnow()


def _fail_exports(session: Session, job: Job, *, reason: str) -> None:
    # An export the job had begun ends failed, so the next export may start; what a lost worker left of
    # it in the exports folder goes with the next sweep (``expire_exports``).
    for export in session.scalars(select(Export).where(Export.job_id == job.id, Export.state.in_(ACTIVE))):
        export.state, export.error, export.finished_at = "failed", reason, utcnow()


def reap_lost(settings: Settings, *, silent_since: datetime) -> list[str]:
    """Fail the running jobs silent since ``silent_since`` and settle what they left; their ids."""
    with transaction(settings.resolved_database_url) as session:
        reaped = reap_lost_jobs(session, silent_since=silent_since)
        for job in reaped:
            settle_unfinished(session, settings, job, reason=job.error or "worker lost")
        return [job.id for job in reaped]


def _fail(instance: Instance, reason: str, *, half_way_only: bool) -> None:
    if instance.state in (S.FAILED, S.REMOVED):
        return
    if half_way_only and instance.state not in WORKING_STATES:
        return
    set_state(instance, S.FAILED, reason=reason)
