"""The whole story in a real browser: an association asks for a WordPress site, the lab approves, it
runs and its admin gets the "ready" mail (at a real SMTP sink); the association backs it up, asks
for a copy of it (which the lab approves like any request), checks the copy and removes it.

Real parts: Debian's Chromium driven by Playwright (two browser contexts: the association's admin and the
lab's operator), the control plane in embedded mode (`provisioner up`: SQLite, the embedded broker, the
worker), two sshd servers on their own loopback addresses (one runs the instances, the other is the
backup server restic reaches over SFTP), Docker Engine, WordPress and MariaDB images built from Debian
packages and pulled from the local registry, the server's reverse proxy, restic from Debian, and an
aiosmtpd sink the worker's mail goes to. The
data the association writes goes straight into the containers (docker exec), standing in for an upload
through WordPress's own pages. A screenshot of every step is kept under the test's tmp path; the test
prints where.
"""

from __future__ import annotations

import os
import re
from contextlib import ExitStack
from pathlib import Path

import docker
import pytest
from playwright.sync_api import Browser, Page, expect

from provisioner.config import Settings
from tests.support.api_client import ApiClient, new_tenant
from tests.support.browser import chromium
from tests.support.lab import add_server, add_sftp_target, leftovers, remove_every_instance
from tests.support.portal import PASSWORD, make_user
from tests.support.proxy import get_by_hostname, remove_proxies, root_ca
from tests.support.smtp_sink import plain_text, smtp_sink
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack
from tests.support.wordpress import UPLOAD_PATH, admin_signs_in, put_upload, sql

pytestmark = pytest.mark.e2e
JOB_TIMEOUT_MS = 400_000  # a WordPress deploy or restore on a busy 2-core machine
NOTE = "Vereinsfest am Samstag"


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
    """The steps arrive live in the aria-live list; at the end the page shows the outcome. Returns
    whether a step arrived through the event stream while the page was open."""
    steps = page.locator("#job-steps li")
    expect(page.locator("#job-steps")).to_have_attribute("aria-live", "polite")
    live = page.locator("#job-steps[data-finished]").count() == 0
    if live:
        before = steps.count()
        # One more step than the page was rendered with: it came through the event stream.
        steps.nth(before).wait_for(timeout=JOB_TIMEOUT_MS)
        album.take(page, f"{name}-live")
    expect(page.locator(".outcome")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    album.take(page, f"{name}-done")
    expect(page.locator(".outcome")).to_contain_text("Fertig.")
    return live


def _site_url(page: Page) -> str:
    url = page.locator("dd a[href^='https://']").get_attribute("href")
    assert url is not None
    return url


def _remove(page: Page, album: Album, name: str) -> None:
    """Removal: a confirmation that asks for the short name, then the job to its end."""
    page.get_by_role("link", name="Diesen Dienst entfernen …").click()
    album.take(page, f"confirm-removal-{name}")
    page.get_by_label(f"Geben Sie zur Bestätigung den Kurznamen „{name}“ ein").fill(name)
    page.get_by_role("button", name="Endgültig entfernen").click()
    _follow_job_to_its_end(page, album, f"removal-{name}")


# Four WordPress-sized jobs (deploy, backup, restore into a copy, two removals) of 1-3 minutes each on
# an idle machine, plus starting the stack and the browser: 20 minutes leaves room for a 2-core machine
# shared with other test runs.
@pytest.mark.timeout(1200)
def test_an_association_gets_wordpress_backs_it_up_and_restores_it_into_a_copy(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    wordpress_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server, backup_server = ssh_servers
    album = Album(tmp_path / "screenshots")
    print(f"\nscreenshots of the portal story: {album.folder}")
    with ExitStack() as cleanup:
        sink = cleanup.enter_context(smtp_sink())
        stack = cleanup.enter_context(
            embedded_stack(tmp_path / "lab", ssh_key=server.client_key, registry=registry, env=sink.env())
        )
        operator_api = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator_api, server)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        cleanup.callback(remove_every_instance, docker_client, operator_api)
        add_sftp_target(operator_api, backup_server, backup_server.root_dir / "story-backups")
        tenant_id, tenant_api = new_tenant(operator_api, stack.base_url, "verein-a")
        cleanup.enter_context(tenant_api)
        database_url = Settings(data_dir=tmp_path / "lab").resolved_database_url
        make_user(database_url, email="vorstand@verein-a.example.org", role="admin", tenant_id=tenant_id)
        make_user(database_url, email="betrieb@lab.example.org", role="operator", tenant_id=None)
        browser = cleanup.enter_context(chromium())

        # The association's admin signs in and asks for a WordPress site.
        verein = _sign_in(browser, stack.base_url, "vorstand@verein-a.example.org")
        expect(verein.get_by_role("heading", level=1)).to_have_text("Meine Dienste")
        album.take(verein, "verein-signed-in")
        verein.get_by_role("link", name="Katalog", exact=True).click()
        album.take(verein, "catalog")
        verein.get_by_role("link", name="„Webseite mit WordPress“ anfragen").click()
        name = verein.get_by_label("Kurzname")
        name.fill("Unser Blog")
        verein.get_by_role("button", name="Anfrage senden").click()
        expect(name).to_have_attribute("aria-invalid", "true")
        album.take(verein, "request-form-with-error")
        name.fill("blog")
        verein.get_by_role("button", name="Anfrage senden").click()
        expect(verein.locator(".state-requested")).to_have_text("wartet auf Freigabe")
        blog_url = verein.url
        blog_id = blog_url.rsplit("/", 1)[-1]
        album.take(verein, "requested")

        # The lab's operator approves it on the chosen server, in a browser context of their own.
        lab = _sign_in(browser, stack.base_url, "betrieb@lab.example.org")
        expect(lab.get_by_role("heading", level=1)).to_have_text("Anfragen, die auf Freigabe warten")
        album.take(lab, "approval-queue")
        lab.get_by_label("Server").select_option(label=server.name)
        lab.get_by_role("button", name="Freigeben").click()
        expect(lab).to_have_url(re.compile(r"/jobs/job_"))

        # The association follows the deploy live, then sees its running site and where it is.
        verein.goto(blog_url)
        verein.get_by_role("link", name="Einrichtung").click()
        assert _follow_job_to_its_end(verein, album, "deploy"), "the deploy's steps arrived live"
        verein.get_by_role("link", name="Zum Dienst").click()
        expect(verein.locator(".state-running")).to_have_text("läuft")
        blog_site = _site_url(verein)
        assert blog_site.startswith("https://blog-verein-a.")
        album.take(verein, "running")
        # The worker told the association's admin, in the association's German, where the site is.
        ready = [
            m
            for m in sink.wait_for(2, to="vorstand@verein-a.example.org", timeout=120)
            if str(m["Subject"]) == "Ihr Dienst ist bereit: blog"
        ]
        assert len(ready) == 1, [str(m["Subject"]) for m in sink.messages]
        assert blog_site.rstrip("/") in plain_text(ready[0])
        ca_pem = root_ca(docker_client, server_id)
        assert get_by_hostname(blog_site, address=server.address, ca_pem=ca_pem).status_code == 200

        # The first admin access, shown once.
        verein.get_by_role("button", name="Ersten Admin-Zugang anzeigen").click()
        secret = verein.locator(".secret")
        expect(secret).to_contain_text("nur dieses eine Mal")
        expect(secret.locator("dt")).to_have_text(["Benutzername", "Passwort"])
        expect(secret.locator("dd").first).to_have_text("admin")
        password = secret.locator("dd").nth(1).inner_text().strip()
        album.take(verein, "first-admin-access")
        assert admin_signs_in(blog_site, password, address=server.address, ca_pem=ca_pem)
        assert not admin_signs_in(blog_site, password + "x", address=server.address, ca_pem=ca_pem)
        verein.reload()
        expect(verein.locator(".secret")).to_have_count(0)

        # Something of the association's own in the site: an uploaded file and a row in its database.
        upload = os.urandom(300_000)
        put_upload(docker_client, blog_id, upload)
        assert sql(docker_client, blog_id, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")[0] == 0
        assert sql(docker_client, blog_id, "INSERT INTO notes VALUES (1, 'Vereinsfest am Samstag')")[0] == 0
        served = get_by_hostname(blog_site, address=server.address, ca_pem=ca_pem, path=UPLOAD_PATH)
        assert served.content == upload

        # A backup now, followed to its end, then listed on the service's page.
        expect(verein.get_by_text("Noch keine Sicherungen.")).to_be_visible()
        verein.get_by_role("button", name="Jetzt sichern").click()
        _follow_job_to_its_end(verein, album, "backup")
        verein.get_by_role("link", name="Zum Dienst").click()
        backups = verein.locator("section[aria-labelledby='backups-heading'] tbody tr")
        expect(backups).to_have_count(1)
        expect(backups.first).to_contain_text("erledigt")
        album.take(verein, "backup-listed")

        # Restore into a copy with a short name of its own, followed to its end.
        backups.first.get_by_role("link", name=re.compile("^Wiederherstellen …")).click()
        heading = verein.get_by_role("heading", level=1)
        expect(heading).to_have_text("Eine Sicherung von blog wiederherstellen")
        album.take(verein, "restore-choices")
        verein.get_by_label("Kurzname der Kopie").fill("blog-kopie")
        verein.get_by_role("button", name="In eine Kopie wiederherstellen").click()
        # The association's copy waits for the lab's approval like any request; approving restores into it.
        expect(verein.get_by_role("heading", level=1)).to_contain_text("blog-kopie")
        album.take(verein, "copy-requested")
        lab.goto(f"{stack.base_url}/operator/requests")
        lab.get_by_label("Server").select_option(label=server.name)
        lab.get_by_role("button", name="Freigeben").click()
        expect(lab).to_have_url(re.compile(r"/jobs/job_"))
        verein.reload()
        verein.get_by_role("link", name="Wiederherstellung").click()
        _follow_job_to_its_end(verein, album, "restore")
        expect(verein.get_by_role("heading", level=1)).to_contain_text("blog-kopie")

        # The copy runs at its own address and holds the same data, byte for byte.
        verein.get_by_role("link", name="Zum Dienst").click()
        expect(verein.get_by_role("heading", level=1)).to_contain_text("blog-kopie")
        expect(verein.locator(".state-running")).to_have_text("läuft")
        copy_site = _site_url(verein)
        assert copy_site.startswith("https://blog-kopie-verein-a.")
        copy_url = verein.url
        copy_id = copy_url.rsplit("/", 1)[-1]
        assert copy_id != blog_id
        album.take(verein, "copy-running")
        # The copy's first admin access is its own: the restore ended with WordPress's reset steps, so
        # the password shown works on the copy and the original's, in the restored database, does not.
        verein.get_by_role("button", name="Ersten Admin-Zugang anzeigen").click()
        copy_password = verein.locator(".secret dd").nth(1).inner_text().strip()
        assert copy_password != password
        album.take(verein, "copy-first-admin-access")
        served = get_by_hostname(copy_site, address=server.address, ca_pem=ca_pem, path=UPLOAD_PATH)
        assert served.status_code == 200
        assert served.content == upload
        assert sql(docker_client, copy_id, "SELECT body FROM notes WHERE id = 1") == (0, NOTE)
        assert admin_signs_in(copy_site, copy_password, address=server.address, ca_pem=ca_pem)
        assert not admin_signs_in(copy_site, password, address=server.address, ca_pem=ca_pem)
        assert admin_signs_in(blog_site, password, address=server.address, ca_pem=ca_pem)

        # Both are among the association's services, and the operator sees them on that server.
        verein.goto(f"{stack.base_url}/services")
        services = verein.get_by_role("table", name="Dienste Ihres Vereins").locator("tbody tr")
        expect(services).to_have_count(2)
        album.take(verein, "two-services")
        lab.goto(f"{stack.base_url}/operator/instances?server={server_id}")
        expect(lab.locator("tbody")).to_contain_text("blog-kopie")
        album.take(lab, "all-services")

        # The copy goes; the original keeps running.
        verein.goto(copy_url)
        _remove(verein, album, "blog-kopie")
        verein.goto(f"{stack.base_url}/services")
        expect(services).to_have_count(1)
        expect(services.first).to_contain_text("blog")
        expect(services.first.locator(".state-running")).to_have_text("läuft")
        album.take(verein, "copy-removed")
        assert leftovers(docker_client, copy_id) == []
        assert get_by_hostname(blog_site, address=server.address, ca_pem=ca_pem).status_code == 200

        # Finally the original goes too, and nothing of either is left on the server.
        verein.goto(blog_url)
        _remove(verein, album, "blog")
        verein.goto(f"{stack.base_url}/services")
        expect(verein.locator("main")).to_contain_text("Ihr Verein hat noch keine Dienste.")
        album.take(verein, "all-removed")
        assert leftovers(docker_client, blog_id) == []
    assert len(list(album.folder.glob("*.png"))) >= 20
