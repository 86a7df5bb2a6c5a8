"""A small lab's rows, made through the services, for the tests of the control plane's dump and restore."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.instances.credentials import store_secrets
from provisioner.jobs.service import EventRecord, add_events, create_job
from provisioner.jobs.states import JobKind
from provisioner.mail_config import configure_mail
from provisioner.migrate import upgrade
from provisioner.models import IdempotencyKey, Instance
from provisioner.schedules.service import ScheduleKind, create_schedule
from provisioner.timeutil import utcnow
from tests.support import factories


def instance_with_secrets(session: Session, settings: Settings) -> Instance:
    """An association's instance with generated secrets, and the lab's SMTP password: encrypted values."""
    owner = factories.tenant(session)
    instance = factories.homepage(session, owner)
    store_secrets(settings, instance, factories.CATALOG.get("wordpress"))
    configure_mail(
        session, settings, host="smtp.lab.example", port=587, starttls=True,
        username="lab", password="smtp-password-1", from_address="lab@lab.example",
    )  # fmt: skip
    return instance


def populate(settings: Settings) -> str:
    """A small lab: an association, a server, an instance with secrets, a schedule, a job and its log."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    with session_factory(settings.resolved_database_url)() as session:
        factories.server(session)
        instance = instance_with_secrets(session, settings)
        create_schedule(
            session, actor=factories.OPERATOR, settings=settings, catalog=factories.CATALOG,
            kind=ScheduleKind.UPDATE, instance_id=instance.id, template=None, cron="30 2 * * *",
            interval_seconds=None,
        )  # fmt: skip
        job = create_job(session, instance=instance, kind=JobKind.DEPLOY)
        add_events(
            session,
            job_id=job.id,
            events=[
                EventRecord(seq=n, created_at=utcnow(), host="s1", task=f"step {n}", status="ok",
                            line=f"ok: [s1] step {n} ✓", stdout="")
                for n in range(1, 2502)
            ],
        )  # fmt: skip
        session.add(IdempotencyKey(scope="tok", key="k1", request_hash="h", body=b"\x00\xffbytes"))
        session.commit()
        return instance.id
