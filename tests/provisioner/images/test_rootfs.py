"""Images get Debian's security updates: the sources they are upgraded from, and an upgrade for real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioner.images.rootfs import (
    FALLBACK_SECURITY_MIRROR,
    apt_mirror,
    debootstrap,
    extract_tar,
    image_sources,
    remove_tree,
    security_mirror,
    upgrade,
)
from tests.support.images import IMAGE_CACHE


def test_the_security_mirror_comes_from_the_machines_sources(tmp_path: Path) -> None:
    assert security_mirror(tmp_path) == FALLBACK_SECURITY_MIRROR
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb822.example/debian\nSuites: bookworm bookworm-updates\n\n"
        "Types: deb\nURIs: http://security.example/debian-security/\nSuites: bookworm-security\n"
    )
    assert security_mirror(tmp_path) == "http://security.example/debian-security"
    assert apt_mirror(tmp_path) == "http://deb822.example/debian"


def test_an_image_is_upgraded_from_the_release_its_updates_and_its_security_updates() -> None:
    assert image_sources("http://m.example/debian", "http://s.example/debian-security").splitlines() == [
        "deb http://m.example/debian bookworm main",
        "deb http://m.example/debian bookworm-updates main",
        "deb http://s.example/debian-security bookworm-security main",
    ]


@pytest.mark.e2e
def test_an_upgraded_rootfs_has_no_update_left(tmp_path: Path) -> None:
    """On a base made by debootstrap (the smallest in the test bed's image cache, else a fresh one):
    after the upgrade, apt finds nothing more to install from bookworm-security or bookworm-updates."""
    bases = sorted(IMAGE_CACHE.glob("base-*.tar"), key=lambda p: p.stat().st_size)
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    try:
        if bases:
            extract_tar(bases[0], rootfs)
        else:
            debootstrap(rootfs, packages=[], mirror=apt_mirror())
        upgrade(rootfs, mirror=apt_mirror(), security=security_mirror())
        simulated = subprocess.run(
            ["chroot", str(rootfs), "apt-get", "-s", "dist-upgrade"],
            capture_output=True, text=True, check=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )  # fmt: skip
        assert "0 upgraded, 0 newly installed" in simulated.stdout
        assert "bookworm-security" in (rootfs / "etc/apt/sources.list").read_text()
    finally:
        remove_tree(tmp_path)
