"""Builds the images of the catalog's Debian-built parts (or finds them in the cache) and pushes them."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest

from provisioner.images import BuildError, build_image, load_recipe
from tests.support import need

REPO = Path(__file__).resolve().parent.parent.parent
IMAGE_CACHE = Path("/var/cache/provisioner-testbed/images")
TEMPLATES = REPO / "service_templates"
# Stand-ins for upstream images that cannot be pulled here (tests/twins/<name>/README.md).
TWINS = REPO / "tests" / "twins"


def build_all(
    recipe: str, name: str, *, client: docker.DockerClient, registry: str, root: Path = TEMPLATES
) -> dict[str, str]:
    """Every version of one recipe folder (relative to ``root``): version -> reference."""
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        need("root and debootstrap to build images")
    recipe_dir = root / recipe
    try:
        with _one_builder_at_a_time():
            return {
                version: build_image(
                    recipe_dir,
                    name=name,
                    version=version,
                    registry=registry,
                    cache_dir=IMAGE_CACHE,
                    client=client,
                )
                for version in load_recipe(recipe_dir).versions
            }
    except BuildError as exc:
        pytest.fail(f"{name} image: {exc}", pytrace=False)


@contextmanager
def _one_builder_at_a_time() -> Iterator[None]:
    """Parallel test workers (and test sessions) build, tag and push one image at a time: two workers
    that both found an image missing would otherwise both import and push it, each untagging the
    other's import while a deploy may be pulling it."""
    IMAGE_CACHE.mkdir(parents=True, exist_ok=True)
    with (IMAGE_CACHE / ".tests.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


JITSI_STANDIN = TWINS / "jitsi"


def jitsi_standins(*, client: docker.DockerClient, registry: str) -> dict[str, str]:
    """The STAND-IN for docker-jitsi-meet's images, pushed where the template's references resolve
    through the lab's registry: ``<registry>/jitsi/<part>:<release>``. Returns those references."""
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        need("root and debootstrap to build images")
    pushed = {}
    try:
        with _one_builder_at_a_time():
            for version in load_recipe(JITSI_STANDIN).versions:
                built = build_image(JITSI_STANDIN, name="jitsi-standin", version=version, registry=None,
                                    cache_dir=IMAGE_CACHE, client=client)  # fmt: skip
                part, _, release = version.partition("-")
                repository = f"{registry}/jitsi/{part}"
                client.images.get(built).tag(repository, release)
                client.images.push(repository, tag=release)
                pushed[version] = f"{repository}:{release}"
    except BuildError as exc:
        pytest.fail(f"jitsi stand-in image: {exc}", pytrace=False)
    return pushed
