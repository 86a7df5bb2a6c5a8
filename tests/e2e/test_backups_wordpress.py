"""Backups of a WordPress instance with real restic over SFTP to a second sshd test server, restored
into a new instance and in place, restore drills passing and (after a pack file is damaged on the
backup server) failing, an export whose SQL loads into a fresh MariaDB, whose files are the site's
byte for byte and whose WXR holds the post written with its attachment, the whole association's
export holding both its sites, tenants kept apart, and at the end the association offboarded: a check
lists what it looked for on the server (restic's cache of the association there too), the backup
target and in the database, and finds nothing of it but its deletion record.

Real parts: the provisioner in embedded mode, two sshd test servers (one runs the instances, the other
is the backup server restic reaches over SFTP with the target's own identity and pinned host key),
Docker Engine, WordPress and MariaDB images built from Debian packages, restic from Debian (on the
servers, and on the control plane for the export).
"""

from __future__ import annotations

import hashlib
import os
import re
from contextlib import ExitStack
from pathlib import Path

import docker
import pytest
from pyrage import x25519
from sqlalchemy import select

from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.models import BackupRepository, JobEvent, OutgoingNotice
from tests.support.api_client import ApiClient, new_tenant
from tests.support.exports import loaded_into_fresh_mariadb, unpacked, wxr_items
from tests.support.lab import (
    add_server,
    add_sftp_target,
    approve,
    job_succeeded,
    leftovers,
    remove_every_instance,
    request_instance,
    succeeded,
)
from tests.support.offboarding import KEPT, left_in_database
from tests.support.proxy import remove_proxies
from tests.support.sshd import TestServer
from tests.support.stack import embedded_stack
from tests.support.wordpress import (
    UPLOAD_FOLDER,
    UPLOAD_NAME,
    UPLOAD_PATH,
    add_post,
    attach,
    put_upload,
    sql,
    upload_sha256,
)

pytestmark = pytest.mark.e2e

ROW_SQL = "SELECT body FROM notes WHERE id = 1"


# Six deploy-sized jobs in a row (deploy, backup, restore into a new instance, restore in place, two
# drills), an export and an offboarding: longer than the suite's default limit on a busy machine.
@pytest.mark.timeout(2400)
def test_wordpress_backup_restore_into_new_and_in_place_drills_and_tenant_isolation(
    tmp_path: Path,
    ssh_servers: list[TestServer],
    wordpress_images: dict[str, str],
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    server, backup_server = ssh_servers
    repositories = backup_server.root_dir / "backups"
    with ExitStack() as cleanup:
        # A recovery recipient: each repository's password is also kept, sealed, beside it on the target.
        recipient = str(x25519.Identity.generate().to_public())
        lab_env = {"PROVISIONER_BACKUP_RECOVERY_RECIPIENTS": recipient}
        stack = cleanup.enter_context(
            embedded_stack(tmp_path, ssh_key=server.client_key, registry=registry, env=lab_env)
        )
        operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
        server_id = add_server(operator, server, cpu=4)
        cleanup.callback(remove_proxies, docker_client, [server_id])
        # Whatever the stack made (a drill's throwaway too), while the API still answers.
        cleanup.callback(remove_every_instance, docker_client, operator)
        tenant_a, verein_a = new_tenant(operator, stack.base_url, "verein-a")
        verein_a = cleanup.enter_context(verein_a)
        verein_b = cleanup.enter_context(new_tenant(operator, stack.base_url, "verein-b")[1])

        # The backup target: the backup server's folder, its host key pinned, our identity authorized.
        missing_key = operator.http.post(
            "/api/v1/backup-targets",
            json={"name": "lab", "kind": "sftp", "path": str(repositories), "address": backup_server.address,
                  "user": "root"},
        )  # fmt: skip
        assert missing_key.status_code == 422
        assert missing_key.json()["errors"][0]["field"] == "body.host_key"
        target = add_sftp_target(operator, backup_server, repositories)
        assert target["default"] is True
        assert verein_a.http.get("/api/v1/backup-targets").status_code == 403

        blog = request_instance(verein_a, template="wordpress", name="blog")
        blog_id = blog["id"]
        succeeded(operator, approve(operator, blog_id, server_id))

        # Data written into it: an uploaded file and a database row.
        upload = os.urandom(300_000)
        put_upload(docker_client, blog_id, upload)
        checksum = hashlib.sha256(upload).hexdigest()
        assert sql(docker_client, blog_id, "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")[0] == 0
        assert sql(docker_client, blog_id, "INSERT INTO notes VALUES (1, 'Vereinsfest am Samstag')")[0] == 0

        backup_job = job_succeeded(
            verein_a, verein_a.call("POST", f"/api/v1/instances/{blog_id}/backups", expect=202)
        )
        assert backup_job["kind"] == "backup"
        backups = verein_a.call("GET", f"/api/v1/instances/{blog_id}/backups", expect=200)["items"]
        assert len(backups) == 1
        backup = backups[0]
        assert backup["status"] == "succeeded"
        assert backup["snapshot_id"]
        assert backup["size_bytes"] >= len(upload)
        assert backup["duration_seconds"] > 0
        assert backup["version"] == "6.1"
        assert verein_a.call("GET", f"/api/v1/instances/{blog_id}", expect=200)["state"] == "running"

        # One repository per tenant, named by the tenant; its password is in no event of the job.
        assert (repositories / tenant_a / "config").is_file()
        # restic's cache on the server is the association's own: one folder, restic's for its repository.
        cache = server.root_dir / "backup" / "cache" / tenant_a
        [repository_cache] = [p for p in cache.iterdir() if p.is_dir()]
        assert re.fullmatch("[0-9a-f]{64}", repository_cache.name)
        settings = Settings(data_dir=tmp_path)
        with transaction(settings.resolved_database_url) as session:
            repository = session.scalars(select(BackupRepository)).one()
            password = decrypt(settings, repository.encrypted_password)
            events = session.scalars(select(JobEvent).where(JobEvent.job_id == backup_job["id"])).all()
        assert repository.tenant_id == tenant_a
        assert len(events) > 10
        assert all(password not in e.line and password not in e.stdout for e in events)
        assert not list((tmp_path / "runs").iterdir())  # the run's private folder is gone

        # Another tenant sees none of it: 404 exactly like a missing instance.
        for method, path, body in [
            ("GET", f"/api/v1/instances/{blog_id}/backups", None),
            ("POST", f"/api/v1/instances/{blog_id}/backups", None),
            ("POST", f"/api/v1/instances/{blog_id}/restore", {"backup": backup["id"]}),
            ("POST", f"/api/v1/instances/{blog_id}/drills", None),
        ]:
            assert verein_b.http.request(method, path, json=body).status_code == 404
        assert verein_b.call("GET", "/api/v1/drills", expect=200)["items"] == []

        # Restore into a new instance: the same file, byte for byte, and the same row.
        asked = verein_a.call(
            "POST",
            f"/api/v1/instances/{blog_id}/restore",
            expect=202,
            json={"backup": backup["id"], "into": "new", "name": "blog-copy"},
        )
        # The association's copy waits for approval like any request; approving it restores into it.
        assert asked["job"] is None
        copy_id = asked["instance"]["id"]
        assert succeeded(operator, approve(operator, copy_id, server_id))["kind"] == "restore"
        copy = verein_a.call("GET", f"/api/v1/instances/{copy_id}", expect=200)
        assert (copy["state"], copy["health"], copy["name"]) == ("running", "healthy", "blog-copy")
        assert copy["hostname"] != blog["hostname"]
        assert copy["server"] == server_id  # the source's server had room
        assert upload_sha256(docker_client, copy_id) == checksum
        assert sql(docker_client, copy_id, ROW_SQL) == (0, "Vereinsfest am Samstag")

        # Restore in place after the data is gone brings it back.
        assert (
            docker_client.containers.get(f"prv-{blog_id}-web")
            .exec_run(["rm", f"{UPLOAD_FOLDER}/{UPLOAD_NAME}"])
            .exit_code
            == 0
        )
        assert sql(docker_client, blog_id, "DROP TABLE notes")[0] == 0
        assert upload_sha256(docker_client, blog_id) is None
        restored = job_succeeded(
            verein_a,
            verein_a.call(
                "POST", f"/api/v1/instances/{blog_id}/restore", expect=202, json={"backup": backup["id"]}
            ),
        )
        assert restored["instance"] == blog_id
        after = verein_a.call("GET", f"/api/v1/instances/{blog_id}", expect=200)
        assert (after["state"], after["health"]) == ("running", "healthy")
        assert upload_sha256(docker_client, blog_id) == checksum
        assert sql(docker_client, blog_id, ROW_SQL) == (0, "Vereinsfest am Samstag")

        # An export: a fresh backup restored into a throwaway folder, made into one archive. Its SQL
        # loads into a fresh MariaDB, its files are the site's byte for byte; nobody else reaches it.
        # (Its backup is the day's latest now: the retention policy keeps one a day, so it comes after
        # the restores of the first backup above.)
        # A post with the uploaded file as its attachment, written just before: the export's WXR
        # (WordPress's own format) holds both.
        add_post(docker_client, blog_id, "localhost", title="Sommerfest 2027", content="Grillen im Hof")
        attach(
            docker_client,
            blog_id,
            "localhost",
            title="Sommerfest 2027",
            path=f"{UPLOAD_FOLDER}/{UPLOAD_NAME}",
        )
        exported = verein_a.call("POST", f"/api/v1/instances/{blog_id}/exports", expect=202)
        job_succeeded(verein_a, exported)
        export = verein_a.call("GET", f"/api/v1/exports/{exported['export']['id']}", expect=200)
        assert export["state"] == "ready"
        assert verein_b.http.get(f"/api/v1/exports/{export['id']}").status_code == 404
        assert verein_b.http.get(export["download"]).status_code == 404
        assert verein_b.http.post(f"/api/v1/instances/{blog_id}/exports").status_code == 404
        archive = verein_a.http.get(export["download"]).content
        assert (len(archive), hashlib.sha256(archive).hexdigest()) == (export["size_bytes"], export["sha256"])
        assert b"Vereinsfest" not in (tmp_path / "exports" / f"{export['id']}.tar.gz.sealed").read_bytes()
        top, manifest = unpacked(archive, tmp_path / "unpacked")
        assert [p["name"] for p in manifest["services"][0]["parts"]] == [
            "configuration",
            "database",
            "content",
            "posts",
        ]
        # The WXR is what the WordPress Importer reads (see wxr_items), with the post, its text and its
        # attachment. (The importer itself is a plugin from wordpress.org only: no Debian, PyPI or npm
        # package ships it, so its import into a fresh WordPress is not run here.)
        items = wxr_items(top / "blog/posts.xml")
        post = items["Sommerfest 2027"]
        assert (post["post_type"], post["status"], post["content"]) == ("post", "publish", "Grillen im Hof")
        attachment = items[UPLOAD_NAME]
        assert (attachment["post_type"], attachment["post_parent"]) == ("attachment", post["post_id"])
        assert attachment["attachment_url"].endswith(UPLOAD_PATH)
        assert not list((top / "blog/content").rglob("*.xml"))  # never beside what the site serves
        exported_upload = top / "blog/content/uploads/2026/11" / UPLOAD_NAME
        assert hashlib.sha256(exported_upload.read_bytes()).hexdigest() == checksum
        dump = (top / "blog/database.sql").read_bytes()
        image = wordpress_images["10.11"]  # the database image the template runs
        assert loaded_into_fresh_mariadb(docker_client, image, dump, ROW_SQL) == "Vereinsfest am Samstag"
        assert password.encode() not in archive
        assert "Datenbank" in (top / "README.txt").read_text()  # the association's language: German

        # The whole association in one archive: each running service from a fresh backup of its own,
        # restored by restic on the control plane, written with the same builder; nobody else reaches it.
        whole = verein_a.call("POST", f"/api/v1/tenants/{tenant_a}/exports", expect=202)
        assert verein_b.http.post(f"/api/v1/tenants/{tenant_a}/exports").status_code == 404
        job_succeeded(verein_a, whole)
        everything = verein_a.call("GET", f"/api/v1/exports/{whole['export']['id']}", expect=200)
        assert (everything["scope"], everything["state"]) == ("association", "ready")
        assert verein_b.http.get(everything["download"]).status_code == 404
        archive = verein_a.http.get(everything["download"]).content
        assert hashlib.sha256(archive).hexdigest() == everything["sha256"]
        top, manifest = unpacked(archive, tmp_path / "unpacked-everything")
        assert [(s["name"], s["state"]) for s in manifest["services"]] == [
            ("blog", "exported"),
            ("blog-copy", "exported"),
        ]
        assert [s["sha256"] for s in everything["services"]] == [s["sha256"] for s in manifest["services"]]
        exported_upload = top / "blog/content/uploads/2026/11" / UPLOAD_NAME
        assert hashlib.sha256(exported_upload.read_bytes()).hexdigest() == checksum
        assert b"Vereinsfest am Samstag" in (top / "blog/database.sql").read_bytes()
        assert password.encode() not in archive

        # A drill restores into a throwaway, checks it, and removes it again.
        job_succeeded(verein_a, verein_a.call("POST", f"/api/v1/instances/{blog_id}/drills", expect=202))
        drills = verein_a.call("GET", f"/api/v1/drills?instance={blog_id}", expect=200)["items"]
        assert [d["status"] for d in drills] == ["passed"]
        status = verein_a.call("GET", f"/api/v1/instances/{blog_id}", expect=200)["backup_status"]
        assert (status["last_drill_status"], status["flag"]) == ("passed", None)
        throwaways = [
            i
            for i in operator.call("GET", "/api/v1/instances", expect=200)["items"]
            if i["name"].startswith("drill-")
        ]
        assert [t["state"] for t in throwaways] == ["removed"]
        assert (
            docker_client.containers.list(
                all=True, filters={"label": f"org.provisioner.instance={throwaways[0]['id']}"}
            )
            == []
        )

        # A damaged pack file on the backup server: restic check --read-data fails, the drill is failed.
        packs = sorted((repositories / tenant_a / "data").glob("*/*"), key=lambda p: p.stat().st_size)
        with packs[-1].open("r+b") as pack:
            pack.seek(pack.seek(0, 2) // 2)
            pack.write(os.urandom(64))
        drill_job, _ = verein_a.wait_for_job(
            verein_a.call("POST", f"/api/v1/instances/{blog_id}/drills", expect=202)["job"]["id"]
        )
        assert drill_job["status"] == "failed"
        assert "restic check --read-data" in drill_job["error"]
        failed = operator.call("GET", "/api/v1/drills?failed=true", expect=200)["items"]
        assert [d["job"] for d in failed] == [drill_job["id"]]
        status = verein_a.call("GET", f"/api/v1/instances/{blog_id}", expect=200)["backup_status"]
        assert status["flag"] == "the last restore drill failed"
        assert verein_a.call("GET", f"/api/v1/instances/{blog_id}", expect=200)["state"] == "running"

        # Offboarding: the export above is its final export; the operator deletes everything now.
        instances = operator.call("GET", f"/api/v1/instances?tenant={tenant_a}", expect=200)["items"]
        instance_ids = [i["id"] for i in instances]
        assert (repositories / f"{tenant_a}.password.age").is_file()
        offboarding = operator.call(
            "POST",
            f"/api/v1/tenants/{tenant_a}/offboarding",
            expect=202,
            json={"confirm": "verein-a", "delete_backups_now": True},
        )
        job_succeeded(operator, offboarding, timeout=900)
        record = operator.call("GET", f"/api/v1/tenants/{tenant_a}/deletion-record", expect=200)
        assert sorted(s["name"] for s in record["services"] if not s["name"].startswith("drill-")) == [
            "blog",
            "blog-copy",
        ]
        assert [(e["service"], e["sha256"]) for e in record["final_export"]] == [
            ("blog", export["sha256"]),
            (None, everything["sha256"]),  # the export of everything, each service's checksum inside
        ]
        assert [(r["target"], r["kind"]) for r in record["repositories"]] == [("lab", "sftp")]
        assert record["tokens"] == 1
        assert record["jobs"] == [offboarding["job"]["id"]]
        assert password not in str(record)

        # What the check looked for, and found of it: nothing, but the record (and the audit log).
        looked_for: dict[str, object] = {}
        for instance_id in instance_ids:
            looked_for[f"containers, networks, volumes of {instance_id}"] = leftovers(
                docker_client, instance_id
            )
            folder = server.root_dir / "instances" / instance_id
            looked_for[f"files in {folder.name} on the server"] = folder.exists()
            route = server.root_dir / "proxy" / "sites" / f"{instance_id}.caddy"
            looked_for[f"proxy route {route.name}"] = route.exists()
        looked_for["restic's cache of it on the server"] = cache.exists()
        looked_for["restic's cache shared by every association, of earlier versions"] = [
            p for p in cache.parent.iterdir() if re.fullmatch("[0-9a-f]{64}", p.name)
        ]
        looked_for["its services' prune markers on the server"] = [
            p for p in (server.root_dir / "backup" / "pruned").iterdir() if p.name in instance_ids
        ]
        looked_for["the repository on the backup target"] = (repositories / tenant_a).exists()
        looked_for["its password's recovery copy"] = (repositories / f"{tenant_a}.password.age").exists()
        looked_for["its export archives"] = [
            path for made in (export, everything) for path in (tmp_path / "exports").glob(f"{made['id']}*")
        ]
        with transaction(settings.resolved_database_url) as session:
            looked_for |= left_in_database(session, tenant_a, instance_ids)
            certificates = session.scalars(
                select(OutgoingNotice).where(OutgoingNotice.kind == "deletion_record")
            ).all()
        print("offboarding: looked for", *looked_for, f"(kept: {', '.join(KEPT.values())})", sep="\n  ")
        assert {what: left for what, left in looked_for.items() if left} == {}
        assert "rows of instances for the tenant" in looked_for
        assert "rows of jobs for its services" in looked_for
        assert len(looked_for) > 3 * len(instance_ids) + 10
        assert [n.recipient for n in certificates] == ["board@verein-a.example.org"]
        # Its token is gone; the other association goes on as before.
        assert verein_a.http.get("/api/v1/instances").status_code == 401
        assert verein_b.call("GET", "/api/v1/instances", expect=200)["items"] == []
