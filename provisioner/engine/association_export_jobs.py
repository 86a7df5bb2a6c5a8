"""An association's export job: each running service backed up afresh (the template's consistency hooks
around it), one after another, then each of its spaces whose service can take one space's data apart
(as the space's own backup does), then all of them restored into a throwaway folder and made into one
sealed archive.

The job has no instance of its own: it takes each service's lock for as long as that service's backup
runs, so no other job of the service runs meanwhile, and a service another job holds is left out with
the reason, as are services that are not running (neither fails the export); a space holds its shared
instance's lock while its backup runs, and a space of a service that cannot take it apart is listed
with the template's own words. A backup that fails
fails the export: the archive is made from a consistent state of every service it holds, or not at all.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import update

from provisioner.backups.steps import BackupStepFailed
from provisioner.catalog.sharing import shared_mode
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.engine.export_jobs import end_export_job, end_job
from provisioner.engine.sink import DatabaseSink, note
from provisioner.engine.space_data_jobs import SpaceDataFailed, back_up_space
from provisioner.engine.steps import backup_first
from provisioner.exports import readme
from provisioner.exports.archive import Skipped
from provisioner.exports.association import association_services, association_spaces, latest_backups_bytes
from provisioner.exports.association_making import Taken, TakenSpace, make_association_export
from provisioner.exports.making import ExportFailed, check_free_space, exports_folder
from provisioner.exports.service import export_of_job
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import owned_job
from provisioner.models import Instance, Space
from provisioner.spaces.states import SpaceState

S = InstanceState


def run_association_export_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        export = export_of_job(session, job_id=job_id)
        export.state = "running"
        services = [(i.id, i.name) for i in association_services(session, tenant_id=export.tenant_id)]
        spaces = [(s.id, s.name) for s in association_spaces(session, tenant_id=export.tenant_id)]
        expected = latest_backups_bytes(
            session,
            instance_ids=[instance_id for instance_id, _ in services],
            space_ids=[space_id for space_id, _ in spaces],
        )
    skipped: list[Skipped] = []
    try:
        # Before any backup is taken, from the last ones' sizes; checked again once they are taken.
        check_free_space(ctx.settings, exports_folder(ctx.settings), expected)
    except ExportFailed as exc:
        end_job(ctx, job_id, error=str(exc))
        return
    taken: list[Taken] = []
    for instance_id, name in services:
        note(sink, f"exporting the service {name}")
        left_out = _hold(ctx, job_id, instance_id)
        if left_out is not None:
            note(sink, f"left out: {left_out.reason}")
            skipped.append(left_out)
            continue
        try:
            backup = backup_first(ctx, instance_id=instance_id, job_id=job_id, sink=sink)
        except BackupStepFailed as exc:
            _let_go(ctx, job_id, instance_id)
            end_job(ctx, job_id, error=f"{name}: {exc}")
            return
        _let_go(ctx, job_id, instance_id)
        taken.append(Taken(instance_id=instance_id, backup_id=backup.id if backup else None))
    taken_spaces: list[TakenSpace] = []
    for space_id, name in spaces:
        note(sink, f"exporting the space {name}")
        left_out = _hold_space(ctx, job_id, space_id)
        if left_out is not None:
            note(sink, f"left out: {left_out.reason}")
            skipped.append(left_out)
            continue
        try:
            backup_id = back_up_space(ctx, job_id, sink, space_id=space_id)
        except SpaceDataFailed as exc:
            end_job(ctx, job_id, error=f"{name}: {exc}")
            return
        finally:
            _let_go_shared(ctx, job_id, space_id)
        taken_spaces.append(TakenSpace(space_id=space_id, backup_id=backup_id))
    note(sink, "making the export")
    try:
        make_association_export(
            ctx.settings, ctx.catalog, job_id=job_id, taken=taken, skipped=skipped, spaces=taken_spaces
        )
    except ExportFailed as exc:
        end_job(ctx, job_id, error=str(exc))
        return
    end_export_job(ctx, job_id, sink)


def _hold(ctx: Context, job_id: str, instance_id: str) -> Skipped | None:
    """Take the service's lock and mark it backing up; what is left out instead, and why."""
    with transaction(ctx.database_url) as session:
        owned_job(session, job_id=job_id)  # the job's row first, as every settling transaction takes it
        instance = session.get_one(Instance, instance_id)
        if instance.state != S.RUNNING:
            return Skipped(
                instance.name, instance.template, instance.version, readme.NOT_RUNNING, instance.state
            )
        if ctx.catalog.get(instance.template).exports is None:
            return Skipped(instance.name, instance.template, instance.version, readme.NO_EXPORTS)
        held = session.execute(
            update(Instance)
            .where(Instance.id == instance_id, Instance.lock_job_id.is_(None))
            .values(lock_job_id=job_id)
        )
        if held.rowcount != 1:  # type: ignore[attr-defined]
            return Skipped(instance.name, instance.template, instance.version, readme.BUSY)
        session.refresh(instance)
        set_state(instance, S.BACKING_UP)
    return None


def _let_go(ctx: Context, job_id: str, instance_id: str) -> None:
    with transaction(ctx.database_url) as session:
        owned_job(session, job_id=job_id)
        instance = session.get_one(Instance, instance_id)
        if instance.state == S.BACKING_UP:
            set_state(instance, S.RUNNING)
        if instance.lock_job_id == job_id:
            instance.lock_job_id = None


def _hold_space(ctx: Context, job_id: str, space_id: str) -> Skipped | None:
    """Take the lock of the space's shared instance, as the space's own backup job would; what is left
    out instead, and why: a space not running, or of a service that cannot take it apart."""
    with transaction(ctx.database_url) as session:
        owned_job(session, job_id=job_id)
        space = session.get_one(Space, space_id)
        version = space.instance.version if space.instance is not None else ""
        left_out = partial(Skipped, space.name, space.template, version, space=True)
        if space.state != SpaceState.RUNNING or space.instance is None:
            return left_out(readme.SPACE_NOT_RUNNING, space.state)
        template = ctx.catalog.get(space.template)
        data = shared_mode(template.sharing, template.name).data
        if not data.separable:
            return left_out(readme.NOT_SEPARABLE, said=data.restore)
        if not data.parts:
            return left_out(readme.NO_SPACE_PARTS)
        held = session.execute(
            update(Instance)
            .where(Instance.id == space.instance_id, Instance.lock_job_id.is_(None))
            .values(lock_job_id=job_id)
        )
        if held.rowcount != 1:  # type: ignore[attr-defined]
            return left_out(readme.BUSY)
    return None


def _let_go_shared(ctx: Context, job_id: str, space_id: str) -> None:
    with transaction(ctx.database_url) as session:
        owned_job(session, job_id=job_id)
        space = session.get_one(Space, space_id)
        session.execute(
            update(Instance)
            .where(Instance.id == space.instance_id, Instance.lock_job_id == job_id)
            .values(lock_job_id=None)
        )
