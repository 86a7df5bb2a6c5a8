from __future__ import annotations

import pytest

from provisioner.catalog.images import resolve_image


@pytest.mark.parametrize(
    ("reference", "mirror", "expected"),
    [
        ("nextcloud:29", None, "nextcloud:29"),
        ("nextcloud:29", "127.0.0.1:5000", "127.0.0.1:5000/nextcloud:29"),
        ("provisioner/homepage:1.0", "mirror.lab:5000/", "mirror.lab:5000/provisioner/homepage:1.0"),
        ("docker.io/library/redis:7", "mirror.lab/hub", "mirror.lab/hub/library/redis:7"),
        ("jitsi/web:stable-9584@sha256:ab", "m:1", "m:1/jitsi/web:stable-9584@sha256:ab"),
        ("localhost/x:1", "m", "m/x:1"),
    ],
)
def test_a_mirror_replaces_only_the_registry(reference: str, mirror: str | None, expected: str) -> None:
    assert resolve_image(reference, mirror=mirror) == expected
