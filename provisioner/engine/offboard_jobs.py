"""An offboarding job: the association's exports, spaces and services removed, its people's accounts
deleted, its backups deleted (now, or by a second job when the lab's retention is over), then its rows,
and the deletion record completed and sent to its contact.

Each step removes what is left of its part, so a job that stopped (a removal failed, a service was
busy, a target did not answer) is resumed by a new job from the same steps: the record says where it
stopped, and the association stays marked as leaving meanwhile, never as a healthy one.

Spaces and services are removed by the same jobs a removal from the portal makes, run here one after
another: their steps and outcome are on their own job pages, and the record names them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from provisioner.auth.actor import SYSTEM_ACTOR
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.engine.sink import DatabaseSink, note
from provisioner.errors import Conflict
from provisioner.exports.service import drop_archive
from provisioner.instances.operations import remove_instance
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobStatus
from provisioner.models import BackupRepository, Export, Instance, Job, Offboarding, Space, Tenant
from provisioner.notices.outbox import NoticeKind, queue
from provisioner.offboarding import erase, record
from provisioner.offboarding.repositories import RepositoryNotDeleted, delete_repository
from provisioner.spaces.service import remove_space
from provisioner.spaces.states import LIVE
from provisioner.timeutil import utcnow

GONE = (InstanceState.REMOVED.value, InstanceState.REJECTED.value)


class Stopped(Exception):
    """A step could not finish; one line for people, no secret. The offboarding waits to be resumed."""


class Retained(Exception):
    """The backups are kept for the lab's retention; a later job deletes them and finishes."""


def run_offboard_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        offboarding = session.get_one(Offboarding, job.offboarding_id)
        offboarding_id = offboarding.id
        if offboarding.state not in ("waiting", "running", "stopped", "retaining"):
            finish_job(
                session,
                job=job,
                status=JobStatus.CANCELED,
                error=f"nothing to do: the offboarding is {offboarding.state}",
            )
            return
        if offboarding.state != "retaining":
            offboarding.state = "running"
        offboarding.started_at = offboarding.started_at or utcnow()
        offboarding.error = None
        record.append(offboarding, "jobs", {"job": job_id, "started_at": utcnow().isoformat()})
    step = ""
    try:
        for step, run in STEPS:
            with transaction(ctx.database_url) as session:
                session.get_one(Offboarding, offboarding_id).step = step
            run(ctx, job_id, offboarding_id, sink)
    except Retained as kept:
        note(sink, str(kept))
        _end(ctx, job_id, offboarding_id, state="retaining", error=None)
        return
    except Stopped as exc:
        note(sink, f"stopped at {step}: {exc}")
        _end(ctx, job_id, offboarding_id, state="stopped", error=f"the offboarding stopped at {step}: {exc}")
        return
    note(sink, "everything of the association is deleted; the deletion record is sent to its contact")
    _end(ctx, job_id, offboarding_id, state="completed", error=None)


def _end(ctx: Context, job_id: str, offboarding_id: str, *, state: str, error: str | None) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        offboarding = session.get_one(Offboarding, offboarding_id)
        offboarding.state = state
        offboarding.error = error
        if state == "completed":
            offboarding.step = None
            offboarding.completed_at = utcnow()
        finish_job(session, job=job, status=JobStatus.FAILED if error else JobStatus.SUCCEEDED, error=error)


def _exports(ctx: Context, job_id: str, offboarding_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        offboarding = session.get_one(Offboarding, offboarding_id)
        tenant_id = offboarding.tenant_id
        if "final_export" not in offboarding.deleted:
            record.add(offboarding, "final_export", record.final_exports(session, tenant_id=tenant_id))
        exports = session.scalars(select(Export).where(Export.tenant_id == tenant_id)).unique().all()
        for export in exports:
            drop_archive(ctx.settings, export)
        record.add(offboarding, "exports", offboarding.deleted.get("exports", 0) + len(exports))
        erase.erase_exports(session, tenant_id=tenant_id)
    note(sink, f"exports: {len(exports)} deleted with their archives")


def _run_removal(ctx: Context, job_id: str, removal_id: str, what: str) -> Job:
    # Imported here: the engine's executor imports the handler table, which imports this module.
    from provisioner.engine.execute import InstanceBusy, execute_job  # noqa: PLC0415

    try:
        execute_job(ctx, removal_id, worker=f"offboarding job {job_id}")
    except InstanceBusy as exc:
        raise Stopped(f"{what} is busy with another job; resume when it has ended") from exc
    with transaction(ctx.database_url) as session:
        removal = session.get_one(Job, removal_id)
        if removal.status != JobStatus.SUCCEEDED:
            raise Stopped(
                f"removing {what} ({removal.id}) did not succeed: {removal.error or removal.status}"
            )
        return removal


def _spaces(ctx: Context, job_id: str, offboarding_id: str, sink: DatabaseSink) -> None:
    """Each live space removed by its own space removal job (one still requested goes at once)."""
    while True:
        with transaction(ctx.database_url) as session:
            offboarding = session.get_one(Offboarding, offboarding_id)
            live = [s.value for s in LIVE]
            query = select(Space).where(Space.tenant_id == offboarding.tenant_id, Space.state.in_(live))
            space = session.scalars(query.order_by(Space.id).limit(1)).first()
            if space is None:
                return
            entry = {"id": space.id, "name": space.name, "template": space.template, "url": space.url}
            try:
                removal = remove_space(session, actor=SYSTEM_ACTOR, space_id=space.id)
            except Conflict as exc:
                raise Stopped(f"the space {space.name}: {exc.detail}") from exc
            removal_id = None if removal is None else _held_back(removal)
            entry["job"] = removal_id
            record.append(offboarding, "spaces", entry)
        if removal_id is not None:
            note(sink, f"removing the space {entry['name']} (job {removal_id})")
            _run_removal(ctx, job_id, removal_id, f"the space {entry['name']}")


def _services(ctx: Context, job_id: str, offboarding_id: str, sink: DatabaseSink) -> None:
    """Each service not removed yet removed by its own removal job, as from its page."""
    while True:
        with transaction(ctx.database_url) as session:
            offboarding = session.get_one(Offboarding, offboarding_id)
            query = select(Instance).where(
                Instance.tenant_id == offboarding.tenant_id, Instance.state.not_in(GONE)
            )
            instance = session.scalars(query.order_by(Instance.id).limit(1)).unique().first()
            if instance is None:
                return
            entry = {
                "id": instance.id,
                "name": instance.name,
                "template": instance.template,
                "url": instance.url,
                "server": instance.server.name if instance.server else None,
            }
            try:
                removal = remove_instance(session, actor=SYSTEM_ACTOR, instance_id=instance.id)
            except Conflict as exc:
                raise Stopped(f"the service {instance.name}: {exc.detail}") from exc
            removal_id = _held_back(removal)
            entry["job"] = removal_id
            record.append(offboarding, "services", entry)
        note(sink, f"removing the service {entry['name']} (job {removal_id})")
        _run_removal(ctx, job_id, removal_id, f"the service {entry['name']}")


def _held_back(removal: Job) -> str:
    """A removal job this job runs itself: marked as sent, so the redispatch loop leaves it alone."""
    removal.dispatched_at = utcnow()
    return removal.id


def _people(ctx: Context, job_id: str, offboarding_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        offboarding = session.get_one(Offboarding, offboarding_id)
        counts = erase.erase_people(session, tenant_id=offboarding.tenant_id)
        for key, count in counts.items():
            record.add(offboarding, key, offboarding.deleted.get(key, 0) + count)
    note(
        sink,
        "accounts, sessions, invitations and tokens deleted: "
        + ", ".join(f"{k} {v}" for k, v in counts.items()),
    )


def _backups(ctx: Context, job_id: str, offboarding_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        offboarding = session.get_one(Offboarding, offboarding_id)
        tenant_id = offboarding.tenant_id
        # A resumed job skips those it deleted before (their rows go with the others, at the end).
        done = [entry["repository"] for entry in offboarding.deleted.get("repositories", [])]
        query = select(BackupRepository).where(
            BackupRepository.tenant_id == tenant_id, BackupRepository.id.not_in(done)
        )
        repositories = session.scalars(query.order_by(BackupRepository.id)).all()
        kept_until = None
        if repositories and not offboarding.delete_backups_now:
            if offboarding.backups_due_at is None:
                days = ctx.settings.offboarding_backup_retention_days
                offboarding.backups_due_at = utcnow() + timedelta(days=days)
            kept_until = offboarding.backups_due_at if offboarding.backups_due_at > utcnow() else None
        work = [(r.target, record.repository_entry(session, r)) for r in repositories]
    if kept_until is not None:  # raised after the commit, which keeps the date
        raise Retained(f"backups are kept until {kept_until:%Y-%m-%d %H:%M} UTC")
    for target, entry in work:
        try:
            delete_repository(ctx.settings, target, tenant_id=tenant_id)
        except RepositoryNotDeleted as exc:
            raise Stopped(str(exc)) from exc
        with transaction(ctx.database_url) as session:
            offboarding = session.get_one(Offboarding, offboarding_id)
            record.append(offboarding, "repositories", {**entry, "deleted_at": utcnow().isoformat()})
        note(sink, f"the repository on {entry['target']} is deleted, with its password's recovery copy")


def _rows(ctx: Context, job_id: str, offboarding_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        offboarding = session.get_one(Offboarding, offboarding_id)
        tenant = session.get(Tenant, offboarding.tenant_id)
        if tenant is not None:
            # The certificate goes to the contact; its address lives on in the queued mail alone.
            queue(
                session,
                kind=NoticeKind.DELETION_RECORD,
                recipients=[(tenant.contact_email, offboarding.language)],
                values={"offboarding_id": offboarding.id},
            )
        erase.erase_rest(session, tenant_id=offboarding.tenant_id)
    note(sink, "the association's rows are deleted; its deletion record stays")


STEPS: list[tuple[str, Callable[[Context, str, str, DatabaseSink], None]]] = [
    ("exports", _exports),
    ("spaces", _spaces),
    ("services", _services),
    ("people", _people),
    ("backups", _backups),
    ("rows", _rows),
]
