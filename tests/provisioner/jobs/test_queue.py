"""The unit of work at the boundary: jobs are sent once, after the commit, and never when rolled back."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.db import session_factory
from provisioner.jobs.queue import commit_and_send
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Job
from tests.support import factories


class Recording:
    """Checks, at each send, that the job's row is committed: another session must find it."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self.sent: list[str] = []

    def send(self, session: Session, job_id: str) -> None:
        with session_factory(self._db_url)() as other:
            assert other.get(Job, job_id) is not None, "sent before its row was committed"
        self.sent.append(job_id)


def _site(session: Session) -> str:
    site = factories.homepage(session, factories.tenant(session))
    session.commit()
    return site.id


def test_the_jobs_of_a_unit_of_work_are_sent_after_its_commit_in_order(db_url: str) -> None:
    dispatcher = Recording(db_url)
    with session_factory(db_url)() as session:
        site = session.get_one(Instance, _site(session))
        jobs = [create_job(session, instance=site, kind=kind).id for kind in (JobKind.DEPLOY, JobKind.BACKUP)]

        assert commit_and_send(session, dispatcher) == jobs
        # Sent once: a second commit of the same session sends nothing again.
        assert commit_and_send(session, dispatcher) == []
    assert dispatcher.sent == jobs


def test_a_rolled_back_unit_of_work_sends_nothing(db_url: str) -> None:
    dispatcher = Recording(db_url)
    with session_factory(db_url)() as session:
        site = session.get_one(Instance, _site(session))
        create_job(session, instance=site, kind=JobKind.DEPLOY)
        session.rollback()

        assert commit_and_send(session, dispatcher) == []
    assert dispatcher.sent == []


def test_a_savepoint_rolled_back_keeps_the_jobs_around_it(db_url: str) -> None:
    dispatcher = Recording(db_url)
    with session_factory(db_url)() as session:
        site = session.get_one(Instance, _site(session))
        job = create_job(session, instance=site, kind=JobKind.DEPLOY).id
        savepoint = session.begin_nested()
        savepoint.rollback()

        assert commit_and_send(session, dispatcher) == [job]
