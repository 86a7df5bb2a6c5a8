from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"


class JobKind(StrEnum):
    DEPLOY = "deploy"
    UPDATE = "update"
    REMOVE = "remove"
    RESET_CREDENTIALS = "reset_credentials"
    BACKUP = "backup"
    RESTORE = "restore"
    DRILL = "drill"
    # To another server: backup, deploy there, restore, switch, remove from the old one.
    MOVE = "move"
    # Inside a shared instance: make one association's space (deploying the instance first when it is
    # new), or remove it (and the instance with its last space).
    SPACE_CREATE = "space_create"
    SPACE_REMOVE = "space_remove"
    # One space's own data: backed up into its association's repository, put back into the space
    # (the other spaces untouched), or moved into a dedicated instance of its own (the space removed).
    SPACE_BACKUP = "space_backup"
    SPACE_RESTORE = "space_restore"
    SPACE_MOVE_OUT = "space_move_out"
    # A running space's limits changed by an operator, through the service's own command.
    SPACE_QUOTA = "space_quota"
    # A backup taken, restored into a throwaway folder and made into an archive in open formats.
    EXPORT = "export"
    # One space's own data backed up, restored into a throwaway folder and made into an archive.
    SPACE_EXPORT = "space_export"
    # A server's own job (no instance): Docker where missing, restic, git, the reverse proxy.
    BOOTSTRAP = "bootstrap"
    # An association's own job (no instance): every running service of it exported into one archive.
    ASSOCIATION_EXPORT = "association_export"
    # An association leaves (no instance): its services removed by jobs of their own, then its
    # backups, accounts and rows deleted, and its deletion record written.
    OFFBOARD = "offboard"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.TIMED_OUT})
