from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from api.jobs import routes as jobs_route
from api.jobs import watch as job_watch
from provisioner.db import session_factory
from provisioner.jobs.service import EventRecord, add_events, finish_job
from provisioner.jobs.states import JobStatus
from provisioner.models import Job
from provisioner.timeutil import utcnow
from tests.api.conftest import Api


def _approved(api: Api) -> tuple[str, str, dict[str, str]]:
    _, admin = api.tenant("verein-a")
    api.server()
    instance_id = api.homepage(admin)
    job_id = api.client.post(f"/api/v1/instances/{instance_id}/approve", headers=api.operator).json()["job"][
        "id"
    ]
    return instance_id, job_id, admin


def test_canceling_a_queued_deploy_ends_it_and_says_so_on_the_instance(api: Api) -> None:
    instance_id, job_id, admin = _approved(api)
    response = api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=admin)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["error"]) == ("canceled", "canceled before it started")
    assert api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=admin).status_code == 409
    instance = api.client.get(f"/api/v1/instances/{instance_id}", headers=admin).json()
    assert instance["state"] == "failed"
    assert instance["state_reason"] == "the deploy was canceled before it started; nothing was deployed"


def test_events_and_the_whole_output_of_a_job(api: Api) -> None:
    _, job_id, admin = _approved(api)
    records = [
        EventRecord(
            seq=n, created_at=utcnow(), host="s1", task="t", status="ok", line=f"ok: t{n}", stdout=f"out {n}"
        )
        for n in (1, 2, 3)
    ]
    with session_factory(api.db_url)() as session:
        add_events(session, job_id=job_id, events=records)
        session.commit()
    events = api.client.get(f"/api/v1/jobs/{job_id}/events", headers=admin).json()["items"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert api.client.get(f"/api/v1/jobs/{job_id}/stdout", headers=admin).text == "out 1\nout 2\nout 3"


def test_updates_name_a_version_of_the_template(api: Api) -> None:
    instance_id, _, admin = _approved(api)
    response = api.client.post(
        f"/api/v1/instances/{instance_id}/update", json={"version": "9.9"}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.version"
    # approved but never deployed: nothing to update or deploy again yet
    response = api.client.post(
        f"/api/v1/instances/{instance_id}/update", json={"version": "1.1"}, headers=admin
    )
    assert response.status_code == 409
    assert api.client.post(f"/api/v1/instances/{instance_id}/redeploy", headers=admin).status_code == 409


def test_the_same_post_with_one_idempotency_key_creates_one_instance(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    body = {"template": "homepage", "name": "site", "parameters": {"title": "Verein"}}
    headers = {**admin, "Idempotency-Key": "request-1"}
    first = api.client.post("/api/v1/instances", json=body, headers=headers)
    second = api.client.post("/api/v1/instances", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(api.client.get("/api/v1/instances", headers=admin).json()["items"]) == 1
    other = api.client.post("/api/v1/instances", json={**body, "name": "other"}, headers=headers)
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]


def test_idempotency_keys_belong_to_their_sender(api: Api) -> None:
    _, admin_a = api.tenant("verein-a")
    _, admin_b = api.tenant("verein-b")
    body = {"template": "homepage", "name": "site", "parameters": {"title": "Verein"}}
    first = api.client.post("/api/v1/instances", json=body, headers={**admin_a, "Idempotency-Key": "k"})
    second = api.client.post("/api/v1/instances", json=body, headers={**admin_b, "Idempotency-Key": "k"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_errors_are_not_kept_so_a_corrected_retry_works(api: Api) -> None:
    _, admin = api.tenant("verein-a")
    headers = {**admin, "Idempotency-Key": "again"}
    body = {"template": "homepage", "name": "site", "parameters": {"title": "Verein"}}
    assert (
        api.client.post("/api/v1/instances", json={**body, "template": "nope"}, headers=headers).status_code
        == 404
    )
    # a 4xx answer is kept like any other: the same request gets the same answer ...
    assert (
        api.client.post("/api/v1/instances", json={**body, "template": "nope"}, headers=headers).status_code
        == 404
    )
    # ... and a different one under the same key is refused, as the contract says
    assert api.client.post("/api/v1/instances", json=body, headers=headers).status_code == 422


def test_the_stream_sends_the_last_events_of_a_job_that_ends_between_two_reads(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker commits its last events and then the job's end; a stream must never skip the first."""
    _, job_id, admin = _approved(api)
    real_list_events = jobs_route.service.list_events
    reads = 0

    def worker_finishes_right_after_the_first_read(session: Session, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        rows = real_list_events(session, **kwargs)
        if reads == 1:
            with session_factory(api.db_url)() as worker:
                records = [
                    EventRecord(
                        seq=n,
                        created_at=utcnow(),
                        host=None,
                        task=None,
                        status="info",
                        line=f"{n}",
                        stdout="",
                    )
                    for n in (1, 2)
                ]
                add_events(worker, job_id=job_id, events=records)
                finish_job(worker, job=worker.get_one(Job, job_id), status=JobStatus.SUCCEEDED)
                worker.commit()
        return rows

    monkeypatch.setattr(jobs_route.service, "list_events", worker_finishes_right_after_the_first_read)
    monkeypatch.setattr(job_watch, "POLL_SECONDS", 0.01)
    response = api.client.get(
        f"/api/v1/jobs/{job_id}/events", headers={**admin, "Accept": "text/event-stream"}
    )
    assert response.status_code == 200
    ids = [line.removeprefix("id: ") for line in response.text.splitlines() if line.startswith("id: ")]
    assert ids == ["1", "2"]
    assert response.text.rstrip().splitlines()[-2:] == ["event: end", f'data: {{"job": "{job_id}"}}']


def test_an_update_outside_the_template_rules_is_refused_saying_what_is_allowed(api: Api) -> None:
    instance_id, deploy_id, admin = _approved(api)
    with session_factory(api.db_url)() as session:
        finish_job(session, job=session.get_one(Job, deploy_id), status=JobStatus.SUCCEEDED)
        session.get_one(Job, deploy_id).instance.state = "running"
        session.commit()
    path = f"/api/v1/instances/{instance_id}/update"
    same = api.client.post(path, json={"version": "1.0"}, headers=admin)
    assert same.status_code == 422
    assert same.json()["detail"] == "the instance runs 1.0 already"
    assert same.json()["errors"] == [{"field": "body.version", "message": "allowed next: 1.1"}]

    accepted = api.client.post(path, json={"version": "1.1"}, headers=admin)
    assert accepted.status_code == 202
    assert accepted.json()["job"]["target_version"] == "1.1"
    with session_factory(api.db_url)() as session:
        session.get_one(Job, accepted.json()["job"]["id"]).instance.version = "1.1"
        session.commit()
    down = api.client.post(path, json={"version": "1.0"}, headers=admin)
    assert down.status_code == 422
    assert down.json()["detail"] == "homepage cannot go from 1.1 to 1.0"
    assert down.json()["errors"][0]["field"] == "body.version"
    assert "downgrades are never offered" in down.json()["errors"][0]["message"]
