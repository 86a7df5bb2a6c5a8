"""A failed job's page says the lab was told only when a notice can reach someone there."""

from __future__ import annotations

from provisioner.db import session_factory
from provisioner.instances.service import approve_instance
from provisioner.jobs.service import claim_job, finish_job, owned_job
from provisioner.jobs.states import JobStatus
from provisioner.servers.bootstrap import bootstrap_server
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


def test_a_failed_bootstrap_says_what_failed_and_what_to_do(people: People, api) -> None:  # type: ignore[no-untyped-def]
    server_id = api.server()
    with session_factory(api.db_url)() as session:
        job = bootstrap_server(session, actor=factories.OPERATOR, server_id=server_id)
        session.commit()
        claim_job(session, job_id=job.id, worker="w1")
        session.commit()
        error = "the bootstrap did not finish: fatal: [s1]: FAILED! => no apt source"
        finish_job(session, job=owned_job(session, job_id=job.id), status=JobStatus.FAILED, error=error)
        session.commit()
        job_id = job.id
    page = people.operator.get(f"/jobs/{job_id}").text
    assert "The bootstrap of the server s1 did not finish." in page
    assert (
        "What failed: The server&#39;s bootstrap did not finish: fatal: [s1]: FAILED! =&gt; no apt source"
        in page
    )
    assert "start the bootstrap again on the servers page" in page
    assert "tell the lab" not in page
    german = people.operator.get(f"/jobs/{job_id}", headers={"Accept-Language": "de"}).text
    assert "Die Einrichtung (Bootstrap) des Servers s1 wurde nicht fertig." in german
