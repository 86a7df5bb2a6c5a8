"""A server's bootstrap as a job: queued by an operator, one at a time per server, run with the
server's own playbook, its steps recorded like any job's, its outcome on the job, and the operators told
when it failed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from provisioner.db import transaction
from provisioner.engine.execute import execute_job
from provisioner.engine.unfinished import reap_lost
from provisioner.errors import Conflict, Forbidden, NotFound
from provisioner.jobs.service import get_job, list_jobs
from provisioner.models import Job, OutgoingNotice
from provisioner.runner.scripted import ScriptedRunner, fails, succeeds
from provisioner.runner.spec import EventSink, RunOutcome, RunSpec
from provisioner.servers.bootstrap import bootstrap_server
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.engine import scripted_context
from tests.support.engine_lab import EngineLab


def _bootstrap(lab: EngineLab) -> str:
    with transaction(lab.url) as session:
        return bootstrap_server(session, actor=factories.OPERATOR, server_id=lab.server_id).id


def test_a_bootstrap_runs_the_servers_playbook_and_ends_on_its_job_alone(lab: EngineLab) -> None:
    job_id = _bootstrap(lab)

    runner = lab.run(
        job_id, ScriptedRunner(succeeds("Install restic for backups", "Start the reverse proxy"))
    )

    assert runner.playbooks == ["server-bootstrap.yml"]
    assert lab.lines(job_id) == ["ok: [s1] Install restic for backups", "ok: [s1] Start the reverse proxy"]
    with transaction(lab.url) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.error, job.instance_id, job.target_server_id) == (
            "succeeded", None, None, lab.server_id,
        )  # fmt: skip


def test_a_failed_bootstrap_says_why_and_tells_the_operators_alone(lab: EngineLab) -> None:
    job_id = _bootstrap(lab)

    lab.run(job_id, ScriptedRunner(fails("fatal: [s1]: FAILED! => no apt source", "Install Docker")))

    with transaction(lab.url) as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed"
        assert job.error == "the bootstrap did not finish: fatal: [s1]: FAILED! => no apt source"
        [notice] = session.query(OutgoingNotice).all()
        assert (notice.kind, notice.recipient, notice.values) == (
            "server_bootstrap_failed", "operators", {"server_id": lab.server_id, "job_id": job_id},
        )  # fmt: skip


def test_a_bootstrap_that_went_well_tells_nobody(lab: EngineLab) -> None:
    lab.run(_bootstrap(lab), ScriptedRunner(succeeds("Install Docker")))
    with transaction(lab.url) as session:
        assert session.query(OutgoingNotice).count() == 0


def test_one_bootstrap_at_a_time_per_server_and_only_operators_see_or_start_it(lab: EngineLab) -> None:
    job_id = _bootstrap(lab)
    with pytest.raises(Conflict, match="under way already"):
        _bootstrap(lab)
    with transaction(lab.url) as session:
        admin = factories.admin_of(factories.tenant(session, "verein-b"))
        with pytest.raises(Forbidden):
            bootstrap_server(session, actor=admin, server_id=lab.server_id)
        with pytest.raises(NotFound):
            get_job(session, actor=admin, job_id=job_id)
        assert (
            list_jobs(session, actor=admin, instance_id=None, status=None, limit=10, cursor=None).items == []
        )
        listed = list_jobs(
            session, actor=factories.OPERATOR, instance_id=None, status=None, limit=10, cursor=None
        )
        assert [job.id for job in listed.items] == [job_id]
    lab.run(job_id)
    assert _bootstrap(lab) != job_id, "a finished bootstrap lets the next one start"


def test_a_bootstrap_whose_worker_is_lost_is_failed_with_nothing_else_to_settle(lab: EngineLab) -> None:
    job_id = _bootstrap(lab)
    with transaction(lab.url) as session:
        job = session.get_one(Job, job_id)
        job.status, job.started_at, job.heartbeat_at = "running", utcnow(), utcnow() - timedelta(hours=1)

    assert reap_lost(lab.settings, silent_since=utcnow() - timedelta(minutes=5)) == [job_id]

    with transaction(lab.url) as session:
        assert session.get_one(Job, job_id).status == "failed"


class Broken:
    """A runner that breaks inside the control plane, not on a server."""

    def run(self, spec: RunSpec, sink: EventSink) -> RunOutcome:
        raise RuntimeError("a bug, with /secret/paths in its message")


def test_a_bootstrap_that_breaks_down_inside_the_control_plane_fails_without_its_words(
    lab: EngineLab,
) -> None:
    job_id = _bootstrap(lab)

    execute_job(scripted_context(lab.settings, Broken()), job_id, worker="w1")  # type: ignore[arg-type]

    with transaction(lab.url) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.error) == (
            "failed",
            "the bootstrap broke down inside the control plane: RuntimeError",
        )
