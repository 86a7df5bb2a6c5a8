"""Rows made through the domain services, so tests start from states the product can reach."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor, Role
from provisioner.backups.targets import add_target
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.instances.service import approve_instance, request_instance
from provisioner.models import BackupTarget, Instance, Server, Tenant
from provisioner.servers.service import add_server
from provisioner.tenants.service import create_tenant

OPERATOR = Actor(token_id="test-operator", role=Role.OPERATOR, tenant_id=None)
CATALOG = Catalog.from_dir(Settings().resolved_templates_dir)
# A host key of the right form, for servers and backup targets the tests never contact.
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmPAo4nDpQJ3rl5OCZ6QpjXHbnSDE4o1cqe5pMwwaQ3"


def tenant(session: Session, slug: str = "verein-a") -> Tenant:
    return create_tenant(
        session, actor=OPERATOR, slug=slug, name=f"{slug} e.V.", contact_email=f"a@{slug}.org"
    )


def admin_of(row: Tenant) -> Actor:
    return Actor(token_id=f"admin-{row.id}", role=Role.ADMIN, tenant_id=row.id)


def server(session: Session, name: str = "s1", *, memory_mb: int = 1024) -> Server:
    return add_server(
        session,
        actor=OPERATOR,
        name=name,
        address="192.0.2.10",
        port=22,
        user="root",
        cpu=4,
        memory_mb=memory_mb,
        disk_gb=40,
        host_key=HOST_KEY,
    )


def sftp_target(session: Session, settings: Settings, name: str) -> BackupTarget:
    """A backup target on a backup server the tests never contact (the first one is the default)."""
    return add_target(
        session, actor=OPERATOR, settings=settings, name=name, kind="sftp", path="/srv",
        address="192.0.2.20", user="restic", host_key=HOST_KEY,
    )  # fmt: skip


def homepage(session: Session, owner: Tenant, name: str = "site") -> Instance:
    return request_instance(
        session,
        actor=admin_of(owner),
        catalog=CATALOG,
        template="homepage",
        name=name,
        parameters={"title": "Verein"},
        tenant_id=None,
    )


class Approved(NamedTuple):
    tenant_id: str
    instance_id: str
    job_id: str


def approved_homepage(db_url: str) -> Approved:
    """A homepage approved onto a server, its deploy queued and taken by no worker."""
    with session_factory(db_url)() as session:
        owner = tenant(session)
        server(session)
        instance = homepage(session, owner)
        job = approve_instance(
            session, actor=OPERATOR, catalog=CATALOG, instance_id=instance.id, server_id=None
        )
        session.commit()
        return Approved(owner.id, instance.id, job.id)
