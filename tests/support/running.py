"""Instances in the running state, for tests of what watches running instances."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from provisioner.backups import targets
from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.instances.service import request_instance
from provisioner.instances.states import InstanceState
from provisioner.models import Backup, Export, Instance, Server, Tenant
from provisioner.schedules.service import ScheduleKind, create_schedule
from provisioner.timeutil import utcnow
from tests.support.factories import CATALOG, HOST_KEY, OPERATOR, admin_of, homepage


def running_homepage(session: Session, owner: Tenant, server: Server, name: str = "site") -> Instance:
    """A homepage as a finished deploy leaves it: placed, with a URL, running."""
    return _running(session, homepage(session, owner, name), server, name)


def running_blog(session: Session, owner: Tenant, server: Server, name: str = "blog") -> Instance:
    """A WordPress (a service with data to back up) as a finished deploy leaves it."""
    instance = request_instance(
        session,
        actor=admin_of(owner),
        catalog=CATALOG,
        template="wordpress",
        name=name,
        parameters={},
        tenant_id=None,
    )
    return _running(session, instance, server, name)


def _running(session: Session, instance: Instance, server: Server, name: str) -> Instance:
    owner = instance.tenant
    instance.state = InstanceState.RUNNING.value
    instance.server_id = server.id
    instance.subdomain = f"{name}-{owner.slug}"
    instance.domain = "example.test"
    scheme = "http" if server.tls_mode == "off" else "https"
    instance.url = f"{scheme}://{instance.subdomain}.example.test/"
    session.flush()
    return instance


def unused_backup_target(session: Session, settings: Settings) -> None:
    """What a backup request needs before it is accepted: a default target, never contacted."""
    targets.add_target(
        session,
        actor=OPERATOR,
        settings=settings,
        name="lab",
        kind="sftp",
        path="/srv/restic/",
        address="192.0.2.20",
        user="restic",
        host_key=HOST_KEY,
    )


def blog_with_backups(
    session: Session, settings: Settings, tenant: Tenant, server: Server
) -> tuple[str, str]:
    """A running WordPress with a succeeded and a failed backup, a ready export and a nightly backup
    schedule, on a backup target that is never contacted; returns the instance's and the succeeded
    backup's ids."""
    unused_backup_target(session, settings)
    blog = running_blog(session, tenant, server)
    repository = repository_for(session, settings, tenant_id=tenant.id)
    backups = [
        Backup(
            instance_id=blog.id,
            repository_id=repository.id,
            status=status,
            version=blog.version,
            size_bytes=size,
        )
        for status, size in (("succeeded", 48_000_000), ("failed", None))
    ]
    session.add_all(backups)
    # A ready export, so pages show one with its size, checksum, expiry and download link.
    session.add(
        Export(
            tenant_id=tenant.id,
            instance_id=blog.id,
            state="ready",
            size_bytes=47_000_000,
            sha256="0" * 64,
            finished_at=utcnow(),
            expires_at=utcnow() + timedelta(hours=72),
        )
    )
    create_schedule(
        session,
        actor=OPERATOR,
        settings=settings,
        catalog=CATALOG,
        kind=ScheduleKind.BACKUP,
        instance_id=blog.id,
        template=None,
        cron="30 2 * * *",
        interval_seconds=None,
    )
    session.commit()
    return blog.id, backups[0].id
