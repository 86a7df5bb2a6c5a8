from __future__ import annotations

from datetime import timedelta

from provisioner.db import session_factory
from provisioner.jobs.service import ClaimResult, claim_job, create_job, finish_job, stale_queued_jobs
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Instance, Job
from provisioner.timeutil import utcnow
from tests.support import factories


def _approved_job(db_url: str) -> tuple[str, str]:
    approved = factories.approved_homepage(db_url)
    return approved.job_id, approved.instance_id


def _claim(db_url: str, job_id: str, worker: str) -> str:
    with session_factory(db_url)() as session:
        result = claim_job(session, job_id=job_id, worker=worker)
        session.commit()
        return result


def test_a_job_is_claimed_once_even_when_delivered_twice(db_url: str) -> None:
    job_id, instance_id = _approved_job(db_url)
    assert _claim(db_url, job_id, "w1") == ClaimResult.CLAIMED
    assert _claim(db_url, job_id, "w2") == ClaimResult.NOT_QUEUED
    with session_factory(db_url)() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.worker) == ("running", "w1")
        assert session.get_one(Instance, instance_id).lock_job_id == job_id


def test_a_second_job_on_the_instance_waits_until_the_first_finishes(db_url: str) -> None:
    job_id, instance_id = _approved_job(db_url)
    assert _claim(db_url, job_id, "w1") == ClaimResult.CLAIMED
    with session_factory(db_url)() as session:
        second = create_job(session, instance=session.get_one(Instance, instance_id), kind=JobKind.REMOVE)
        session.commit()
        second_id = second.id
    assert _claim(db_url, second_id, "w2") == ClaimResult.INSTANCE_BUSY
    with session_factory(db_url)() as session:
        assert session.get_one(Job, second_id).status == "queued"
        finish_job(session, job=session.get_one(Job, job_id), status=JobStatus.SUCCEEDED)
        session.commit()
    assert _claim(db_url, second_id, "w2") == ClaimResult.CLAIMED


def test_finishing_records_the_outcome_and_frees_the_instance(db_url: str) -> None:
    job_id, instance_id = _approved_job(db_url)
    _claim(db_url, job_id, "w1")
    with session_factory(db_url)() as session:
        finish_job(session, job=session.get_one(Job, job_id), status=JobStatus.FAILED, error="boom")
        session.commit()
    with session_factory(db_url)() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.error) == ("failed", "boom")
        assert job.finished_at is not None
        assert session.get_one(Instance, instance_id).lock_job_id is None


def test_a_job_waiting_for_its_instance_is_not_taken_for_lost(db_url: str) -> None:
    job_id, instance_id = _approved_job(db_url)
    _claim(db_url, job_id, "w1")
    an_hour_ago = utcnow() - timedelta(hours=1)
    with session_factory(db_url)() as session:
        waiting = create_job(session, instance=session.get_one(Instance, instance_id), kind=JobKind.UPDATE)
        waiting.dispatched_at = an_hour_ago
        session.commit()
        waiting_id = waiting.id
    with session_factory(db_url)() as session:
        assert waiting_id in stale_queued_jobs(session, older_than=utcnow() - timedelta(minutes=1))
    # Its message arrives while the instance is busy: it is retried later, so it is in circulation.
    assert _claim(db_url, waiting_id, "w2") == ClaimResult.INSTANCE_BUSY
    with session_factory(db_url)() as session:
        assert waiting_id not in stale_queued_jobs(session, older_than=utcnow() - timedelta(minutes=1))
        assert session.get_one(Job, waiting_id).status == "queued"
