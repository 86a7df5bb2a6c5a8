"""The one table of job kinds and the handlers that run them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from provisioner.context import Context
from provisioner.engine.association_export_jobs import run_association_export_job
from provisioner.engine.backup_jobs import run_backup_job, run_restore_job
from provisioner.engine.drill import run_drill_job
from provisioner.engine.export_jobs import run_export_job
from provisioner.engine.moves import run_move
from provisioner.engine.offboard_jobs import run_offboard_job
from provisioner.engine.playbook_jobs import run_playbook_job
from provisioner.engine.server_jobs import run_bootstrap_job
from provisioner.engine.sink import DatabaseSink
from provisioner.engine.space_data_jobs import run_space_data_job
from provisioner.engine.space_jobs import run_space_job
from provisioner.engine.updates import run_update
from provisioner.jobs.states import JobKind


@dataclass(frozen=True)
class Handler:
    """Runs a claimed job of one kind to its end: the instance's states, the job's outcome."""

    run: Callable[[Context, str, DatabaseSink], None]
    # A job that ends without its handler's say (its worker lost, the handler broken down) fails its
    # instance, unless the instance may be as well as it was: a backup, a restore or a drill fail it
    # only when they left it half-way (see ``provisioner.engine.unfinished``).
    breakdown_fails_instance: bool = True


HANDLERS: dict[JobKind, Handler] = {
    JobKind.DEPLOY: Handler(run_playbook_job),
    JobKind.REMOVE: Handler(run_playbook_job),
    JobKind.RESET_CREDENTIALS: Handler(run_playbook_job),
    # Several runs with a way back when one fails.
    JobKind.UPDATE: Handler(run_update),
    JobKind.MOVE: Handler(run_move),
    JobKind.BACKUP: Handler(run_backup_job, breakdown_fails_instance=False),
    JobKind.RESTORE: Handler(run_restore_job, breakdown_fails_instance=False),
    JobKind.DRILL: Handler(run_drill_job, breakdown_fails_instance=False),
    # A space's job fails its space; the shared instance fails only with its own deploy or removal.
    JobKind.SPACE_CREATE: Handler(run_space_job, breakdown_fails_instance=False),
    JobKind.SPACE_REMOVE: Handler(run_space_job, breakdown_fails_instance=False),
    JobKind.SPACE_QUOTA: Handler(run_space_job, breakdown_fails_instance=False),
    JobKind.SPACE_BACKUP: Handler(run_space_data_job, breakdown_fails_instance=False),
    JobKind.SPACE_RESTORE: Handler(run_space_data_job, breakdown_fails_instance=False),
    JobKind.SPACE_MOVE_OUT: Handler(run_space_data_job, breakdown_fails_instance=False),
    JobKind.SPACE_EXPORT: Handler(run_space_data_job, breakdown_fails_instance=False),
    # Reads a backup: the instance is as it was whatever becomes of the export.
    JobKind.EXPORT: Handler(run_export_job, breakdown_fails_instance=False),
    # A server's own job: there is no instance to fail.
    JobKind.BOOTSTRAP: Handler(run_bootstrap_job, breakdown_fails_instance=False),
    # An association's own job: it fails only a service it left half-way (backing up).
    JobKind.ASSOCIATION_EXPORT: Handler(run_association_export_job, breakdown_fails_instance=False),
    # An association's offboarding (no instance): a breakdown stops it where it was, to be resumed.
    JobKind.OFFBOARD: Handler(run_offboard_job, breakdown_fails_instance=False),
}
