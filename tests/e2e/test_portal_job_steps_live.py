"""The job page follows a running job in German: the live script shows the steps the stream sends.

Real parts: Debian's Chromium driven by Playwright, the portal served by uvicorn on loopback, a migrated
SQLite database. No playbook runs: the job's events are written the worker's way (the runner's
conversion into the worker's database sink) while the browser watches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.app import create_app
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.engine.sink import DatabaseSink
from provisioner.instances.service import approve_instance
from provisioner.jobs.service import claim_job, finish_job
from provisioner.jobs.states import JobStatus
from provisioner.models import Job
from provisioner.runner.events import to_event
from tests.support import factories
from tests.support.browser import chromium, serving
from tests.support.db import migrated
from tests.support.portal import PASSWORD, make_user

pytestmark = pytest.mark.e2e
WAIT_MS = 15_000


class NoBroker:
    def send(self, session: object, job_id: str) -> None:
        """The job stays with this test, which writes its events as a worker would."""


def _queued_deploy(db_url: str, settings: Settings) -> tuple[str, str]:
    with session_factory(db_url)() as session:
        tenant = factories.tenant(session, "verein-a")
        server = factories.server(session, "s1", memory_mb=4096)
        site = factories.homepage(session, tenant, "webseite")
        job = approve_instance(
            session,
            actor=factories.OPERATOR,
            catalog=factories.CATALOG,
            instance_id=site.id,
            server_id=server.id,
            settings=settings,
        )
        session.commit()
        return tenant.id, job.id


def _claim(db_url: str, job_id: str) -> None:
    with session_factory(db_url)() as session:
        claim_job(session, job_id=job_id, worker="test")
        session.commit()


def _step(sink: DatabaseSink, counter: int, task: str) -> None:
    event = to_event({"event": "playbook_on_task_start", "counter": counter, "event_data": {"task": task}})
    assert event is not None
    sink.emit(event)
    sink.flush()


def test_live_steps_arrive_in_german(tmp_path: Path) -> None:
    with migrated("sqlite", tmp_path) as db_url:
        settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url="memory://")
        app = create_app(settings)
        app.state.dispatcher = NoBroker()
        tenant_id, job_id = _queued_deploy(db_url, settings)
        make_user(db_url, email="admin@verein-a.org", role="admin", tenant_id=tenant_id)
        sink = DatabaseSink(db_url, job_id)
        with serving(app) as base_url, chromium() as browser:
            context = browser.new_context(locale="de", extra_http_headers={"Accept-Language": "de"})
            page = context.new_page()
            page.goto(f"{base_url}/login")
            page.fill("#email", "admin@verein-a.org")
            page.fill("#password", PASSWORD)
            page.click("button.primary")
            page.wait_for_load_state()
            page.goto(f"{base_url}/jobs/{job_id}")
            expect(page.locator("#job-status")).to_have_text("wartet")
            # A worker takes the job: its first step arrives, and the status says the job runs.
            _claim(db_url, job_id)
            _step(sink, 1, "Start the instance behind the server's proxy")
            steps = page.locator("#job-steps li")
            expect(steps).to_have_count(1, timeout=WAIT_MS)
            expect(page.locator("#job-status")).to_have_text("läuft")
            expect(steps.nth(0)).to_have_text("Den Dienst hinter dem Proxy des Servers starten")
            _step(sink, 2, "Wait until the service answers through the proxy")
            _step(sink, 3, "Prime the search index")  # a template's own task
            expect(steps).to_have_count(3, timeout=WAIT_MS)
            expect(steps.nth(1)).to_have_text("Warten, bis der Dienst über den Proxy antwortet")
            expect(steps.nth(1)).to_have_attribute("lang", "de")
            expect(steps.nth(2)).to_have_text("Prime the search index")
            expect(steps.nth(2)).to_have_attribute("lang", "en")
            with session_factory(db_url)() as session:
                finish_job(session, job=session.get_one(Job, job_id), status=JobStatus.SUCCEEDED)
                session.commit()
            # At the end the page reloads and shows the outcome, the steps still in German.
            expect(page.locator(".outcome")).to_be_visible(timeout=WAIT_MS)
            expect(page.locator("#job-steps li").nth(1)).to_have_text(
                "Warten, bis der Dienst über den Proxy antwortet"
            )
            context.close()
