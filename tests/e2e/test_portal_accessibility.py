"""Every portal page, in German and in English, has no WCAG 2.1 A/AA finding of axe-core.

Real parts: Debian's Chromium driven by Playwright, axe-core from its package, the portal served by uvicorn
on loopback, a migrated SQLite database filled through the domain services. The broker is a recorder:
no job runs here (the story test runs them); the job rows and their events are written as a worker would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from api.app import create_app
from provisioner.accounts.service import invite
from provisioner.auth.actor import Role
from provisioner.catalog.modes import set_modes
from provisioner.cli import embedded
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.instances.service import approve_instance, reject_instance
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import EventRecord, add_events, claim_job, create_tenant_job, finish_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Export, HealthEvent, Instance, InstanceMetric, Job, ServerMetric, Tenant
from provisioner.offboarding.service import request_offboarding
from provisioner.servers.hostkeys import fingerprint
from provisioner.spaces.service import request_space
from provisioner.timeutil import utcnow
from tests.support import factories
from tests.support.browser import accessibility_violations, chromium, serving
from tests.support.db import migrated
from tests.support.offboarding import offboarded_record
from tests.support.portal import PASSWORD, make_user
from tests.support.running import blog_with_backups
from tests.support.smtp_sink import plain_text, smtp_sink
from tests.support.spaces import approved_space, offer_shared
from tests.support.sshd import free_address_pair, running_servers
from tests.support.webhook_sink import webhook_sink

pytestmark = pytest.mark.e2e


class NoBroker:
    def send(self, session: Session, job_id: str) -> None:
        """Jobs stay queued: this test looks at pages, not at deploys."""


@dataclass
class Seeded:
    requested: str
    running: str
    rejected: str
    finished_job: str
    queued_job: str
    tenant: str
    blog: str = ""
    backup: str = ""
    invitation_token: str = ""
    server: str = ""
    space: str = ""
    whole_space: str = ""  # a Mattermost team: a space whose data cannot be taken apart from the others'
    association_export_job: str = ""
    offboarded: str = ""  # an association offboarded before: only its deletion record is left
    leaving: str = ""  # an association whose admin asked to leave: its offboarding waits


def _seed(db_url: str, settings: Settings) -> Seeded:
    with session_factory(db_url)() as session:
        tenant = factories.tenant(session, "verein-a")
        server = factories.server(session, "s1", memory_mb=4096)
        requested = factories.homepage(session, tenant, "wartet")
        running = factories.homepage(session, tenant, "webseite")
        rejected = factories.homepage(session, tenant, "abgelehnt")
        reject_instance(
            session, actor=factories.OPERATOR, instance_id=rejected.id, reason="Doppelt angefragt"
        )
        job = approve_instance(
            session,
            actor=factories.OPERATOR,
            catalog=factories.CATALOG,
            instance_id=running.id,
            server_id=server.id,
            settings=settings,
        )
        session.commit()
        claim_job(session, job_id=job.id, worker="test")
        now = datetime.now(UTC)
        steps = ["Gathering Facts", "Start containers", "Wait until healthy"]
        add_events(
            session,
            job_id=job.id,
            events=[
                EventRecord(
                    seq=i + 1,
                    created_at=now,
                    host="s1",
                    task=s,
                    status="ok",
                    line=f"Step: {s}",
                    stdout=f"TASK [{s}]",
                )
                for i, s in enumerate(steps)
            ],
        )
        finish_job(session, job=session.get_one(Job, job.id), status=JobStatus.SUCCEEDED)
        row = session.get_one(Instance, running.id)
        row.state = InstanceState.RUNNING.value
        row.health = "healthy"
        row.url = "https://webseite-verein-a.localhost/"
        # Its server's collection measured it: its page shows measured and reserved figures side by side.
        figures = {"cpu_percent": 3.0, "memory_mb": 40.0, "disk_mb": 12.0}
        session.add(ServerMetric(server_id=server.id, reachable=True, instances={running.id: figures}))
        # Its last days, for the charts on its page and on the servers page.
        session.add(HealthEvent(instance_id=running.id, previous="unknown", current="healthy"))
        row.health_checked_at = now
        for hours in (30, 20, 10, 1):
            at = now - timedelta(hours=hours)
            session.add(
                ServerMetric(
                    server_id=server.id,
                    collected_at=at,
                    reachable=True,
                    memory_total_mb=4096,
                    memory_available_mb=2048 + 100 * hours,
                    disk_total_mb=40960,
                    disk_used_mb=8000 + 10 * hours,
                )
            )
            session.add(
                InstanceMetric(
                    instance_id=running.id,
                    server_id=server.id,
                    collected_at=at,
                    cpu_percent=hours / 10,
                    memory_mb=40.0 + hours,
                    disk_mb=12.0,
                )
            )
        queued = factories.homepage(session, tenant, "zweite")
        session.commit()
        queued_job = approve_instance(
            session,
            actor=factories.OPERATOR,
            catalog=factories.CATALOG,
            instance_id=queued.id,
            server_id=None,
            settings=settings,
        )
        session.commit()
        tenant_id = tenant.id
        seeded = Seeded(requested.id, running.id, rejected.id, job.id, queued_job.id, tenant_id)
        seeded.blog, seeded.backup = blog_with_backups(session, settings, tenant, server)
        seeded.server = server.id
        # A space in the shared WordPress, approved, placed and (as its job leaves it) running: its
        # page shows the operator the form for its limits.
        offer_shared(session)
        space = approved_space(session, settings, tenant, "gemeinsam")[0]
        space.state = "running"
        seeded.space = space.id
        # A team in a shared Mattermost, whose teams are saved only all together: its page tells the
        # association what a restore would do instead.
        mattermost = factories.CATALOG.get("mattermost")
        set_modes(session, actor=factories.OPERATOR, template=mattermost, modes=["dedicated", "shared"])
        seeded.whole_space = request_space(
            session, actor=factories.admin_of(tenant), catalog=factories.CATALOG, template="mattermost",
            name="chat", tenant_id=None, settings=settings,
        ).id  # fmt: skip
        # The association's export of everything, ready (its page shows size, expiry and the link),
        # and its job's page.
        seeded.association_export_job = _ready_association_export(session, tenant)
        seeded.offboarded = offboarded_record(session).tenant_id
        leaving = factories.tenant(session, "verein-geht")
        request_offboarding(
            session, settings, actor=factories.admin_of(leaving), tenant_id=leaving.id,
            confirm_slug="verein-geht", delete_backups_now=False,
        )  # fmt: skip
        seeded.leaving = leaving.id
        session.commit()
    make_user(db_url, email="admin@verein-a.org", role="admin", tenant_id=tenant_id)
    make_user(db_url, email="op@lab.example", role="operator", tenant_id=None)
    make_user(db_url, email="member@verein-a.org", role="member", tenant_id=tenant_id, name="Alex")
    with smtp_sink() as sink, session_factory(db_url)() as session:
        mailing = settings.model_copy(update={"smtp_host": sink.host, "smtp_port": sink.port})
        invite(
            session,
            mailing,
            actor=factories.OPERATOR,
            tenant_id=tenant_id,
            email="neu@verein-a.org",
            role=Role.MEMBER,
        )
        session.commit()
        (message,) = sink.wait_for(1)
    found = re.search(r"/invitations/(\S+)", plain_text(message))
    assert found
    seeded.invitation_token = found.group(1)
    return seeded


def _ready_association_export(session: Session, tenant: Tenant) -> str:
    job = create_tenant_job(session, tenant=tenant, kind=JobKind.ASSOCIATION_EXPORT, requested_by="t")
    job.status, job.started_at, job.finished_at = JobStatus.SUCCEEDED.value, utcnow(), utcnow()
    session.add(
        Export(
            tenant_id=tenant.id,
            instance_id=None,
            job_id=job.id,
            state="ready",
            size_bytes=3_400_000,
            sha256="0" * 64,
            file="not-downloaded-here.tar.gz.sealed",
            finished_at=utcnow(),
            expires_at=utcnow() + timedelta(hours=72),
        )
    )
    return job.id


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FastAPI, Seeded]]:
    tmp_path = tmp_path_factory.mktemp("portal")
    with migrated("sqlite", tmp_path) as db_url:
        settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url="memory://")
        app = create_app(settings)
        app.state.dispatcher = NoBroker()
        seeded = _seed(db_url, settings)
        with serving(app) as base_url:
            yield base_url, app, seeded


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_load_state()


def _visit_all(
    page: Page, base_url: str, paths: list[str], shots: Path
) -> dict[str, list[dict[str, object]]]:
    """axe's findings per path; a screenshot of each page goes to ``shots``, to look at them."""
    found = {}
    for path in paths:
        response = page.goto(base_url + path)
        assert response is not None
        assert response.status < 500, path
        assert page.title(), f"{path} has a title"
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        violations = accessibility_violations(page)
        if violations:
            found[path] = violations
    return found


# An unknown first-start link answers 404 here (this lab has an operator): the walk below checks its form.
ANONYMOUS = [
    "/",
    "/login",
    "/password-reset",
    "/password-reset/unknown-token",
    "/nowhere",
    "/first-start/unknown-token",
]


def _anonymous_paths(seeded: Seeded) -> list[str]:
    return [*ANONYMOUS, f"/invitations/{seeded.invitation_token}"]


def _association_paths(seeded: Seeded) -> list[str]:
    return [
        "/services",
        "/catalog",
        "/catalog/homepage/request",
        "/catalog/wordpress/request",
        f"/services/{seeded.requested}",
        f"/services/{seeded.running}",
        f"/services/{seeded.rejected}",
        f"/services/{seeded.running}/remove",
        f"/services/{seeded.blog}",
        f"/services/{seeded.blog}/remove",
        f"/services/{seeded.blog}/backup-schedule",
        f"/services/{seeded.running}/backup-schedule",
        f"/services/{seeded.blog}/backups/{seeded.backup}/restore",
        f"/jobs/{seeded.finished_job}",
        f"/jobs/{seeded.queued_job}",
        f"/jobs/{seeded.association_export_job}",
        "/team",
        "/catalog/wordpress/space",
        f"/spaces/{seeded.space}",
        f"/spaces/{seeded.whole_space}",
        f"/associations/{seeded.tenant}/offboarding",
    ]


OPERATOR = [
    "/operator/requests",
    "/operator/instances",
    "/operator/servers",
    "/operator/servers/new",
    "/operator/tenants/new",
    "/operator/backup-targets",
    "/operator/backup-targets/new",
    "/operator/settings",
    "/operator/jobs",
    "/operator/alerts",
    "/operator/alerts?status=",
    "/operator/audit",
    "/operator/tenants",
    "/operator/schedules",
    "/operator/spaces",
    "/operator/deletion-records",
]


@pytest.mark.parametrize("language", ["de", "en"])
def test_every_page_passes_axe(
    portal: tuple[str, FastAPI, Seeded], browser: Browser, language: str, tmp_path: Path
) -> None:
    base_url, _app, seeded = portal
    print(f"\nscreenshots of every page ({language}): {tmp_path / 'pages'}")
    found: dict[str, list[dict[str, object]]] = {}
    for who, paths in (
        (None, _anonymous_paths(seeded)),
        ("admin@verein-a.org", _association_paths(seeded)),
        (
            "op@lab.example",
            [
                *OPERATOR,
                f"/jobs/{seeded.finished_job}",
                f"/services/{seeded.running}",
                "/team",
                f"/team?tenant={seeded.tenant}",
                f"/operator/tenants/{seeded.tenant}/tokens",
                f"/operator/servers/{seeded.server}/remove",
                f"/operator/deletion-records/{seeded.offboarded}",
                f"/spaces/{seeded.space}",
                f"/spaces/{seeded.whole_space}",
                # Waiting: the way to cancel it, and to have its backups deleted now.
                f"/associations/{seeded.leaving}/offboarding",
            ],
        ),
    ):
        context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
        page = context.new_page()
        if who:
            _sign_in(page, base_url, who)
        shots = tmp_path / "pages" / language / (who or "anonymous")
        shots.mkdir(parents=True)
        found |= {f"{who} {path}": v for path, v in _visit_all(page, base_url, paths, shots).items()}
        if who == "admin@verein-a.org":
            # The request form again, now with every field marked as wrong.
            page.goto(f"{base_url}/catalog/homepage/request")
            page.fill("#field-name", "Not A Name")
            page.fill("#field-param-title", "")
            page.click("button.primary")
            assert page.locator('[aria-invalid="true"]').count() >= 2
            found |= (
                {"form with errors": accessibility_violations(page)} if accessibility_violations(page) else {}
            )
            assert page.locator("html").get_attribute("lang") == language
            # The backup schedule form with a wrong number of hours.
            page.goto(f"{base_url}/services/{seeded.blog}/backup-schedule")
            page.check("#field-choice-hours")
            page.fill("#field-hours", "0")
            page.click("button.primary")
            assert page.locator('[aria-invalid="true"]').count() == 1
            if violations := accessibility_violations(page):
                found["schedule form with errors"] = violations
            # The charts of a service with their tables of numbers open.
            page.goto(f"{base_url}/services/{seeded.running}")
            assert page.locator('figure.chart svg[role="img"]').count() == 4
            for disclosure in page.locator("figure.chart details summary").all():
                disclosure.click()
            assert page.locator("figure.chart details[open] table").count() == 4
            if violations := accessibility_violations(page):
                found["charts with their numbers shown"] = violations
            # The offboarding form with the short name mistyped: nothing is asked for, the error says why.
            page.goto(f"{base_url}/associations/{seeded.tenant}/offboarding")
            page.fill("#field-confirm", "verein")
            page.click("button.danger")
            assert page.locator('[role="alert"]').count() == 1
            if violations := accessibility_violations(page):
                found["offboarding form with an error"] = violations
        context.close()
    assert found == {}


def test_the_pages_visited_are_every_page_of_the_portal(portal: tuple[str, FastAPI, Seeded]) -> None:
    _base_url, app, seeded = portal
    visited = {
        *_anonymous_paths(seeded),
        *_association_paths(seeded),
        *OPERATOR,
        f"/operator/tenants/{seeded.tenant}/tokens",
        f"/operator/servers/{seeded.server}/remove",
        f"/operator/deletion-records/{seeded.offboarded}",
    }
    portal_pages = {
        route.path
        for route in app.routes
        if isinstance(route, APIRoute)
        and "GET" in route.methods
        and not route.path.startswith(("/api/", "/healthz", "/readyz"))
        and not route.path.endswith("/stream")  # the event stream of a job page, not a page
        and not route.path.endswith(".csv")  # a download, not a page
        and not route.path.endswith("/archive")  # an export's download, not a page
    }
    for path in portal_pages:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", path)
        assert any(re.fullmatch(pattern, seen) for seen in visited), f"{path} is not checked"


WALK_TEXTS = {
    "de": {
        "email": "Ihre E-Mail-Adresse",
        "name": "Ihr Name",
        "password": "Passwort",
        "create": "Das erste Konto anlegen",
        "add server": "Server hinzufügen",
        "read key": "Hostschlüssel lesen",
        "confirm": "Der Fingerabdruck stimmt",
        "added": "Der Server wurde hinzugefügt.",
        "add association": "Verein hinzufügen",
        "invite people": "Seinen ersten Admin einladen",
        "make token": "Schlüssel erstellen",
        "approve": "Freigeben",
        "save mail": "Mailkonto speichern",
        "add target": "Backup-Ziel hinzufügen",
        "test connection": "Verbindung prüfen",
        "refused": "Zugangsdaten des Labs abgelehnt",
        "reached": "Erreicht:",
        "invite": "Einladung senden",
        "accept": "Mein Konto anlegen",
        "request": "Anfrage senden",
        "save webhook": "Webhook speichern",
        "test webhook": "Testnachricht an den Webhook senden",
    },
    "en": {
        "email": "Your e-mail address",
        "name": "Your name",
        "password": "Password",
        "create": "Create the first account",
        "add server": "Add a server",
        "read key": "Read the host key",
        "confirm": "The fingerprint matches",
        "added": "The server was added.",
        "add association": "Add the association",
        "invite people": "Invite its first admin",
        "make token": "Make the token",
        "approve": "Approve",
        "save mail": "Save the mail account",
        "add target": "Add the backup target",
        "test connection": "Test the connection",
        "refused": "refused the lab's credentials",
        "reached": "Reached:",
        "invite": "Send the invitation",
        "accept": "Create my account",
        "request": "Send the request",
        "save webhook": "Save the webhook",
        "test webhook": "Send a test notice to the webhook",
    },
}


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_new_lab_from_the_printed_first_start_link_to_its_first_approval(
    browser: Browser,
    language: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As a new lab would: the link the first start prints → the first operator's password → a server
    (a real sshd; its fingerprint compared with its host key) → the mail account → a backup target on
    that sshd over SFTP, its connection tested before and after its key is installed → an association,
    its token, and its admin invited (the mail arrives at an SMTP sink, in the association's German) → the
    admin accepts and requests a service in the browser → the operator approves it → the lab's webhook
    gets a test notice. axe on every page. The deploy itself and its "ready" mail are the story test's
    (tests/e2e/test_portal_story.py), which runs real jobs."""
    texts = WALK_TEXTS[language]
    found: dict[str, list[dict[str, object]]] = {}

    def check(name: str) -> None:
        page.wait_for_load_state()
        if violations := accessibility_violations(page):
            found[name] = violations

    (tmp_path / "sshd").mkdir()
    backups = tmp_path / "backups"
    backups.mkdir()
    with (
        migrated("sqlite", tmp_path) as db_url,
        running_servers(tmp_path / "sshd", free_address_pair()[:1]) as (sshd,),
        smtp_sink() as sink,
        webhook_sink() as (hook_url, hooked),
    ):
        settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url="memory://")
        app = create_app(settings)
        app.state.dispatcher = NoBroker()
        monkeypatch.setattr(embedded, "docker_available", lambda: False)
        with serving(app) as base_url:
            embedded._first_run(settings, base_url=base_url)
            printed = capsys.readouterr().out
            link = re.search(rf"{re.escape(base_url)}/first-start/\S+", printed)
            assert link, printed
            context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
            page = context.new_page()
            page.goto(link.group(0))
            check("first start")
            page.get_by_label(texts["email"]).fill("kim@lab.example")
            page.get_by_label(texts["name"]).fill("Kim")
            page.get_by_label(texts["password"], exact=True).fill("kurz")
            page.get_by_role("button", name=texts["create"]).click()
            expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
            check("first start with an error")
            page.get_by_label(texts["password"], exact=True).fill(PASSWORD)
            page.get_by_role("button", name=texts["create"]).click()
            expect(page).to_have_url(f"{base_url}/operator/servers")
            check("no servers yet")

            page.get_by_role("link", name=texts["add server"]).click()
            check("add a server")
            page.locator("#field-name").fill("Server 1")
            page.get_by_role("button", name=texts["read key"]).click()
            expect(page.locator("#field-name")).to_have_attribute("aria-invalid", "true")
            check("add a server with errors")
            page.locator("#field-name").fill("server-1")
            page.locator("#field-address").fill(sshd.address)
            page.locator("#field-port").fill(str(sshd.port))
            for field, value in (("cpu", "4"), ("memory_mb", "8192"), ("disk_gb", "100")):
                page.locator(f"#field-{field}").fill(value)
            page.get_by_role("button", name=texts["read key"]).click()
            expect(page.locator("#fingerprint")).to_have_text(fingerprint(sshd.host_key))
            check("confirm the host key")
            page.get_by_role("button", name=re.compile(texts["confirm"])).click()
            expect(page.get_by_role("status")).to_contain_text(texts["added"])
            check("servers")

            page.goto(f"{base_url}/operator/tenants/new")
            check("add an association")
            page.locator("#field-name").fill("Verein A e.V.")
            page.locator("#field-slug").fill("verein-a")
            page.locator("#field-contact_email").fill("vorstand@verein-a.example")
            page.get_by_role("button", name=texts["add association"]).click()
            check("tokens of a new association")
            page.locator("#field-token-name").fill("board")
            page.get_by_role("button", name=texts["make token"]).click()
            assert page.locator("#new-token").input_value().strip()
            check("a token shown once")

            tenant_id = re.search(r"/operator/tenants/([^/]+)/tokens", page.url)
            assert tenant_id, page.url

            # The mail account, so the invitation below goes out.
            page.goto(f"{base_url}/operator/settings")
            check("mail and webhook settings")
            page.locator("#field-host").fill(sink.host)
            page.locator("#field-port").fill(str(sink.port))
            page.locator("#field-starttls").uncheck()
            page.locator("#field-from_address").fill("lab@lab.example")
            page.get_by_role("button", name=texts["save mail"]).click()
            expect(page.get_by_role("status")).to_be_visible()
            check("mail account saved")

            # A backup target on the sshd over SFTP: its host key confirmed, its connection tested.
            page.goto(f"{base_url}/operator/backup-targets/new")
            page.locator("#field-name").fill("backup-1")
            # A folder not made yet: the connection test makes it, as the form says.
            page.locator("#field-path").fill(str(backups / "lab"))
            page.locator("#field-address").fill(sshd.address)
            page.locator("#field-port").fill(str(sshd.port))
            page.locator("#field-user").fill(sshd.user)
            page.get_by_role("button", name=texts["add target"]).click()
            expect(page.locator("#fingerprint")).to_have_text(fingerprint(sshd.host_key))
            check("confirm the backup server's host key")
            page.get_by_role("button", name=re.compile(texts["confirm"])).click()
            card = page.locator("section.card", has_text="backup-1")
            card.get_by_role("button", name=texts["test connection"]).click()
            expect(card.get_by_role("alert")).to_contain_text(texts["refused"])
            check("a backup target not reached")
            public_key = card.locator("textarea").input_value().strip()
            with (sshd.root_dir.parent / "authorized_keys").open("a") as keys:
                keys.write(public_key + "\n")
            card.get_by_role("button", name=texts["test connection"]).click()
            expect(card.get_by_role("status")).to_contain_text(texts["reached"])
            check("a backup target reached")
            assert [p.name for p in backups.iterdir()] == ["lab"], "the target's folder was made"
            assert list((backups / "lab").iterdir()) == [], "the probe folder was removed again"

            # The association's admin is invited, from the link its token page offers; the mail is in the
            # association's language.
            page.goto(f"{base_url}/operator/tenants/{tenant_id.group(1)}/tokens?created=1")
            page.get_by_role("link", name=texts["invite people"]).click()
            expect(page).to_have_url(f"{base_url}/team?tenant={tenant_id.group(1)}")
            check("the association's team")
            page.locator("#invite-email").fill("vorstand@verein-a.example")
            page.locator("#invite-role").select_option("admin")
            page.get_by_role("button", name=texts["invite"], exact=True).click()
            expect(page.get_by_role("status")).to_be_visible()
            check("invited")
            (invitation,) = sink.wait_for(1, to="vorstand@verein-a.example")
            assert invitation["Subject"] == "Ihre Einladung zum Provisioner"
            link = re.search(r"/invitations/\S+", plain_text(invitation))
            assert link, plain_text(invitation)

            admin = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
            verein = admin.new_page()
            verein.goto(base_url + link.group(0))
            verein.locator("#name").fill("Vorstand")
            verein.locator("#password").fill(PASSWORD)
            verein.get_by_role("button", name=texts["accept"]).click()
            verein.goto(f"{base_url}/catalog/homepage/request")
            verein.locator("#field-name").fill("site")
            verein.locator("#field-param-title").fill("Unser Verein")
            verein.get_by_role("button", name=texts["request"]).click()
            expect(verein.locator(".state-requested")).to_be_visible()
            instance_id = verein.url.rsplit("/", 1)[-1]
            admin.close()

            page.goto(f"{base_url}/operator/requests")
            check("requests")
            card = page.locator("section.card", has_text="site")
            card.get_by_role("combobox").select_option(label="server-1")
            card.get_by_role("button", name=texts["approve"]).click()
            expect(page).to_have_url(re.compile(r"/jobs/job_"))
            check("the approval's job")

            # The lab's webhook, and a test notice to it.
            page.goto(f"{base_url}/operator/settings")
            page.locator("#field-url").fill(hook_url)
            page.get_by_role("button", name=texts["save webhook"]).click()
            expect(page.get_by_role("status")).to_be_visible()
            check("webhook saved")
            page.get_by_role("button", name=texts["test webhook"]).click()
            expect(page.get_by_role("status")).to_be_visible()
            check("webhook tested")
            [(_headers, posted)] = hooked
            assert json.loads(posted)["text"]
            context.close()
        with session_factory(db_url)() as session:
            instance = session.get_one(Instance, instance_id)
            assert instance.state == InstanceState.APPROVED.value
            assert instance.server is not None
            assert (instance.server.name, instance.server.host_key) == ("server-1", sshd.host_key)
    assert found == {}
