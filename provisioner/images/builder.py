"""Builds service images from a recipe folder and publishes them to a registry.

Nothing is pulled: the rootfs comes from Debian packages (see rootfs.py) and is imported into the
Docker Engine. Results are cached twice, because debootstrap is the slow part: the bare package install
per package list, and the finished rootfs per recipe content and version.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import yaml

from provisioner.images.rootfs import (
    SUITE,
    BuildError,
    apply_overlay,
    apply_security_updates,
    apt_mirror,
    debootstrap,
    extract_tar,
    give_to,
    remove_tree,
    security_mirror,
    security_week,
    trim,
    write_tar,
)

logger = logging.getLogger(__name__)

HASH_LABEL = "org.provisioner.recipe-hash"
VERSION_FILE = "etc/provisioner-image-version"
# Bump when the build steps change, so caches made by older steps are not reused.
_FORMAT = "2"
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Numbers only: an imported image may have no passwd entry for the account it runs as.
_USER = re.compile(r"^[0-9]{1,10}:[0-9]{1,10}$")
# An imported image has no environment at all; this is Debian's default.
_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

T = TypeVar("T")

__all__ = ["HASH_LABEL", "BuildError", "Recipe", "build_image", "load_recipe", "recipe_hash"]


@dataclass(frozen=True)
class Recipe:
    packages: tuple[str, ...]
    cmd: tuple[str, ...]
    expose: tuple[int, ...]
    versions: tuple[str, ...]
    # "uid:gid" the container runs as (and `docker exec` by default), as an upstream image's USER does.
    user: str | None = None
    # Absolute folder in the image -> "uid:gid" owning it and all below; Docker copies the owner of a
    # folder into a new volume mounted there.
    owned: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None


def load_recipe(recipe_dir: Path) -> Recipe:
    path = recipe_dir / "recipe.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BuildError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise BuildError(f"{path}: expected a mapping at the top")
    unknown = set(raw) - {"packages", "cmd", "expose", "versions", "user", "owned", "workdir"}
    if unknown:
        raise BuildError(f"{path}: unknown keys {sorted(unknown)}")
    recipe = Recipe(
        packages=_list_of(raw, "packages", str, path),
        cmd=_list_of(raw, "cmd", str, path),
        expose=_list_of(raw, "expose", int, path),
        versions=_list_of(raw, "versions", str, path),
        user=_optional_str(raw, "user", path),
        owned=_owned(raw, path),
        workdir=_optional_str(raw, "workdir", path),
    )
    bad_packages = [p for p in recipe.packages if not _PACKAGE.match(p)]
    if bad_packages:
        raise BuildError(f"{path}: not Debian package names: {bad_packages}")
    bad_versions = [v for v in recipe.versions if not _TAG.match(v)]
    if bad_versions:
        raise BuildError(f"{path}: versions must be valid image tags: {bad_versions}")
    if not recipe.cmd:
        raise BuildError(f"{path}: cmd must name the program the container runs")
    bad_users = [u for u in (recipe.user, *(owner for _, owner in recipe.owned)) if u and not _USER.match(u)]
    if bad_users:
        raise BuildError(f'{path}: users and owners are numeric "uid:gid": {bad_users}')
    folders = [folder for folder, _ in recipe.owned] + [recipe.workdir or "/"]
    bad_paths = [p for p in folders if not p.startswith("/") or ".." in p.split("/")]
    if bad_paths:
        raise BuildError(f"{path}: owned and workdir take absolute paths inside the image: {bad_paths}")
    return recipe


def _owned(raw: dict[str, Any], path: Path) -> tuple[tuple[str, str], ...]:
    value = raw.get("owned", {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BuildError(f'{path}: owned maps folders to "uid:gid" strings')
    return tuple(sorted(value.items()))


def _optional_str(raw: dict[str, Any], key: str, path: Path) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise BuildError(f"{path}: {key} must be a string")
    return value


def _list_of(raw: dict[str, Any], key: str, kind: type[T], path: Path) -> tuple[T, ...]:
    value = raw.get(key, [])
    # bool is an int to Python, and an unquoted 1.0 is a float to YAML: both are mistakes here.
    if not isinstance(value, list) or not all(
        isinstance(item, kind) and not isinstance(item, bool) for item in value
    ):
        raise BuildError(f'{path}: {key} must be a list of {kind.__name__} (quote versions like "1.0")')
    return tuple(value)


def recipe_hash(recipe_dir: Path, version: str, *, week: str | None = None) -> str:
    """Names the image's content: the same recipe, overlay and version always give the same hash
    within one week; the next week's security updates make the next build."""
    digest = hashlib.sha256()

    def feed(*parts: str | bytes) -> None:
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)

    feed(_FORMAT, SUITE, week or security_week(), version, (recipe_dir / "recipe.yaml").read_bytes())
    overlay = recipe_dir / "overlay"
    for path in sorted(_walk(overlay)):
        rel = path.relative_to(overlay).as_posix()
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            feed("link", rel, os.readlink(path))
        elif stat.S_ISDIR(mode):
            feed("dir", rel, oct(stat.S_IMODE(mode)))
        else:
            feed("file", rel, oct(stat.S_IMODE(mode)), path.read_bytes())
    return digest.hexdigest()


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield Path(folder) / name


def build_image(
    recipe_dir: Path,
    *,
    name: str,
    version: str,
    registry: str | None,
    cache_dir: Path,
    mirror: str | None = None,
    client: docker.DockerClient | None = None,
) -> str:
    """Builds `name:version` from the recipe unless the Engine already has it, and pushes it when a
    registry is given. Returns the full image reference."""
    recipe = load_recipe(recipe_dir)
    if version not in recipe.versions:
        raise BuildError(
            f"{recipe_dir / 'recipe.yaml'}: version {version!r} is not in {list(recipe.versions)}"
        )
    repository = f"{registry}/{name}" if registry else name
    reference = f"{repository}:{version}"
    week = security_week()
    content_hash = recipe_hash(recipe_dir, version, week=week)

    engine = client or docker.from_env()
    try:
        if _local_hash(engine, reference) == content_hash:
            logger.info("%s is up to date", reference)
        else:
            tar = _image_tar(
                recipe_dir,
                recipe,
                version=version,
                content_hash=content_hash,
                cache_dir=cache_dir,
                mirror=mirror,
                week=week,
            )
            _import(
                engine, tar, repository=repository, version=version, recipe=recipe, content_hash=content_hash
            )
        if registry:
            _push(engine, repository, version)
    finally:
        if client is None:
            engine.close()
    return reference


def _image_tar(
    recipe_dir: Path,
    recipe: Recipe,
    *,
    version: str,
    content_hash: str,
    cache_dir: Path,
    mirror: str | None,
    week: str,
) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{content_hash}.tar"
    with _locked(cache_dir):
        if target.is_file():
            logger.info("reusing %s", target)
            return target
        base = _base_tar(recipe.packages, cache_dir, mirror or apt_mirror(), week=week)
        with _work_dir(cache_dir) as rootfs:
            extract_tar(base, rootfs)
            overlay = recipe_dir / "overlay"
            if overlay.is_dir():
                apply_overlay(overlay, rootfs)
            for folder, owner in recipe.owned:
                give_to(rootfs, folder, owner)
            version_file = rootfs / VERSION_FILE
            version_file.write_text(version)
            version_file.chmod(0o644)
            write_tar(rootfs, target)
    return target


def _base_tar(packages: tuple[str, ...], cache_dir: Path, mirror: str, *, week: str) -> Path:
    """The packages installed and brought up to the week's security updates; kept for that week."""
    key = hashlib.sha256("\0".join([_FORMAT, SUITE, week, *sorted(packages)]).encode()).hexdigest()
    target = cache_dir / f"base-{key}.tar"
    if target.is_file():
        return target
    with _work_dir(cache_dir) as rootfs:
        debootstrap(rootfs, packages=list(packages), mirror=mirror)
        apply_security_updates(rootfs, mirror=security_mirror(), week=week)
        trim(rootfs)
        write_tar(rootfs, target)
    return target


@contextmanager
def _work_dir(cache_dir: Path) -> Iterator[Path]:
    # Inside the cache folder rather than /tmp: same file system for the final rename, and /tmp
    # may be a small tmpfs or mounted nodev.
    work = Path(tempfile.mkdtemp(prefix="build-", dir=cache_dir))
    try:
        rootfs = work / "rootfs"
        rootfs.mkdir(mode=0o755)
        yield rootfs
    finally:
        remove_tree(work)


@contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    # Parallel test workers share the cache; one debootstrap at a time is also all two cores can carry.
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _local_hash(engine: docker.DockerClient, reference: str) -> str | None:
    try:
        image = engine.images.get(reference)
    except docker.errors.ImageNotFound:
        return None
    value = image.labels.get(HASH_LABEL)
    return value if isinstance(value, str) else None


def _import(
    engine: docker.DockerClient,
    tar: Path,
    *,
    repository: str,
    version: str,
    recipe: Recipe,
    content_hash: str,
) -> None:
    reference = f"{repository}:{version}"
    changes = [
        f"CMD {json.dumps(list(recipe.cmd))}",
        *(f"EXPOSE {port}" for port in recipe.expose),
        f"ENV {_PATH}",
        f"LABEL {HASH_LABEL}={content_hash}",
        *([f"USER {recipe.user}"] if recipe.user else []),
        *([f"WORKDIR {recipe.workdir}"] if recipe.workdir else []),
    ]
    try:
        previous = engine.images.get(reference).id
    except docker.errors.ImageNotFound:
        previous = None
    logger.info("importing %s as %s", tar, reference)
    try:
        answer = engine.api.import_image(src=str(tar), repository=repository, tag=version, changes=changes)
    except docker.errors.APIError as exc:
        raise BuildError(f"docker import of {tar} as {reference} failed: {exc.explanation or exc}") from exc
    for line in str(answer).splitlines():
        message = _stream_error(json.loads(line)) if line.strip() else None
        if message:
            raise BuildError(f"docker import of {tar} as {reference} failed: {message}")
    if _local_hash(engine, reference) != content_hash:
        raise BuildError(f"docker import of {tar} did not produce {reference} with the expected label")
    if previous and previous != engine.images.get(reference).id:
        # The old build lost its tag; drop it unless a container still uses it.
        try:
            engine.images.remove(previous)
        except docker.errors.APIError:
            logger.info("kept untagged %s: still in use", previous)


def _push(engine: docker.DockerClient, repository: str, version: str) -> None:
    logger.info("pushing %s:%s", repository, version)
    try:
        for chunk in engine.api.push(repository, tag=version, stream=True, decode=True):
            message = _stream_error(chunk)
            if message:
                raise BuildError(f"push of {repository}:{version} failed: {message}")
    except docker.errors.APIError as exc:
        raise BuildError(f"push of {repository}:{version} failed: {exc.explanation or exc}") from exc


def _stream_error(chunk: Any) -> str | None:
    if not isinstance(chunk, dict):
        return None
    if chunk.get("error"):
        return str(chunk["error"])
    detail = chunk.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    return None
