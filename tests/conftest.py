"""Session fixtures for the real parts of the test bed; each one says what is missing when it is."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import psycopg
import pytest
from argon2 import PasswordHasher, profiles
from xdist.scheduler import LoadScopeScheduling

from provisioner.accounts import passwords
from tests.support import need
from tests.support.db import PG_ADMIN, fresh_postgres, migrated
from tests.support.images import build_all
from tests.support.redis_server import REDIS_SERVER, private_redis
from tests.support.schedule import END_TO_END, LongestEndToEndFirst
from tests.support.sshd import SshdError, TestServer, free_address_pair, running_servers
from tests.support.stack import free_port
from tests.support.timing import SuiteTimer

REGISTRY = "127.0.0.1:5000"
# A key that ``provisioner up`` generated on this machine (in the home folder) is never the tests' key:
# they run on the defaults unless a test says otherwise.
os.environ.setdefault(
    "PROVISIONER_GENERATED_KEY_FILE",
    str(Path(tempfile.gettempdir()) / f"provisioner-tests-{os.getpid()}" / "no-key"),
)


# Loopback networks 127.0.N.0 each xdist worker searches first for its test servers' addresses.
ADDRESSES_PER_WORKER = 32


def _worker_number() -> int:
    """0 without xdist; xdist workers each need their own addresses."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # xdist's workers report to the process that prints
        config.pluginmanager.register(SuiteTimer(), "suite-timer")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """End-to-end tests first, those allowed the longest time (their timeout) before the others.

    scripts/test runs the suite on two xdist workers that take the tests in this order, as
    ``pytest_xdist_make_scheduler`` shares them out: one worker starts on the end-to-end tests while
    the other takes the short ones, rather than a long test starting last. The sort is stable and the
    same in every worker.
    """
    default = float(config.getini("timeout") or 0)

    def allowed(item: pytest.Item) -> float:
        marker = item.get_closest_marker("timeout")
        return float(marker.args[0]) if marker is not None and marker.args else default

    items.sort(key=lambda item: (item.get_closest_marker("e2e") is None, -allowed(item)))
    for item in items:
        if item.get_closest_marker("e2e") is not None and not item.nodeid.startswith(END_TO_END):
            raise pytest.UsageError(f"{item.nodeid} is marked e2e: add its folder to END_TO_END")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    """``--dist loadscope`` (scripts/test) with the scopes of tests/support/schedule.py."""
    if config.getvalue("dist") != "loadscope":
        return None
    return LongestEndToEndFirst(config, log)


PRODUCT_HASHER = passwords._hasher


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """Passwords hashed with argon2-cffi's CHEAPEST profile, which the library keeps for tests, instead
    of the product's: hashing or checking one took 0.1 to 0.3 s, and a portal test's people alone are
    made and signed in with eight of them. The tests about the product's own profile ask for it
    (``product_password_cost``); a control plane a test starts as a process of its own keeps it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
        yield


@pytest.fixture
def product_password_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PRODUCT_HASHER)


@pytest.fixture(scope="session")
def postgres() -> None:
    """PostgreSQL answers on 127.0.0.1:5432 (or the test says what is missing)."""
    try:
        psycopg.connect(PG_ADMIN).close()
    except psycopg.OperationalError:
        need("PostgreSQL on 127.0.0.1:5432 with role provisioner")


@pytest.fixture
def pg_url(postgres: None) -> Iterator[str]:
    """An empty database of this test's own, dropped at its end: no test sees another's rows."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this session's own, so that two test sessions never take each other's jobs."""
    if not Path(REDIS_SERVER).exists():
        need("redis-server (Debian package redis-server)")
    with private_redis(tmp_path_factory.mktemp("redis"), free_port()) as server:
        yield server.url


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException:
        need("Docker Engine on /var/run/docker.sock")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def registry() -> str:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5):
            pass
    except OSError:
        need(f"image registry on {REGISTRY}")
    return REGISTRY


@pytest.fixture(scope="session")
def proxy_image(docker_client: docker.DockerClient, registry: str) -> str:
    """The servers' reverse proxy (Caddy from Debian); every deploy starts it on its server."""
    return build_all("_images/proxy", "provisioner/proxy", client=docker_client, registry=registry)["2.6"]


@pytest.fixture(scope="session")
def homepage_images(docker_client: docker.DockerClient, registry: str, proxy_image: str) -> dict[str, str]:
    """Every version of the homepage image, built (or found in the cache) and pushed: version -> reference."""
    return build_all("homepage/image", "provisioner/homepage", client=docker_client, registry=registry)


@pytest.fixture(scope="session")
def wordpress_images(docker_client: docker.DockerClient, registry: str, proxy_image: str) -> dict[str, str]:
    """WordPress and MariaDB built from Debian packages (or found in the cache) and pushed."""
    images = build_all("wordpress/image", "provisioner/wordpress", client=docker_client, registry=registry)
    images |= build_all("_images/mariadb", "provisioner/mariadb", client=docker_client, registry=registry)
    return images


@pytest.fixture(scope="session")
def ssh_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[TestServer]]:
    if os.geteuid() != 0 or not Path("/usr/sbin/sshd").is_file() or shutil.which("ssh") is None:
        need("root, sshd and ssh for the test servers")
    try:
        addresses = free_address_pair(first_network=ADDRESSES_PER_WORKER * _worker_number())
        with running_servers(tmp_path_factory.mktemp("sshd"), addresses) as servers:
            yield servers
    except SshdError as exc:
        pytest.fail(f"test servers: {exc}", pytrace=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind the product supports."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres")
    with migrated(request.param, tmp_path) as url:
        yield url
