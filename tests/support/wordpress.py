"""Data written straight into a WordPress instance's containers, and read back, to prove a backup
and its restore keep it."""

from __future__ import annotations

import io
import json
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
    put_file(client, instance_id, UPLOAD_FOLDER, UPLOAD_NAME, data)


def upload_sha256(client: docker.DockerClient, instance_id: str) -> str | None:
    return file_sha256(client, instance_id, f"{UPLOAD_FOLDER}/{UPLOAD_NAME}")


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


# WordPress loaded as the site at SITE_HOST (a network's site by its address; a single WordPress
# answers any host), so the code below works through WordPress's own functions. Values arrive in the
# environment, never inside the code.
_AS_SITE = (
    "$_SERVER['HTTP_HOST'] = getenv('SITE_HOST'); $_SERVER['REQUEST_URI'] = '/';"
    " require '/usr/share/wordpress/wp-load.php';"
)


def site_php(client: docker.DockerClient, instance_id: str, host: str, code: str, **values: str) -> str:
    web = client.containers.get(f"prv-{instance_id}-web")
    result = web.exec_run(["php", "-r", _AS_SITE + code], environment={"SITE_HOST": host, **values})
    output = result.output.decode().strip()
    assert result.exit_code == 0, output
    return output


def add_post(client: docker.DockerClient, instance_id: str, host: str, *, title: str, content: str) -> None:
    """A published post by the site's first administrator."""
    site_php(
        client,
        instance_id,
        host,
        "$admin = get_users(['role' => 'administrator', 'number' => 1])[0];"
        " $id = wp_insert_post(['post_title' => getenv('TITLE'), 'post_content' => getenv('CONTENT'),"
        " 'post_status' => 'publish', 'post_author' => $admin->ID], true);"
        " if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }",
        TITLE=title,
        CONTENT=content,
    )


def attach(client: docker.DockerClient, instance_id: str, host: str, *, title: str, path: str) -> None:
    """The file at ``path`` (in the site's uploads) made an attachment of the post ``title``, as the
    media library makes an upload of a post."""
    site_php(
        client,
        instance_id,
        host,
        "$post = get_posts(['title' => getenv('TITLE'), 'post_type' => 'post', 'numberposts' => 1])[0];"
        " $id = wp_insert_attachment(['post_title' => basename(getenv('FILE')), 'post_status' => 'inherit',"
        " 'post_author' => $post->post_author, 'post_mime_type' => 'application/octet-stream'],"
        " getenv('FILE'), $post->ID, true);"
        " if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }",
        TITLE=title,
        FILE=path,
    )


def posts(client: docker.DockerClient, instance_id: str, host: str) -> dict[str, str]:
    """The site's published posts, title to content."""
    said = site_php(
        client,
        instance_id,
        host,
        "$found = [];"
        " foreach (get_posts(['numberposts' => -1, 'post_status' => 'publish']) as $post) {"
        " $found[$post->post_title] = $post->post_content; }"
        " echo json_encode($found);",
    )
    found: dict[str, str] = json.loads(said or "{}") or {}
    return found


def uploads_dir(client: docker.DockerClient, instance_id: str, host: str) -> str:
    """The site's uploads folder, as WordPress computes it (wp_upload_dir)."""
    return site_php(client, instance_id, host, "echo wp_upload_dir(null, false)['basedir'];")


def put_file(client: docker.DockerClient, instance_id: str, folder: str, name: str, data: bytes) -> None:
    web = client.containers.get(f"prv-{instance_id}-web")
    assert web.exec_run(["mkdir", "-p", folder]).exit_code == 0
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    assert web.put_archive(folder, archive.getvalue())


def file_sha256(client: docker.DockerClient, instance_id: str, path: str) -> str | None:
    web = client.containers.get(f"prv-{instance_id}-web")
    result = web.exec_run(["sha256sum", path])
    return result.output.decode().split()[0] if result.exit_code == 0 else None
