"""An association with something of everything an offboarding deletes, beside one that stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.accounts.service import create_user
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.backups.repository import repository_for
from provisioner.config import Settings
from provisioner.db import Base, session_factory
from provisioner.errors import Conflict
from provisioner.models import Backup, Export, Invitation, Offboarding, Server, Tenant
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.running import running_blog


def association_with_everything(
    session: Session, settings: Settings, server: Server, slug: str
) -> tuple[str, str]:
    """A tenant with a running blog, a backup in its repository, a ready export, an admin's account,
    an open invitation and a token; its id and the blog's."""
    tenant = factories.tenant(session, slug)
    blog = running_blog(session, tenant, server, "blog")
    repository = repository_for(session, settings, tenant_id=tenant.id)
    session.add(
        Backup(instance_id=blog.id, repository_id=repository.id, status="succeeded", version=blog.version)
    )
    session.add(
        Export(
            tenant_id=tenant.id,
            instance_id=blog.id,
            state="ready",
            size_bytes=1234,
            sha256="ab" * 32,
            finished_at=utcnow(),
            expires_at=utcnow() + timedelta(hours=72),
        )
    )
    create_user(
        session, email=f"admin@{slug}.org", name="Admin", password=None, role=Role.ADMIN, tenant_id=tenant.id
    )
    session.add(
        Invitation(
            email=f"new@{slug}.org",
            role="member",
            tenant_id=tenant.id,
            token_hash=f"{slug:0<64}"[:64],
            invited_by="test",
            expires_at=utcnow() + timedelta(days=1),
        )
    )
    create_token(session, name="script", role=Role.ADMIN, tenant_id=tenant.id)
    session.flush()
    return tenant.id, blog.id


def tables_with_a_tenant_column() -> list[str]:
    """Every table with a ``tenant_id`` column, read from the models: a new table is covered too."""
    return sorted(t.name for t in Base.metadata.sorted_tables if "tenant_id" in t.columns)


def rows_of(session: Session, tenant_id: str) -> dict[str, int]:
    """How many rows each table with a tenant column holds for ``tenant_id``."""
    found = {}
    for name in tables_with_a_tenant_column():
        table = Base.metadata.tables[name]
        count = len(session.execute(select(table.c.tenant_id).where(table.c.tenant_id == tenant_id)).all())
        found[name] = count
    return found


def tenant_exists(session: Session, tenant_id: str) -> bool:
    return session.get(Tenant, tenant_id) is not None


# Kept on purpose (docs/offboarding.md): the deletion record, and the append-only audit log.
KEPT = {"offboardings": "the deletion record", "audit_entries": "the append-only audit log"}


def tables_with_an_instance_column() -> list[str]:
    return sorted(t.name for t in Base.metadata.sorted_tables if "instance_id" in t.columns)


def left_in_database(session: Session, tenant_id: str, instance_ids: list[str]) -> dict[str, int]:
    """For each table with a tenant column (but those kept) the tenant's rows, and for each table
    with an instance column the rows of its services: what was looked for, and how much is left."""
    counted = rows_of(session, tenant_id).items()
    found = {f"rows of {name} for the tenant": n for name, n in counted if name not in KEPT}
    for name in tables_with_an_instance_column():
        column = Base.metadata.tables[name].c.instance_id
        rows = session.execute(select(column).where(column.in_(instance_ids))).all()
        found[f"rows of {name} for its services"] = len(rows)
    return found


def offboarded_record(session: Session) -> Offboarding:
    """The deletion record of an association offboarded before (its tenant row gone), as a
    completed offboarding leaves it."""
    now = utcnow()
    record = Offboarding(
        tenant_id="ten_gone0000000000",
        tenant_slug="verein-alt",
        tenant_name="Verein Alt e.V.",
        language="de",
        state="completed",
        requested_by="tok_operator",
        requested_at=now - timedelta(days=31),
        not_before=now - timedelta(days=31),
        delete_backups_now=False,
        backups_due_at=now - timedelta(days=1),
        started_at=now - timedelta(days=31),
        completed_at=now - timedelta(days=1),
        deleted={
            "jobs": [{"job": "job_offboard000001"}, {"job": "job_offboard000002"}],
            "final_export": [
                {"export": "exp_1", "service": "blog", "finished_at": (now - timedelta(days=32)).isoformat(),
                 "size_bytes": 48_000_000, "sha256": "ab" * 32},
            ],
            "exports": 1,
            "services": [
                {"id": "ins_1", "name": "blog", "template": "wordpress", "url": "https://blog.example/",
                 "server": "s1", "job": "job_remove00000001"},
            ],
            "spaces": [],
            "accounts": 2,
            "invitations": 1,
            "tokens": 1,
            "repositories": [
                {"repository": 1, "target": "lab", "kind": "sftp", "backups": 31,
                 "deleted_at": (now - timedelta(days=1)).isoformat()},
            ],
        },
    )  # fmt: skip
    session.add(record)
    session.flush()
    return record


def export_or_offboarding_went_through(db_url: str, outcomes: list[object]) -> None:
    """Of an export and an offboarding asked for at the same moment, exactly one was refused, and the
    database holds only the other."""
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes
    with session_factory(db_url)() as session:
        exports = session.scalars(select(Export)).all()
        offboardings = session.scalars(select(Offboarding)).all()
        assert len(exports) + len(offboardings) == 1
