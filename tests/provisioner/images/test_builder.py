"""The image builder, and the homepage image it makes, run for real in the Docker Engine."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import docker
import pytest

from provisioner.images import BuildError, build_image, load_recipe, recipe_hash
from provisioner.images.rootfs import (
    FALLBACK_MIRROR,
    FALLBACK_SECURITY_MIRROR,
    SECURITY_RECORD,
    apply_overlay,
    apt_mirror,
    give_to,
    security_mirror,
    security_week,
)

RECIPE = Path(__file__).resolve().parents[3] / "service_templates" / "homepage" / "image"


def _get(url: str) -> tuple[int, str]:
    try:
        # Only ever http URLs of containers these tests started.
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _site(client: docker.DockerClient, image: str, volume: str, seed: Path) -> Iterator[str]:
    """Runs the image the way the deploy does; yields its base URL and removes the container by id."""
    port = _free_port()
    container = client.containers.run(
        image,
        detach=True,
        ports={"80/tcp": ("127.0.0.1", port)},
        volumes={
            volume: {"bind": "/var/www/site", "mode": "rw"},
            str(seed): {"bind": "/etc/site-seed", "mode": "ro"},
        },
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/healthz") == (200, "ok"):
                    break
            except OSError:
                pass
            container.reload()
            if container.status != "running" or time.monotonic() > deadline:
                pytest.fail(
                    f"{image} did not become healthy ({container.status}):\n{container.logs().decode()}"
                )
            time.sleep(0.2)
        yield base
    finally:
        container.remove(force=True)


@pytest.fixture
def volume(docker_client: docker.DockerClient) -> Iterator[str]:
    created = docker_client.volumes.create(name=f"test-homepage-{secrets.token_hex(4)}")
    try:
        yield created.name
    finally:
        created.remove(force=True)


def _seed(folder: Path, html: str) -> Path:
    folder.mkdir(exist_ok=True)
    index = folder / "index.html"
    index.write_text(html)
    # The deploy renders the seed for its owner only; the image must still serve it.
    index.chmod(0o600)
    return folder


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_homepage_serves_health_version_and_seeded_site(
    homepage_images: dict[str, str],
    docker_client: docker.DockerClient,
    volume: str,
    tmp_path: Path,
    version: str,
) -> None:
    seed = _seed(tmp_path / "seed", "<h1>Les Amis du Parc</h1>\n")
    with _site(docker_client, homepage_images[version], volume, seed) as base:
        assert _get(f"{base}/healthz") == (200, "ok")
        assert _get(f"{base}/version") == (200, version)
        assert _get(f"{base}/") == (200, "<h1>Les Amis du Parc</h1>\n")
        assert _get(f"{base}/missing.html")[0] == 404


def test_site_is_seeded_once_and_kept_across_an_upgrade(
    homepage_images: dict[str, str], docker_client: docker.DockerClient, volume: str, tmp_path: Path
) -> None:
    seed = _seed(tmp_path / "seed", "first\n")
    with _site(docker_client, homepage_images["1.0"], volume, seed) as base:
        assert _get(f"{base}/") == (200, "first\n")
    _seed(seed, "second\n")
    with _site(docker_client, homepage_images["1.1"], volume, seed) as base:
        assert _get(f"{base}/version") == (200, "1.1")
        assert _get(f"{base}/") == (200, "first\n")


def test_no_directory_listing(
    homepage_images: dict[str, str], docker_client: docker.DockerClient, volume: str, tmp_path: Path
) -> None:
    seed = _seed(tmp_path / "seed", "home\n")
    (seed / "files").mkdir()
    (seed / "files" / "report.pdf").write_text("pdf")
    with _site(docker_client, homepage_images["1.0"], volume, seed) as base:
        assert _get(f"{base}/files/report.pdf") == (200, "pdf")
        assert _get(f"{base}/files/")[0] == 403


def test_a_built_image_has_the_security_updates_of_its_week(
    homepage_images: dict[str, str], docker_client: docker.DockerClient
) -> None:
    """The build upgraded the packages from Debian's security suite (the machine's apt source for
    it) and says so inside the image; the next week's build takes the next week's updates."""
    record = docker_client.containers.run(
        homepage_images["1.0"], ["cat", f"/{SECURITY_RECORD}"], remove=True
    ).decode()
    lines = record.splitlines()
    assert lines[0] == f"week: {security_week()}"
    assert lines[1] == f"suite: bookworm-security from {security_mirror()}"
    count = int(lines[2].removeprefix("upgraded: "))
    assert len(lines[3:]) == count
    assert all(" -> " in line for line in lines[3:])


def test_building_again_reuses_the_image_without_the_cache(
    homepage_images: dict[str, str], docker_client: docker.DockerClient, registry: str, tmp_path: Path
) -> None:
    before = docker_client.images.get(homepage_images["1.0"]).id
    cache = tmp_path / "cache"
    reference = build_image(
        RECIPE, name="provisioner/homepage", version="1.0", registry=registry, cache_dir=cache
    )
    assert reference == homepage_images["1.0"] == f"{registry}/provisioner/homepage:1.0"
    assert docker_client.images.get(reference).id == before
    assert not cache.exists()


def test_recipe_hash_follows_content_modes_and_version(tmp_path: Path) -> None:
    recipe = shutil.copytree(RECIPE, tmp_path / "image")
    first = recipe_hash(recipe, "1.0")
    assert recipe_hash(recipe, "1.0") == first
    # A new week's security updates make a new image.
    assert recipe_hash(recipe, "1.0", week="2099-W01") != first
    assert recipe_hash(recipe, "1.1") != first
    script = recipe / "overlay" / "usr" / "local" / "bin" / "start-site"
    script.chmod(0o700)
    assert recipe_hash(recipe, "1.0") != first
    script.chmod(0o755)
    assert recipe_hash(recipe, "1.0") == first
    (recipe / "overlay" / "etc" / "nginx" / "nginx.conf").write_text("# changed\n")
    assert recipe_hash(recipe, "1.0") != first


def test_unquoted_version_and_unknown_version_are_refused(tmp_path: Path) -> None:
    recipe = shutil.copytree(RECIPE, tmp_path / "image")
    assert load_recipe(recipe).versions == ("1.0", "1.1")
    with pytest.raises(BuildError, match=r"'9\.9' is not in"):
        build_image(recipe, name="x", version="9.9", registry=None, cache_dir=tmp_path / "cache")
    (recipe / "recipe.yaml").write_text("packages: [nginx-light]\ncmd: [nginx]\nversions: [1.0]\n")
    with pytest.raises(BuildError, match=r'quote versions like "1\.0"'):
        load_recipe(recipe)


def test_overlay_replaces_symlinks_instead_of_following_them(tmp_path: Path) -> None:
    outside = tmp_path / "outside.conf"
    outside.write_text("must stay\n")
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "site.conf").symlink_to(outside)
    (rootfs / "lib").symlink_to(tmp_path)
    overlay = tmp_path / "overlay"
    (overlay / "etc").mkdir(parents=True)
    (overlay / "etc" / "site.conf").write_text("new\n")
    apply_overlay(overlay, rootfs)
    assert not (rootfs / "etc" / "site.conf").is_symlink()
    assert (rootfs / "etc" / "site.conf").read_text() == "new\n"
    assert outside.read_text() == "must stay\n"

    (overlay / "lib").mkdir()
    (overlay / "lib" / "evil").write_text("x")
    with pytest.raises(BuildError, match="symlink"):
        apply_overlay(overlay, rootfs)
    assert not (tmp_path / "evil").exists()


def test_apt_mirror_comes_from_the_machines_sources(tmp_path: Path) -> None:
    assert apt_mirror(tmp_path) == FALLBACK_MIRROR
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian bookworm main\n"
        "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n"
    )
    assert apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://deb822.example/debian\nSuites: bookworm bookworm-updates\n"
    )
    assert apt_mirror(tmp_path) == "http://deb822.example/debian"
    assert security_mirror(tmp_path) == "http://security.example/debian-security"


def test_the_security_mirror_falls_back_to_debians_and_the_week_names_the_build(tmp_path: Path) -> None:
    assert security_mirror(tmp_path) == FALLBACK_SECURITY_MIRROR
    (tmp_path / "sources.list").write_text("deb http://lab.example/security bookworm-security main\n")
    assert security_mirror(tmp_path) == "http://lab.example/security"
    assert security_week(date(2026, 12, 5)) == "2026-W49"
    assert security_week(date(2027, 1, 1)) == "2026-W53"


def test_recipe_names_the_user_its_folders_and_working_folder(tmp_path: Path) -> None:
    recipe = tmp_path / "image"
    recipe.mkdir()
    body = "packages: [python3]\ncmd: [/srv/run]\nversions: ['1']\nworkdir: /srv\n"
    (recipe / "recipe.yaml").write_text(body + "user: '2000:2000'\nowned: {/srv/data: '2000:2000'}\n")
    loaded = load_recipe(recipe)
    assert (loaded.user, loaded.owned, loaded.workdir) == ("2000:2000", (("/srv/data", "2000:2000"),), "/srv")
    for wrong, message in [
        ("user: mattermost\n", "numeric"),
        ("owned: {srv/data: '1:1'}\n", "absolute"),
        ("owned: {/srv/../etc: '1:1'}\n", "absolute"),
        ("owned: [/srv/data]\n", "owned maps folders"),
    ]:
        (recipe / "recipe.yaml").write_text(body + wrong)
        with pytest.raises(BuildError, match=message):
            load_recipe(recipe)


def test_owned_folders_are_given_away_without_following_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("stays root's\n")
    rootfs = tmp_path / "rootfs"
    (rootfs / "srv" / "data" / "deep").mkdir(parents=True)
    (rootfs / "srv" / "data" / "deep" / "file").write_text("x")
    (rootfs / "srv" / "data" / "link").symlink_to(outside)
    give_to(rootfs, "/srv/data", "2000:2001")
    give_to(rootfs, "/srv/new", "3000:3000")
    for path in [rootfs / "srv" / "data", rootfs / "srv" / "data" / "deep" / "file"]:
        assert (path.stat().st_uid, path.stat().st_gid) == (2000, 2001)
    assert (rootfs / "srv" / "data" / "link").lstat().st_uid == 2000
    assert outside.stat().st_uid == os.geteuid()
    assert (rootfs / "srv" / "new").stat().st_uid == 3000
    assert (rootfs / "srv").stat().st_uid == os.geteuid()
