"""Builds the images of the catalog's Debian-built parts (or finds them in the cache) and pushes them."""

from __future__ import annotations

import os
import shutil
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
