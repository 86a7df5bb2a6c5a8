"""An offboarding job over the scripted runner: the association's services removed by their own
removal jobs, its exports, people, repositories and rows deleted, its deletion record written and
sent; stopped where a step fails, resumed from there; backups kept for the lab's retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.engine import offboard_jobs
from provisioner.errors import Conflict
from provisioner.exports.association import request_association_export
from provisioner.instances.service import request_instance
from provisioner.jobs.service import create_tenant_job
from provisioner.jobs.states import JobKind
from provisioner.models import (
    BackupTarget,
    Export,
    Instance,
    Job,
    Offboarding,
    OutgoingNotice,
    Server,
    Tenant,
)
from provisioner.notices.certificate import certificate_values
from provisioner.notices.render import render
from provisioner.offboarding.repositories import RepositoryNotDeleted
from provisioner.offboarding.service import (
    delete_backups_now,
    request_offboarding,
    resume_offboarding,
    start_due,
)
from provisioner.runner.scripted import ScriptedRunner, fails, succeeds
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.engine_lab import EngineLab
from tests.support.offboarding import association_with_everything, rows_of, tenant_exists


class Targets:
    """Stands in for deleting a repository on its target: records it, or fails like a lost target."""

    def __init__(self) -> None:
        self.deleted: list[tuple[str, str]] = []
        self.fail = False

    def __call__(self, settings: Settings, target: BackupTarget, *, tenant_id: str) -> None:
        if self.fail:
            raise RepositoryNotDeleted("the repository on lab could not be deleted: Connection refused")
        self.deleted.append((target.name, tenant_id))


@pytest.fixture
def targets(monkeypatch: pytest.MonkeyPatch) -> Targets:
    scripted = Targets()
    monkeypatch.setattr(offboard_jobs, "delete_repository", scripted)
    return scripted


def _two_associations(lab: EngineLab) -> tuple[str, str, str]:
    """The leaving association's id and blog's, and the blog of one that stays."""
    with transaction(lab.url) as session:
        server = session.get_one(Server, lab.server_id)
        leaving, blog = association_with_everything(session, lab.settings, server, "verein-x")
        _, staying_blog = association_with_everything(session, lab.settings, server, "verein-y")
    return leaving, blog, staying_blog


def _offboard(lab: EngineLab, tenant_id: str, *, now: bool = True) -> str:
    with transaction(lab.url) as session:
        offboarding = request_offboarding(
            session,
            lab.settings,
            actor=factories.OPERATOR,
            tenant_id=tenant_id,
            confirm_slug="verein-x",
            delete_backups_now=now,
        )
        return session.scalars(select(Job.id).where(Job.offboarding_id == offboarding.id)).one()


def _record(lab: EngineLab, tenant_id: str) -> Offboarding:
    with transaction(lab.url) as session:
        return session.scalars(select(Offboarding).where(Offboarding.tenant_id == tenant_id)).one()


def test_an_offboarding_removes_the_services_deletes_everything_and_sends_its_record(
    lab: EngineLab, targets: Targets
) -> None:
    leaving, blog, staying_blog = _two_associations(lab)
    with transaction(lab.url) as session:
        before = rows_of(session, leaving)
    assert {name for name, count in before.items() if count} >= {
        "api_tokens", "backup_repositories", "exports", "instances", "invitations", "users",
    }  # fmt: skip
    job_id = _offboard(lab, leaving)

    runner = lab.run(job_id, ScriptedRunner(succeeds("Remove the containers")))

    assert runner.playbooks == ["remove.yml"]
    assert targets.deleted == [("lab", leaving)]
    with transaction(lab.url) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.error) == ("succeeded", None)
        # Nothing of it is left in any table with a tenant column but its record.
        assert {name: n for name, n in rows_of(session, leaving).items() if n} == {"offboardings": 1}
        assert not tenant_exists(session, leaving)
        assert session.scalars(select(Job).where(Job.instance_id == blog)).all() == []
        # The association that stays has all it had.
        assert session.get_one(Instance, staying_blog).state == "running"
        notices = session.scalars(
            select(OutgoingNotice).where(OutgoingNotice.kind == "deletion_record")
        ).all()
        assert [(n.recipient, n.language) for n in notices] == [("a@verein-x.org", "de")]
    record = _record(lab, leaving)
    assert (record.state, record.step, record.error) == ("completed", None, None)
    removal = record.deleted["services"][0]
    assert (removal["name"], removal["template"]) == ("blog", "wordpress")
    assert record.deleted["final_export"][0]["sha256"] == "ab" * 32
    assert (record.deleted["accounts"], record.deleted["invitations"], record.deleted["tokens"]) == (1, 1, 1)
    assert record.deleted["exports"] == 1
    assert [r["target"] for r in record.deleted["repositories"]] == ["lab"]
    assert [j["job"] for j in record.deleted["jobs"]] == [job_id]
    # The certificate says what was deleted, in German, and how to tell the final export.
    mail = render("deletion_record", language="de", values=certificate_values(record))
    assert "Löschnachweis" in mail.subject
    assert removal["job"] in mail.text
    assert "ab" * 32 in mail.text
    assert lab.lines(job_id)[-1].startswith("everything of the association is deleted")


def test_a_removal_that_fails_stops_the_offboarding_where_it_was_and_a_resume_finishes_it(
    lab: EngineLab, targets: Targets
) -> None:
    leaving, blog, _ = _two_associations(lab)
    job_id = _offboard(lab, leaving)

    lab.run(job_id, ScriptedRunner(fails("fatal: [s1]: FAILED! => docker is gone", "Remove the containers")))

    record = _record(lab, leaving)
    assert (record.state, record.step) == ("stopped", "services")
    assert record.error is not None
    assert "removing the service blog" in record.error
    assert "docker is gone" in record.error
    with transaction(lab.url) as session:
        assert session.get_one(Job, job_id).status == "failed"
        assert session.get_one(Instance, blog).state == "failed"  # never looks healthy
        assert tenant_exists(session, leaving)
        # Nothing new while it is stopped: 409 naming why.
        owner = session.get_one(Instance, blog).tenant
        with pytest.raises(Conflict, match="verein-x is being offboarded"):
            request_instance(
                session,
                actor=factories.admin_of(owner),
                catalog=factories.CATALOG,
                template="homepage",
                name="again",
                parameters={"title": "x"},
                tenant_id=None,
            )
    assert targets.deleted == []

    with transaction(lab.url) as session:
        resumed = resume_offboarding(session, actor=factories.OPERATOR, tenant_id=leaving).id
    lab.run(resumed, ScriptedRunner(succeeds("Remove the containers")))

    record = _record(lab, leaving)
    assert record.state == "completed"
    assert [j["job"] for j in record.deleted["jobs"]] == [job_id, resumed]
    assert len(record.deleted["services"]) == 2  # the failed removal and the one that went through
    assert targets.deleted == [("lab", leaving)]


def test_a_target_that_fails_stops_at_the_backups_with_the_services_gone(
    lab: EngineLab, targets: Targets
) -> None:
    leaving, blog, _ = _two_associations(lab)
    targets.fail = True
    lab.run(_offboard(lab, leaving), ScriptedRunner(succeeds("Remove the containers")))

    record = _record(lab, leaving)
    assert (record.state, record.step) == ("stopped", "backups")
    assert record.error == (
        "the offboarding stopped at backups: the repository on lab could not be deleted: Connection refused"
    )
    with transaction(lab.url) as session:
        assert session.get_one(Instance, blog).state == "removed"
        assert rows_of(session, leaving)["users"] == 0
        assert rows_of(session, leaving)["backup_repositories"] == 1

    targets.fail = False
    with transaction(lab.url) as session:
        resumed = resume_offboarding(session, actor=factories.OPERATOR, tenant_id=leaving).id
    lab.run(resumed)
    assert _record(lab, leaving).state == "completed"
    assert targets.deleted == [("lab", leaving)]


def test_backups_are_kept_for_the_retention_then_a_later_job_deletes_them(
    lab: EngineLab, targets: Targets
) -> None:
    leaving, _, _ = _two_associations(lab)
    first = _offboard(lab, leaving, now=False)
    lab.run(first, ScriptedRunner(succeeds("Remove the containers")))

    record = _record(lab, leaving)
    assert record.state == "retaining"
    assert record.backups_due_at is not None
    assert record.backups_due_at - utcnow() > timedelta(days=29)
    assert targets.deleted == []
    with transaction(lab.url) as session:
        assert session.get_one(Job, first).status == "succeeded"
        assert rows_of(session, leaving)["users"] == 0
        assert tenant_exists(session, leaving)
        assert start_due(session) == []  # not yet
        session.get_one(Offboarding, record.id).backups_due_at = utcnow() - timedelta(seconds=1)
    with transaction(lab.url) as session:
        [later] = start_due(session)
    lab.run(later)

    assert _record(lab, leaving).state == "completed"
    assert targets.deleted == [("lab", leaving)]


def test_kept_backups_are_deleted_at_once_when_an_operator_asks(lab: EngineLab, targets: Targets) -> None:
    leaving, _, _ = _two_associations(lab)
    lab.run(_offboard(lab, leaving, now=False), ScriptedRunner(succeeds("Remove the containers")))
    assert _record(lab, leaving).state == "retaining"
    with transaction(lab.url) as session:
        record, job = delete_backups_now(session, actor=factories.OPERATOR, tenant_id=leaving)
        assert job is not None
        assert record.delete_backups_now
        assert record.backups_due_at is not None
        assert record.backups_due_at <= utcnow()
        now_job = job.id
    with transaction(lab.url) as session:
        # Asked twice: the job under way does it, no second one, and the sweep leaves it alone.
        assert delete_backups_now(session, actor=factories.OPERATOR, tenant_id=leaving)[1] is None
        assert start_due(session) == []
    lab.run(now_job)
    assert _record(lab, leaving).state == "completed"
    assert targets.deleted == [("lab", leaving)]
    with transaction(lab.url) as session, pytest.raises(Conflict, match="no kept backups to delete"):
        delete_backups_now(session, actor=factories.OPERATOR, tenant_id=leaving)


def test_a_request_to_delete_now_that_a_job_missed_is_carried_out_by_the_sweep(
    lab: EngineLab, targets: Targets
) -> None:
    """Asked while the job ran, after its backups step had read the flag: it then keeps them; the
    periodic sweep starts the job that deletes them instead of waiting for the retention."""
    leaving, _, _ = _two_associations(lab)
    lab.run(_offboard(lab, leaving, now=False), ScriptedRunner(succeeds("Remove the containers")))
    with transaction(lab.url) as session:
        session.get_one(Offboarding, _record(lab, leaving).id).delete_backups_now = True
    with transaction(lab.url) as session:
        [swept] = start_due(session)
    lab.run(swept)
    assert _record(lab, leaving).state == "completed"
    assert targets.deleted == [("lab", leaving)]


def test_a_breakdown_inside_the_control_plane_stops_the_offboarding(
    lab: EngineLab, targets: Targets, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    leaving, _, _ = _two_associations(lab)

    def broken(*_: object, **__: object) -> dict[str, int]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(offboard_jobs.erase, "erase_people", broken)
    job_id = _offboard(lab, leaving)
    lab.run(job_id, ScriptedRunner(succeeds("Remove the containers")))

    record = _record(lab, leaving)
    assert (record.state, record.step) == ("stopped", "people")
    assert record.error == "the offboard broke down inside the control plane: RuntimeError"


def test_an_export_of_everything_is_a_final_export_and_its_job_goes_with_the_association(
    lab: EngineLab, targets: Targets
) -> None:
    leaving, blog, _ = _two_associations(lab)
    exported = {"name": "blog", "template": "wordpress", "version": "6.1", "state": "exported"}
    with transaction(lab.url) as session:
        tenant = session.get_one(Tenant, leaving)
        made = create_tenant_job(session, tenant=tenant, kind=JobKind.ASSOCIATION_EXPORT, requested_by="t")
        made.status = "succeeded"
        made_id = made.id
        session.add(
            Export(
                tenant_id=leaving,
                instance_id=None,
                job_id=made.id,
                state="ready",
                size_bytes=99,
                sha256="cd" * 32,
                finished_at=utcnow(),
                expires_at=utcnow() + timedelta(hours=72),
                services=[{**exported, "instance": blog, "files": 3, "sha256": "ef" * 32}],
            )
        )
    job_id = _offboard(lab, leaving)

    lab.run(job_id, ScriptedRunner(succeeds("Remove the containers")))

    record = _record(lab, leaving)
    assert [(e["service"], e["sha256"]) for e in record.deleted["final_export"]] == [
        ("blog", "ab" * 32),
        (None, "cd" * 32),
    ]
    assert record.deleted["final_export"][1]["services"][0]["sha256"] == "ef" * 32
    with transaction(lab.url) as session:
        assert session.get(Job, made_id) is None
        assert {name: n for name, n in rows_of(session, leaving).items() if n} == {"offboardings": 1}
    mail = render("deletion_record", language="en", values=certificate_values(record))
    assert f"all services: {'cd' * 32}" in mail.text
    assert f"blog: {'ef' * 32}" in mail.text


def test_no_export_of_everything_starts_while_the_association_is_offboarded(lab: EngineLab) -> None:
    leaving, _, _ = _two_associations(lab)
    _offboard(lab, leaving, now=False)
    with transaction(lab.url) as session, pytest.raises(Conflict, match="an export is not possible"):
        request_association_export(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, tenant_id=leaving
        )
