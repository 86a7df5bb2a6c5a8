"""Data written straight into a WordPress instance's containers, and read back, to prove a backup
and its restore keep it."""

from __future__ import annotations

import io
import tarfile

import docker

from tests.support.proxy import request_by_hostname

UPLOADS = "/var/lib/wordpress/wp-content/uploads"
UPLOAD_FOLDER = f"{UPLOADS}/2026/11"
UPLOAD_NAME = "flyer.bin"
UPLOAD_PATH = "/wp-content/uploads/2026/11/flyer.bin"  # where the site serves it


def sql(client: docker.DockerClient, instance_id: str, statement: str) -> tuple[int, str]:
    db = client.containers.get(f"prv-{instance_id}-db")
    result = db.exec_run(["mariadb", "-N", "-B", "wordpress", "-e", statement])
    return result.exit_code, result.output.decode().strip()


def put_upload(client: docker.DockerClient, instance_id: str, data: bytes) -> None:
    web = client.containers.get(f"prv-{instance_id}-web")
    assert web.exec_run(["mkdir", "-p", UPLOAD_FOLDER]).exit_code == 0
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(UPLOAD_NAME)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    assert web.put_archive(UPLOAD_FOLDER, archive.getvalue())


def upload_sha256(client: docker.DockerClient, instance_id: str) -> str | None:
    web = client.containers.get(f"prv-{instance_id}-web")
    result = web.exec_run(["sha256sum", f"{UPLOAD_FOLDER}/{UPLOAD_NAME}"])
    return result.output.decode().split()[0] if result.exit_code == 0 else None


def admin_signs_in(site_url: str, password: str, *, address: str, ca_pem: str) -> bool:
    """Whether WordPress's own login page lets the "admin" account in with ``password``."""
    response = request_by_hostname(
        "POST",
        site_url,
        address=address,
        ca_pem=ca_pem,
        path="/wp-login.php",
        data={"log": "admin", "pwd": password, "testcookie": "1"},
        cookies={"wordpress_test_cookie": "WP Cookie check"},  # WordPress checks cookies work first
    )
    signed_in = any(name.startswith("wordpress_logged_in_") for name in response.cookies)
    return response.status_code == 302 and signed_in


def sign_in(site_url: str, user: str, password: str, *, address: str, ca_pem: str) -> dict[str, str]:
    """WordPress's own login form at ``site_url``; the cookies it sets (none when it refused)."""
    response = request_by_hostname(
        "POST",
        site_url,
        address=address,
        ca_pem=ca_pem,
        path="/wp-login.php",
        data={"log": user, "pwd": password, "testcookie": "1"},
        cookies={"wordpress_test_cookie": "WP Cookie check"},
    )
    # WordPress sets its auth cookie once per path (wp-admin, plugins): one value each is enough here.
    pairs = (line.split(";", 1)[0].partition("=") for line in response.headers.get_list("set-cookie"))
    cookies = {name: value for name, _, value in pairs}
    return cookies if any(name.startswith("wordpress_logged_in_") for name in cookies) else {}


def dashboard_status(site_url: str, cookies: dict[str, str], *, address: str, ca_pem: str) -> int:
    """The status of the site's dashboard for whoever ``cookies`` signed in: 200 for its administrators,
    403 for an account that is no member of that site."""
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    response = request_by_hostname(
        "GET", site_url, address=address, ca_pem=ca_pem, path="/wp-admin/", headers={"Cookie": cookie}
    )
    return response.status_code
