"""Backup and restore as steps inside any job's run for one instance (a backup job, an update, a drill).

The interface other jobs rely on; it stays stable:

``take_backup(ctx, *, instance_id, job_id, sink) -> Backup``
    Backs the instance up into its tenant's repository on the default target, with the template's
    backup hook around it, and applies the retention policy. First, when a recovery key is set and
    the repository has no copy of its password for it on the target yet, the copy is written
    (``provisioner.backups.escrow``); a copy that cannot be written fails the backup before restic
    runs. Records a ``Backup`` row (status ``running`` while it runs, then ``succeeded`` with snapshot
    id, size and duration, or ``failed``) and returns it, or raises ``BackupStepFailed`` after
    recording the failure.

``restore_backup(ctx, *, instance_id, backup_id, job_id, sink, version=None) -> None``
    Puts a succeeded backup of the same tenant back into ``instance_id`` (the instance it was taken
    of, or another one of the same template): containers stopped, volumes replaced (databases rebuilt
    from their dumps), containers started, the template's restore hook after it. With ``version``
    (a rolled-back update), the containers start at that version. Raises ``BackupStepFailed``.

Neither changes the instance's state or lock: the calling job owns both. ``sink`` is the calling
job's event sink (the engine's ``DatabaseSink``): the playbook's events go to the calling job,
numbered after those already there; its runs go through ``ctx.runner``. Each function commits its
own short transactions, so call them outside an open session of the caller's.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Protocol

from provisioner.backups.escrow import EscrowFailed, ensure_copy
from provisioner.backups.reported import UntrustedReport, backup_paths, check_report, left_out
from provisioner.backups.repository import repository_for
from provisioner.backups.runs import backup_spec, restore_spec
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.errors import NotFound
from provisioner.models import Backup, Instance
from provisioner.runner.spec import EventSink, RunnerEvent, RunOutcome, RunSpec
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

REPORT_TASK = "Report the backup"


class StepSink(EventSink, Protocol):
    def flush(self) -> None: ...

    @property
    def lost(self) -> bool:
        """The calling job was given up by the reaper: no step may run on for it."""

    def continue_numbering(self) -> None: ...


class BackupStepFailed(Exception):
    """A backup or restore step failed; the message is one line for people, without secrets."""


class ReportReader:
    """Passes events on, and keeps what the backup playbook reports about the snapshot (unchecked)."""

    def __init__(self, sink: StepSink) -> None:
        self._sink = sink
        self.report: object = None

    def emit(self, event: RunnerEvent) -> None:
        if event.task == REPORT_TASK and event.status == "ok" and "=> " in event.stdout:
            # The default callback prints the task result as JSON after the arrow.
            try:
                shown = json.loads(event.stdout.split("=> ", 1)[1])
            except ValueError:
                shown = None
            self.report = shown.get("msg") if isinstance(shown, dict) else None
        self._sink.emit(event)

    def should_cancel(self) -> bool:
        return self._sink.should_cancel()


def run_step(ctx: Context, spec: RunSpec, sink: StepSink, reader: ReportReader | None = None) -> RunOutcome:
    """One playbook run inside the calling job, its events numbered after those before."""
    sink.continue_numbering()
    outcome = ctx.runner.run(spec, reader or sink)
    sink.flush()
    sink.continue_numbering()
    return outcome


def take_backup(ctx: Context, *, instance_id: str, job_id: str, sink: StepSink) -> Backup:
    settings, url = ctx.settings, ctx.database_url
    with transaction(url) as session:
        instance = session.get_one(Instance, instance_id)
        repository = repository_for(session, settings, tenant_id=instance.tenant_id)
        backup = Backup(
            instance_id=instance.id,
            repository_id=repository.id,
            job_id=job_id,
            status="running",
            version=instance.version,
        )
        session.add(backup)
        session.flush()
        backup_id = backup.id
        template = ctx.catalog.get(instance.template)
        spec = backup_spec(settings, template, instance, repository)
        volumes = template.hooks.backup.volumes if template.hooks.backup else []
        optional = template.hooks.backup.optional if template.hooks.backup else []
        repository_id = repository.id
    try:
        ensure_copy(settings, repository_id=repository_id)
    except EscrowFailed as exc:
        # Before restic runs: a repository whose password could be lost with the control plane is
        # not written to silently.
        with transaction(url) as session:
            failed = session.get_one(Backup, backup_id)
            failed.status, failed.error, failed.finished_at = "failed", str(exc), utcnow()
        raise BackupStepFailed(f"the backup failed: {exc}") from exc
    reader = ReportReader(sink)
    started = time.monotonic()
    outcome = run_step(ctx, spec, sink, reader)
    with transaction(url) as session:
        backup = session.get_one(Backup, backup_id)
        backup.finished_at = utcnow()
        backup.duration_seconds = round(time.monotonic() - started, 3)
        if outcome.status != "successful" or reader.report is None:
            backup.status = "failed"
            backup.error = outcome.error or "the backup playbook reported no snapshot"
        else:
            try:
                checked = check_report(reader.report)
                missing = left_out(reader.report, optional)
            except UntrustedReport as exc:
                log.warning("backup %s: the server's report was refused: %s", backup_id, exc)
                backup.status = "failed"
                backup.error = f"the server's report was refused ({exc}); nothing of it was kept"
            else:
                backup.status = "succeeded"
                backup.snapshot_id = checked.snapshot_id
                backup.size_bytes = checked.size_bytes
                backup.added_bytes = checked.added_bytes
                # A volume the server lacked is not in the snapshot: its export part says it is missing.
                backup.paths = backup_paths(instance_id, [v for v in volumes if v not in missing])
    if backup.status != "succeeded":
        raise BackupStepFailed(f"the backup failed: {backup.error}")
    return backup


def restore_backup(
    ctx: Context,
    *,
    instance_id: str,
    backup_id: str,
    job_id: str,
    sink: StepSink,
    version: str | None = None,
) -> None:
    with transaction(ctx.database_url) as session:
        instance = session.get_one(Instance, instance_id)
        backup = session.get(Backup, backup_id)
        if backup is None or backup.instance.tenant_id != instance.tenant_id or backup.snapshot_id is None:
            raise NotFound("backup not found")
        if backup.instance.template != instance.template:
            raise BackupStepFailed(
                f"a {backup.instance.template} backup cannot go into a {instance.template}"
            )
        try:
            spec = restore_spec(
                ctx.settings,
                ctx.catalog.get(instance.template),
                instance,
                backup,
                job_id=job_id,
                version=version,
            )
        except UntrustedReport as exc:
            raise BackupStepFailed(f"the backup {backup.id} cannot be restored: {exc}") from exc
    outcome = run_step(ctx, spec, sink)
    if outcome.status != "successful":
        raise BackupStepFailed(f"the restore failed: {outcome.error}")
