"""Tables. The job row is the source of truth for everything that runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from provisioner.db import Base, UTCDateTime
from provisioner.ids import new_id
from provisioner.timeutil import utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ten"))
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Quotas; None means the lab's default from the settings, so changing the default reaches everyone.
    quota_instances: Mapped[int | None] = mapped_column(Integer)
    quota_memory_mb: Mapped[int | None] = mapped_column(Integer)
    quota_disk_gb: Mapped[int | None] = mapped_column(Integer)
    # "de" or "en": what the association is written to in when none of its people chose; None for the lab's.
    language: Mapped[str | None] = mapped_column(String(5))
    # "association", or "lab" for the one row that owns the lab's shared instances (no person or token
    # belongs to it, so no association reaches what it owns).
    kind: Mapped[str] = mapped_column(String(12), default="association", server_default="association")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("tok"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # None for operator tokens, which reach every tenant.
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who made it ("usr_...", "tok_...", "cli"): a person's tokens are revoked when the person is removed.
    created_by: Mapped[str | None] = mapped_column(String(32), index=True)


class Server(Base):
    __tablename__ = "servers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("srv"))
    name: Mapped[str] = mapped_column(String(63), unique=True)
    address: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer, default=22)
    user: Mapped[str] = mapped_column(String(32), default="root")
    # "ssh" for every real server; "local" for the machine the control plane runs on (embedded mode).
    connection: Mapped[str] = mapped_column(String(10), default="ssh")
    # Address instances publish their ports on; the SSH address unless the server says otherwise.
    public_address: Mapped[str] = mapped_column(String(253))
    root_dir: Mapped[str] = mapped_column(String(255), default="/srv/provisioner")
    host_key: Mapped[str | None] = mapped_column(Text)
    cpu: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    # Instances get <subdomain>.<base_domain>; None means the lab's base domain from the settings.
    base_domain: Mapped[str | None] = mapped_column(String(253))
    # "acme", "internal" or "off"; None means the lab's setting.
    tls_mode: Mapped[str | None] = mapped_column(String(10))
    reachable: Mapped[bool | None] = mapped_column(Boolean)
    # A draining server takes no new instances; its instances are being moved elsewhere.
    draining: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


LIVE_NAME = "state <> 'removed'"
LIVE_HOSTNAME = "state NOT IN ('removed', 'rejected')"


class Instance(Base):
    __tablename__ = "instances"
    # Names are unique per tenant among instances not removed, hostnames among instances not removed
    # or rejected (a removed instance keeps both for the record). The services check first, to answer
    # with the field; these indexes hold when two requests check at the same moment.
    __table_args__ = (
        UniqueConstraint("server_id", "port"),
        Index(
            "uq_instances_live_name",
            "tenant_id",
            "name",
            unique=True,
            postgresql_where=text(LIVE_NAME),
            sqlite_where=text(LIVE_NAME),
        ),
        Index(
            "uq_instances_live_hostname",
            "subdomain",
            "domain",
            unique=True,
            postgresql_where=text(LIVE_HOSTNAME),
            sqlite_where=text(LIVE_HOSTNAME),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ins"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    template: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), index=True)
    health: Mapped[str] = mapped_column(String(20), default="unknown")
    health_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    server_id: Mapped[str | None] = mapped_column(ForeignKey("servers.id"), index=True)
    port: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(500))
    state_reason: Mapped[str | None] = mapped_column(Text)
    # The instance answers at <subdomain>.<domain>; unique per domain among instances not removed
    # (checked by the service, since a removed instance keeps its record).
    subdomain: Mapped[str | None] = mapped_column(String(63), index=True)
    domain: Mapped[str | None] = mapped_column(String(253))
    # When the tenant admin saw the generated credentials; they are shown once only.
    credentials_revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The job that holds the instance: one mutating job per instance at a time.
    lock_job_id: Mapped[str | None] = mapped_column(String(32))
    # A copy an association asked for waits for approval like any request; approving it restores this
    # backup into it (no foreign key: backups point at instances already).
    copy_of_backup_id: Mapped[str | None] = mapped_column(String(32))
    # A shared instance holds the spaces of several associations; it belongs to the lab's tenant.
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tenant: Mapped[Tenant] = relationship(lazy="joined")
    server: Mapped[Server | None] = relationship(lazy="joined")
    secrets: Mapped[list[InstanceSecret]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    host_ports: Mapped[list[PortAllocation]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class InstanceSecret(Base):
    """A value generated once per instance (passwords, keys), encrypted with the lab's secret key."""

    __tablename__ = "instance_secrets"
    __table_args__ = (UniqueConstraint("instance_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    encrypted: Mapped[str] = mapped_column(Text, info={"encrypted": True})
    # Whether the tenant admin gets to see it (once), like a first admin password.
    shown: Mapped[bool] = mapped_column(Boolean, default=False)


class PortAllocation(Base):
    """A port an instance publishes on its server's public address (e.g. video media over UDP)."""

    __tablename__ = "port_allocations"
    __table_args__ = (UniqueConstraint("server_id", "protocol", "port"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(ForeignKey("servers.id"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    protocol: Mapped[str] = mapped_column(String(3))
    port: Mapped[int] = mapped_column(Integer)


# Loader options for a read that shows an instance: its secrets and ports load when something asks
# for them, not with it (an instance's page and its job's show neither; they were two of such a
# read's queries).
INSTANCE_EXTRAS_ON_ACCESS = (lazyload(Instance.secrets), lazyload(Instance.host_ports))


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("job"))
    # None for a job on a server itself (its bootstrap), which names the server in ``target_server_id``.
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("instances.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    # For updates: the version the instance moves to.
    target_version: Mapped[str | None] = mapped_column(String(40))
    # For moves: the server the instance moves to.
    target_server_id: Mapped[str | None] = mapped_column(ForeignKey("servers.id"))
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    # For space jobs: the space worked on inside the (shared) instance the job holds.
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id"), index=True)
    # For an association's own job, with no instance (the export of all its services).
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    # For offboarding jobs (no instance): the offboarding they carry out.
    offboarding_id: Mapped[str | None] = mapped_column(ForeignKey("offboardings.id"), index=True)

    instance: Mapped[Instance | None] = relationship(lazy="joined")
    space: Mapped[Space | None] = relationship(lazy="joined")
    tenant: Mapped[Tenant | None] = relationship(lazy="joined")

    @property
    def subject(self) -> Instance:
        """The instance an instance's job works on; every kind but a server's bootstrap has one."""
        if self.instance is None:
            raise ValueError(f"job {self.id} works on a server, not on an instance")
        return self.instance


class IdempotencyKey(Base):
    """The first answer to a POST sent with an Idempotency-Key, kept so a retry gets the same answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Whose key it is (a token or session), so two clients may pick the same key.
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobEvent(Base):
    __tablename__ = "job_events"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    host: Mapped[str | None] = mapped_column(String(253))
    task: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    line: Mapped[str] = mapped_column(Text)
    stdout: Mapped[str] = mapped_column(Text, default="")


# Backups: where they go, one restic repository per tenant there, the snapshots, restores and drills.
class BackupTarget(Base):
    """A place restic repositories live: a path on a backup server over SFTP, an S3 bucket, or a REST
    server (restic's REST protocol) that gives each tenant an append-only repository of its own."""

    __tablename__ = "backup_targets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("bkt"))
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # "sftp", "s3" or "rest"
    # sftp: the backup server and the folder that holds one repository per tenant.
    address: Mapped[str | None] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer, default=22)
    user: Mapped[str | None] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(500))  # sftp folder, or the bucket (and prefix) for s3
    host_key: Mapped[str | None] = mapped_column(Text)
    # The identity instance servers log in to the backup server with, generated here; the private half
    # (and for s3 the access keys) encrypted with the lab's secret key.
    public_key: Mapped[str | None] = mapped_column(Text)
    encrypted_credentials: Mapped[str] = mapped_column(Text, info={"encrypted": True})
    s3_endpoint: Mapped[str | None] = mapped_column(String(500))
    # rest: the append-only listener the instance servers reach, the full-access one only the control
    # plane reaches (pruning), and the first one's htpasswd file, which the control plane keeps.
    rest_url: Mapped[str | None] = mapped_column(String(500))
    rest_admin_url: Mapped[str | None] = mapped_column(String(500))
    htpasswd_file: Mapped[str | None] = mapped_column(String(500))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BackupRepository(Base):
    """One restic repository per tenant and target, with its password generated once, encrypted."""

    __tablename__ = "backup_repositories"
    __table_args__ = (UniqueConstraint("tenant_id", "target_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("backup_targets.id"))
    encrypted_password: Mapped[str] = mapped_column(Text, info={"encrypted": True})
    # rest targets: the password of the tenant's own user on the REST server (the user is the tenant id).
    encrypted_rest_password: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    # The recovery recipients (a digest of them) the password's copy on the target is encrypted to;
    # none yet, or other recipients since, and the next backup writes it again.
    escrowed_for: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    target: Mapped[BackupTarget] = relationship(lazy="joined")


class Backup(Base):
    __tablename__ = "backups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("bak"))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("backup_repositories.id"))
    # The job that took it: a backup job, or another job (an update) that took it on its way.
    job_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), index=True)  # running, succeeded, failed
    version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    added_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # Where each volume was on the server when it was backed up: its path inside the snapshot.
    paths: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    instance: Mapped[Instance] = relationship(lazy="joined")
    repository: Mapped[BackupRepository] = relationship(lazy="joined")


class BackupRestore(Base):
    """Which backup a restore job puts back (in place, or into a new instance)."""

    __tablename__ = "backup_restores"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    backup_id: Mapped[str] = mapped_column(ForeignKey("backups.id"), index=True)

    backup: Mapped[Backup] = relationship(lazy="joined")


class SpaceBackup(Base):
    """A backup of one space alone (its own data inside the shared instance), kept in its association's
    own repository."""

    __tablename__ = "space_backups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("sbk"))
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), index=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("backup_repositories.id"))
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # running, succeeded, failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)

    space: Mapped[Space] = relationship(lazy="joined")
    repository: Mapped[BackupRepository] = relationship(lazy="joined")


class SpaceRestore(Base):
    """What a space's restore job puts back (a backup of the space), or, for a move out of the shared
    instance, the dedicated instance the space's data goes into (its backup taken by the move itself)."""

    __tablename__ = "space_restores"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    backup_id: Mapped[str | None] = mapped_column(ForeignKey("space_backups.id"))
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("instances.id"))

    backup: Mapped[SpaceBackup | None] = relationship(lazy="joined")
    instance: Mapped[Instance | None] = relationship(lazy="joined")


class SpaceQuotaChange(Base):
    """The limits a space's quota change job gives it: the space's own columns take them once the
    service applied them, so they always say what the service enforces."""

    __tablename__ = "space_quota_changes"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    quota_members: Mapped[int | None] = mapped_column(Integer)
    quota_storage_mb: Mapped[int | None] = mapped_column(Integer)


class DrillResult(Base):
    """A restore drill: the latest backup restored into a throwaway instance and checked there."""

    __tablename__ = "drill_results"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("drl"))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    job_id: Mapped[str] = mapped_column(String(32))
    backup_id: Mapped[str | None] = mapped_column(ForeignKey("backups.id"))
    throwaway_instance_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), index=True)  # running, passed, failed
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Monitoring: schedules, health changes, server metrics, alerts.
class Schedule(Base):
    """Recurring work for one instance, or for every instance of a template that has none of its own."""

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("sch"))
    kind: Mapped[str] = mapped_column(String(20))
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    template: Mapped[str | None] = mapped_column(String(63), index=True)
    # Exactly one of the two: a cron expression read in the lab's time zone, or a fixed interval.
    cron: Mapped[str | None] = mapped_column(String(100))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Claimed by moving it forward with a compare-and-set, so two schedulers never run one slot twice.
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HealthEvent(Base):
    """A change of an instance's health (healthy -> unhealthy, recovered), kept for its history."""

    __tablename__ = "health_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    previous: Mapped[str] = mapped_column(String(20))
    current: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ServerMetric(Base):
    """One cheap collection from a server: reachability, disk, memory, and each instance's footprint."""

    __tablename__ = "server_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), index=True)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reachable: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    # Of the file system holding the server's root_dir, in MiB.
    disk_total_mb: Mapped[int | None] = mapped_column(Integer)
    disk_used_mb: Mapped[int | None] = mapped_column(Integer)
    memory_total_mb: Mapped[int | None] = mapped_column(Integer)
    memory_available_mb: Mapped[int | None] = mapped_column(Integer)
    # instance id -> {"cpu_percent": float, "memory_mb": float}, summed over its containers, and
    # "disk_mb": float, its volumes and folder (missing when du did not finish in time).
    instances: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InstanceMetric(Base):
    """An instance's footprint at one collection, kept as long as its server's (a service page reads its
    own days without going through every collection of its server)."""

    __tablename__ = "instance_metrics"
    __table_args__ = (Index("ix_instance_metrics_instance_collected", "instance_id", "collected_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    server_id: Mapped[str] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), index=True)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    cpu_percent: Mapped[float] = mapped_column(Float)
    memory_mb: Mapped[float] = mapped_column(Float)
    # Missing when du did not finish in time.
    disk_mb: Mapped[float | None] = mapped_column(Float)


class Alert(Base):
    """Something an operator (and the tenant) should know about; open until the condition clears."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("alr"))
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), index=True)
    # "kind:subject" while open, NULL once resolved: the unique index allows one open alert per condition.
    open_key: Mapped[str | None] = mapped_column(String(110), unique=True)
    # When it was first seen.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertDelivery(Base):
    """One notice (opened or resolved) waiting for, or sent to, one recipient; batched into digests."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    # An e-mail address, or "webhook".
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    event: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ServerCa(Base):
    """The root certificate of a server's proxy CA (internal TLS), which health sweeps verify against."""

    __tablename__ = "server_cas"

    server_id: Mapped[str] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True)
    pem: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Accounts: people, their web sessions, invitations, password resets and the rate limiter's counts.
class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("usr"))
    # Stored lower-cased, so one person has one account whatever the case they type.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # None for people who only log in through the lab's identity provider.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    # None for operators, who belong to the lab and reach every tenant.
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The portal's language when the person last signed in: their mail is written in it.
    language: Mapped[str | None] = mapped_column(String(5))


class WebSession(Base):
    """A portal login. The cookie value is stored as a digest; the CSRF token is per session."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ses"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    idle_minutes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The absolute end, however active the session is.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("inv"))
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(20))
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordReset(Base):
    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pwr"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateLimitHit(Base):
    """One counted attempt (a login, a reset request, ...) in a named bucket."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_bucket_created_at", "bucket", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OidcLogin(Base):
    """A login through the lab's identity provider, between the redirect there and the way back."""

    __tablename__ = "oidc_logins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # PKCE: only this server knows the verifier, so a stolen authorization code is worth nothing.
    code_verifier: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# Audit log and secrets at rest


class AuditEntry(Base):
    """One mutating action. Append-only: nothing updates or deletes these rows (a trigger refuses it)."""

    __tablename__ = "audit_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("aud"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Who: the token (or "cli", "system", "anonymous" when no credentials were accepted).
    actor: Mapped[str] = mapped_column(String(64))
    # No foreign key: the record outlives what it names.
    tenant_id: Mapped[str | None] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(100))
    target_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    # "success", or the title of the problem that was answered.
    outcome: Mapped[str] = mapped_column(String(200))


class OutgoingNotice(Base):
    """One notice for one recipient, queued with what it tells of and sent by a worker, retried when
    the mail server or webhook fails. ``values`` names rows by id and holds no secret."""

    __tablename__ = "outgoing_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    # An e-mail address, or "webhook".
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the next try is due; None once sent or given up.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class MailSettings(Base):
    """The lab's SMTP account, set with ``provisioner mail configure``; overrides PROVISIONER_SMTP_*."""

    __tablename__ = "mail_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1: one row
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    starttls: Mapped[bool] = mapped_column(Boolean)
    username: Mapped[str] = mapped_column(String(254), default="")
    password_encrypted: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    from_address: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookSettings(Base):
    """The lab's webhook, set in the portal or with ``provisioner mail webhook``; overrides
    PROVISIONER_ALERT_WEBHOOK_URL and its secret."""

    __tablename__ = "webhook_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1: one row
    # A chat room's incoming-webhook URL carries its own credential in the path: kept encrypted too.
    url_encrypted: Mapped[str] = mapped_column(Text, info={"encrypted": True})
    secret_encrypted: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


ACTIVE_EXPORT = "state IN ('queued', 'running')"
ACTIVE_ASSOCIATION_EXPORT = "instance_id IS NULL AND space_id IS NULL AND state IN ('queued', 'running')"
ACTIVE_SPACE_EXPORT = "space_id IS NOT NULL AND state IN ('queued', 'running')"


class Export(Base):
    """An archive of a service's data in open formats, of one space's data (no instance), or of all an
    association's services (neither), made for the association to take with it.

    One export per service, per space, and one of the whole association, runs at a time (the indexes
    hold when two requests check at once); once one is ready, the one before of the same service (or
    space, or of the whole association) is deleted, and each is deleted when it expires.
    """

    __tablename__ = "exports"
    __table_args__ = (
        Index(
            "uq_exports_one_running_per_instance",
            "instance_id",
            unique=True,
            postgresql_where=text(ACTIVE_EXPORT),
            sqlite_where=text(ACTIVE_EXPORT),
        ),
        Index(
            "uq_exports_one_running_per_association",
            "tenant_id",
            unique=True,
            postgresql_where=text(ACTIVE_ASSOCIATION_EXPORT),
            sqlite_where=text(ACTIVE_ASSOCIATION_EXPORT),
        ),
        Index(
            "uq_exports_one_running_per_space",
            "space_id",
            unique=True,
            postgresql_where=text(ACTIVE_SPACE_EXPORT),
            sqlite_where=text(ACTIVE_SPACE_EXPORT),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("exp"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    # None for an export of one space or of the whole association.
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("instances.id"), index=True)
    # The space exported: its own data, apart from the other spaces' of its shared instance.
    space_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # queued, running, ready, failed, replaced (by a newer one), expired
    state: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Of the archive as downloaded (tar.gz), so the association can check what it got.
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # The sealed file's name in the exports folder (named by the export's id, never by a request).
    file: Mapped[str | None] = mapped_column(String(100))
    backup_id: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(64))
    # Of an association's export: each service, exported (its files' count and checksum) or skipped
    # with the reason; what a deletion record lists as taken away.
    services: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    instance: Mapped[Instance | None] = relationship(lazy="joined")
    space: Mapped[Space | None] = relationship(lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


# Spaces: one association's part of a shared instance.
LIVE_SPACE = "state NOT IN ('removed', 'rejected')"


class Space(Base):
    """One association's space inside a shared instance (a WordPress network site, say), at an address
    of its own, with its own first admin, quota and jobs."""

    __tablename__ = "spaces"
    __table_args__ = (
        Index(
            "uq_spaces_live_name",
            "tenant_id",
            "name",
            unique=True,
            postgresql_where=text(LIVE_SPACE),
            sqlite_where=text(LIVE_SPACE),
        ),
        Index(
            "uq_spaces_live_hostname",
            "subdomain",
            "domain",
            unique=True,
            postgresql_where=text(LIVE_SPACE),
            sqlite_where=text(LIVE_SPACE),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("spc"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    template: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    health: Mapped[str] = mapped_column(String(20), default="unknown")
    health_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Since when the health sweep has found it unhealthy (None while healthy): its alert waits the grace.
    unhealthy_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subdomain: Mapped[str] = mapped_column(String(63))
    domain: Mapped[str] = mapped_column(String(253))
    url: Mapped[str | None] = mapped_column(String(500))
    # The shared instance it is placed in; None until approved.
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("instances.id"), index=True)
    # None: no limit of its own (the service's default).
    quota_members: Mapped[int | None] = mapped_column(Integer)
    quota_storage_mb: Mapped[int | None] = mapped_column(Integer)
    admin_user: Mapped[str | None] = mapped_column(String(64))
    encrypted_admin_password: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    # When the association's admin saw the first admin's password; it is shown once only.
    credentials_revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tenant: Mapped[Tenant] = relationship(lazy="joined")
    instance: Mapped[Instance | None] = relationship(lazy="joined")


class TemplateModes(Base):
    """Which of a template's modes (dedicated, shared) associations may request; the operator's choice.
    A template without a row offers its dedicated mode only."""

    __tablename__ = "template_modes"

    template: Mapped[str] = mapped_column(String(63), primary_key=True)
    modes: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# Offboarding: an association leaves; what was deleted stays as its deletion record.
ACTIVE_OFFBOARDING_STATES = ("waiting", "running", "stopped", "retaining")
ACTIVE_OFFBOARDING = f"state IN {ACTIVE_OFFBOARDING_STATES}"


class Offboarding(Base):
    """One association's offboarding and, once it is done, its deletion record: the one row that
    outlives the association. It names what was deleted, never a secret, and holds no foreign key to
    the tenant (whose row is deleted at the end), so its tenant column is a plain id.

    One offboarding per tenant is under way at a time (the partial unique index holds when two
    requests check at once).
    """

    __tablename__ = "offboardings"
    __table_args__ = (
        Index(
            "uq_offboardings_one_active_per_tenant",
            "tenant_id",
            unique=True,
            postgresql_where=text(ACTIVE_OFFBOARDING),
            sqlite_where=text(ACTIVE_OFFBOARDING),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("off"))
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    tenant_slug: Mapped[str] = mapped_column(String(40))
    tenant_name: Mapped[str] = mapped_column(String(200))
    # The certificate's language ("de" or "en").
    language: Mapped[str] = mapped_column(String(5))
    # waiting (until not_before; may be canceled), running, stopped (a step failed: resumable),
    # retaining (all gone but the backups, deleted at backups_due_at), completed, canceled.
    state: Mapped[str] = mapped_column(String(20), index=True)
    # The step it is at or stopped at, and why it stopped (no secret).
    step: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    delete_backups_now: Mapped[bool] = mapped_column(Boolean, default=False)
    backups_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    canceled_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What was deleted, step by step (see ``provisioner.offboarding.record``): names, counts, job ids
    # and checksums; never a password, token or address of a person.
    deleted: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
