"""The whole story in a real browser: an association asks for its homepage, the lab approves, it runs.

Real parts: Debian's Chromium driven by Playwright (two browser contexts: the association's admin and the
lab's operator), the control plane in embedded mode (`provisioner up`: SQLite, the embedded broker, the
worker), an sshd server on its own loopback address, Docker Engine, the homepage image built from Debian
packages and pulled from the local registry, and the server's reverse proxy. A screenshot of every step
is kept under the test's tmp path; the test prints where.
"""

from __future__ import annotations

import html
import re
from contextlib import ExitStack
from pathlib import Path

import docker
import pytest
from playwright.sync_api import Browser, Page, expect

from provisioner.config import Settings
from tests.support.api_client import ApiClient, new_tenant
from tests.support.browser import chromium
from tests.support.portal import PASSWORD, make_user
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack

pytestmark = pytest.mark.e2e
DEPLOY_TIMEOUT_MS = 240_000


class Album:
    """Numbered screenshots of the story, full page."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page: Page, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


def _sign_in(browser: Browser, base_url: str, email: str) -> Page:
    page = browser.new_context(locale="de-DE", extra_http_headers={"Accept-Language": "de"}).new_page()
    page.goto(f"{base_url}/login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    return page


def _follow_job_to_its_end(page: Page, album: Album, name: str) -> bool:
    """The steps arrive live in the aria-live list; at the end the page shows the outcome."""
    steps = page.locator("#job-steps li")
    expect(page.locator("#job-steps")).to_have_attribute("aria-live", "polite")
    if page.locator("#job-steps[data-finished]").count() == 0:
        before = steps.count()
        # One more step than the page was rendered with: it came through the event stream.
        steps.nth(before).wait_for(timeout=DEPLOY_TIMEOUT_MS)
        album.take(page, f"{name}-live")
    expect(page.locator(".outcome")).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    album.take(page, f"{name}-done")
    expect(page.locator(".outcome")).to_contain_text("Fertig.")
    return (album.folder / f"{album.count - 1:02d}-{name}-live.png").exists()


def test_an_association_gets_its_homepage_through_the_portal(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    homepage_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server = ssh_servers[0]
    album = Album(tmp_path / "screenshots")
    print(f"\nscreenshots of the portal story: {album.folder}")
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            embedded_stack(tmp_path / "lab", ssh_key=server.client_key, registry=registry)
        )
        operator_api = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        added = operator_api.call(
            "POST",
            "/api/v1/servers",
            expect=201,
            json={
                "name": server.name,
                "address": server.address,
                "port": server.port,
                "user": server.user,
                "root_dir": str(server.root_dir),
                "capacity": {"cpu": 2, "memory_mb": 2048, "disk_gb": 20},
            },
        )
        cleanup.callback(remove_proxies, docker_client, [added["id"]])
        tenant_id, tenant_api = new_tenant(operator_api, stack.base_url, "verein-a")
        cleanup.enter_context(tenant_api)
        database_url = Settings(data_dir=tmp_path / "lab").resolved_database_url
        make_user(database_url, email="vorstand@verein-a.example.org", role="admin", tenant_id=tenant_id)
        make_user(database_url, email="betrieb@lab.example.org", role="operator", tenant_id=None)
        browser = cleanup.enter_context(chromium())

        # The association's admin signs in and asks for a homepage.
        verein = _sign_in(browser, stack.base_url, "vorstand@verein-a.example.org")
        expect(verein.get_by_role("heading", level=1)).to_have_text("Meine Dienste")
        album.take(verein, "verein-signed-in")
        verein.get_by_role("link", name="Katalog", exact=True).click()
        album.take(verein, "catalog")
        verein.get_by_role("link", name="„Vereinswebseite“ anfragen").click()
        verein.get_by_label("Kurzname").fill("site")
        title = verein.locator("#field-param-title")
        title.fill("")
        verein.get_by_role("button", name="Anfrage senden").click()
        expect(title).to_have_attribute("aria-invalid", "true")
        album.take(verein, "request-form-with-error")
        title.fill("Verein A — {{ 7*7 }}")
        verein.get_by_role("button", name="Anfrage senden").click()
        expect(verein.locator(".state-requested")).to_have_text("wartet auf Freigabe")
        instance_url = verein.url
        album.take(verein, "requested")

        # The lab's operator approves it on the chosen server, in a browser context of their own.
        lab = _sign_in(browser, stack.base_url, "betrieb@lab.example.org")
        expect(lab.get_by_role("heading", level=1)).to_have_text("Anfragen, die auf Freigabe warten")
        album.take(lab, "approval-queue")
        lab.get_by_label("Server").select_option(label=server.name)
        lab.get_by_role("button", name="Freigeben").click()
        expect(lab).to_have_url(re.compile(r"/jobs/job_"))

        # The association follows the deploy live, then sees its running site and where it is.
        verein.goto(instance_url)
        verein.get_by_role("link", name="Einrichtung").click()
        assert _follow_job_to_its_end(verein, album, "deploy"), "the deploy's steps arrived live"
        verein.get_by_role("link", name="Zum Dienst").click()
        expect(verein.locator(".state-running")).to_have_text("läuft")
        link = verein.locator("dd a[href^='https://']")
        site_url = link.get_attribute("href")
        assert site_url is not None
        assert site_url.startswith("https://site-verein-a.")
        album.take(verein, "running")
        page = get_by_hostname(site_url, address=server.address, ca_pem=root_ca(docker_client, added["id"]))
        assert page.status_code == 200
        assert "Verein A — {{ 7*7 }}" in html.unescape(page.text)

        # The operator sees it among all services, on that server.
        lab.goto(f"{stack.base_url}/operator/instances?server={added['id']}")
        expect(lab.locator("tbody")).to_contain_text("site")
        album.take(lab, "all-services")

        # Removal: a confirmation that asks for the name, then the job to its end.
        verein.goto(instance_url)
        verein.get_by_role("link", name="Diesen Dienst entfernen …").click()
        album.take(verein, "confirm-removal")
        verein.get_by_label("Geben Sie zur Bestätigung den Kurznamen „site“ ein").fill("site")
        verein.get_by_role("button", name="Endgültig entfernen").click()
        _follow_job_to_its_end(verein, album, "removal")
        verein.goto(f"{stack.base_url}/services")
        expect(verein.locator("main")).to_contain_text("Ihr Verein hat noch keine Dienste.")
        album.take(verein, "removed")
    assert len(list(album.folder.glob("*.png"))) >= 10
