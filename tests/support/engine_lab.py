"""Jobs of every kind on a lab that exists only in a database, run by the engine over a scripted runner."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.backups.repository import repository_for
from provisioner.backups.steps import REPORT_TASK
from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.engine.execute import execute_job
from provisioner.exports.space import request_space_export
from provisioner.health.probe import Health
from provisioner.instances.credentials import store_secrets
from provisioner.instances.service import approve_instance, request_instance, restore_job
from provisioner.jobs.service import create_job, request_cancel
from provisioner.jobs.states import JobKind
from provisioner.models import Backup, Instance, Job, JobEvent, Server, Space, SpaceBackup, Tenant
from provisioner.runner.scripted import ScriptedRun, ScriptedRunner
from provisioner.runner.spec import RunnerEvent, RunOutcome, RunSpec
from provisioner.spaces.data import request_move_out, request_space_backup, request_space_restore
from provisioner.spaces.quota import change_space_quota
from provisioner.spaces.service import remove_space
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.engine import scripted_context
from tests.support.running import running_blog, running_homepage, unused_backup_target
from tests.support.spaces import approved_space, offer_shared


class Ended(NamedTuple):
    status: str
    error: str | None
    state: str


def backup_reported() -> ScriptedRun:
    """A backup run whose server reports a snapshot as restic does."""
    report = {
        "snapshot_id": secrets.token_hex(32),
        "summary": {"total_bytes_processed": 1000, "data_added": 10},
    }
    shown = "ok: [s1] => " + json.dumps({"msg": report})
    event = RunnerEvent(1, utcnow(), "s1", REPORT_TASK, "ok", "ok: [s1] Report the backup", shown)
    return ScriptedRun(RunOutcome(status="successful", rc=0, error=None), events=(event,))


def by_step(spec: RunSpec) -> str:
    """A run's name in the order tests assert: the playbook, and for a deploy the version it starts
    (the tag of the last container's image: the service's own, listed after its database)."""
    name = spec.playbook.removesuffix(".yml")
    containers = spec.variables.get("containers")
    if name == "deploy" and isinstance(containers, list) and containers:
        return f"deploy {str(containers[-1]['image']).rsplit(':', 1)[-1]}"
    return name


@dataclass
class EngineLab:
    url: str
    settings: Settings
    server_id: str
    tenant_id: str

    @classmethod
    def make(cls, url: str, data_dir: Path) -> EngineLab:
        key = data_dir / "id_ed25519"
        key.write_text("not a real key: no run leaves this machine\n")
        settings = Settings(data_dir=data_dir, database_url=url, ssh_key_path=key)
        with transaction(url) as session:
            server = factories.server(session)
            owner = factories.tenant(session)
            unused_backup_target(session, settings)
            return cls(url, settings, server.id, owner.id)

    def second_server(self) -> str:
        with transaction(self.url) as session:
            return factories.server(session, "s2").id

    def instance(self, *, blog: bool = True, name: str | None = None) -> str:
        """A running instance: a WordPress (keeps data) or a homepage (keeps none)."""
        with transaction(self.url) as session:
            server = session.get_one(Server, self.server_id)
            owner = session.get_one(Tenant, self.tenant_id)
            make = running_blog if blog else running_homepage
            instance = make(session, owner, server, name or ("blog" if blog else "site"))
            store_secrets(self.settings, instance, factories.CATALOG.get(instance.template))
            return instance.id

    def approved(self, template: str = "homepage") -> str:
        """An instance just approved onto the lab's server (its deploy queued); its id."""
        with transaction(self.url) as session:
            owner = session.get_one(Tenant, self.tenant_id)
            instance = request_instance(
                session,
                actor=factories.admin_of(owner),
                catalog=factories.CATALOG,
                template=template,
                name="fresh",
                parameters={"title": "Verein"} if template == "homepage" else {},
                tenant_id=None,
            )
            approve_instance(
                session,
                actor=factories.OPERATOR,
                catalog=factories.CATALOG,
                instance_id=instance.id,
                server_id=self.server_id,
                settings=self.settings,
            )
            return instance.id

    def deploy_job(self) -> tuple[str, str]:
        """A homepage just approved, and its queued deploy: their ids."""
        site = self.approved()
        with transaction(self.url) as session:
            return site, session.scalars(select(Job.id).where(Job.instance_id == site)).one()

    def backed_up(self) -> tuple[str, str]:
        """A running WordPress with one succeeded backup: its id and the backup's."""
        blog = self.instance()
        self.run(self.job(blog, JobKind.BACKUP), ScriptedRunner(backup_reported()))
        with transaction(self.url) as session:
            return blog, session.scalars(select(Backup.id).where(Backup.instance_id == blog)).one()

    def restore(self, *, into_new: bool = False) -> str:
        """A restore job of a WordPress's backup: into the WordPress itself, or into a new copy."""
        blog, backup = self.backed_up()
        into = self.approved(template="wordpress") if into_new else blog
        with transaction(self.url) as session:
            instance = session.get_one(Instance, into)
            return restore_job(session, instance=instance, backup_id=backup, requested_by="t").id

    def job_of(self, kind: JobKind) -> tuple[str, str]:
        """A queued job of ``kind`` on a running WordPress with a backup: the instance's id and the job's."""
        if kind is JobKind.RESTORE:
            job_id = self.restore()
            with transaction(self.url) as session:
                return session.get_one(Job, job_id).instance_id, job_id
        if kind.value.startswith("space_"):
            return self.space_job(kind)
        blog, _ = self.backed_up()
        details = {
            JobKind.UPDATE: {"target_version": "6.1-r2"},
            JobKind.MOVE: {"target_server_id": self.second_server()},
        }.get(kind, {})
        return blog, self.job(blog, kind, **details)

    def space_job(self, kind: JobKind) -> tuple[str, str]:
        """A shared WordPress running with one space, and a queued job of ``kind``: a second space's
        making, or the first space's removal, backup, restore, change of limits or move out. The shared
        instance's id and the job's."""
        with transaction(self.url) as session:
            offer_shared(session)
            space, job = approved_space(session, self.settings, session.get_one(Tenant, self.tenant_id))
            space_id, instance_id, first_job = space.id, job.instance_id, job.id
        self.run(first_job)
        with transaction(self.url) as session:
            if kind is JobKind.SPACE_CREATE:
                second = factories.tenant(session, "verein-b")
                return instance_id, approved_space(session, self.settings, second)[1].id
            owner = session.get_one(Tenant, self.tenant_id)
            if kind is JobKind.SPACE_REMOVE:
                removal = remove_space(session, actor=factories.admin_of(owner), space_id=space_id)
                assert removal is not None
                return instance_id, removal.id
            return instance_id, space_data_job(session, self.settings, kind, space_id=space_id).id

    def job(self, instance_id: str, kind: JobKind, **details: str) -> str:
        with transaction(self.url) as session:
            instance = session.get_one(Instance, instance_id)
            return create_job(session, instance=instance, kind=kind, **details).id  # type: ignore[arg-type]

    def run(
        self,
        job_id: str,
        runner: ScriptedRunner | None = None,
        *,
        health: tuple[Health, ...] = (Health.HEALTHY,),
        catalog: Catalog | None = None,
    ) -> ScriptedRunner:
        runner = runner or ScriptedRunner()
        ctx = scripted_context(self.settings, runner, health=health, catalog=catalog)
        execute_job(ctx, job_id, worker="w1")
        return runner

    def ended(self, job_id: str) -> Ended:
        with transaction(self.url) as session:
            job = session.get_one(Job, job_id)
            return Ended(job.status, job.error, job.instance.state)

    def lines(self, job_id: str) -> list[str]:
        with transaction(self.url) as session:
            events = session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq))
            return [event.line for event in events]

    def cancel(self, job_id: str) -> None:
        with transaction(self.url) as session:
            request_cancel(session, actor=factories.OPERATOR, job_id=job_id)


def space_data_job(session: Session, settings: Settings, kind: JobKind, *, space_id: str) -> Job:
    """A queued backup, export, restore (of a backup recorded as taken), change of limits (500 MB of
    storage) or move out of a running space."""
    space = session.get_one(Space, space_id)
    admin = factories.admin_of(space.tenant)
    if kind is JobKind.SPACE_QUOTA:
        given: dict[str, int | None] = {"storage_mb": 500}
        return change_space_quota(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, space_id=space_id, given=given
        ).job
    if kind is JobKind.SPACE_BACKUP:
        return request_space_backup(session, actor=admin, catalog=factories.CATALOG, space_id=space_id)
    if kind is JobKind.SPACE_EXPORT:
        return request_space_export(session, actor=admin, catalog=factories.CATALOG, space_id=space_id).job
    if kind is JobKind.SPACE_RESTORE:
        repository = repository_for(session, settings, tenant_id=space.tenant_id)
        backup = SpaceBackup(
            space_id=space_id, repository_id=repository.id, status="succeeded", snapshot_id="ab" * 32
        )
        session.add(backup)
        session.flush()
        return request_space_restore(
            session, actor=admin, catalog=factories.CATALOG, space_id=space_id, backup_id=backup.id
        )
    return request_move_out(
        session, actor=factories.OPERATOR, catalog=factories.CATALOG, settings=settings, space_id=space_id
    ).job
