"""A failed job's page says the lab was told only when a notice can reach someone there."""

from __future__ import annotations

from provisioner.db import session_factory
from provisioner.instances.service import approve_instance
from provisioner.jobs.service import claim_job, finish_job, owned_job
from provisioner.jobs.states import JobStatus
from tests.support import factories
from tests.support.portal import People, request_homepage
from tests.support.webhook_sink import webhook_sink


def _failed_job(db_url: str, instance_id: str, server_id: str) -> str:
    with session_factory(db_url)() as session:
        job = approve_instance(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, instance_id=instance_id,
            server_id=server_id,
        )  # fmt: skip
        session.commit()
        claim_job(session, job_id=job.id, worker="w1")
        session.commit()
        finish_job(session, job=owned_job(session, job_id=job.id), status=JobStatus.FAILED, error="no answer")
        session.commit()
        return job.id


def test_a_failed_job_says_who_was_told(people: People, api) -> None:  # type: ignore[no-untyped-def]
    job_id = _failed_job(api.db_url, request_homepage(people.admin_a), api.server())
    page = people.admin_a.get(f"/jobs/{job_id}").text
    assert "The lab has been told" not in page
    assert "please tell the lab yourself" in page
    app = api.client.app
    with webhook_sink() as (url, _received):
        app.state.settings = app.state.settings.model_copy(update={"alert_webhook_url": url})
        assert "The lab has been told and will look at it." in people.admin_a.get(f"/jobs/{job_id}").text
