"""The production stack (docker-compose.yml, Dockerfile), checked for real without pulling an image.

Compose v1 validates and interpolates the file as `docker compose up` would read it; the commands,
settings and routes it names are checked against the provisioner itself.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.config import Settings
from tests.support import need

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
PROVISIONER_SERVICES = ("migrate", "api", "worker", "beat")
LONG_RUNNING = ("api", "worker", "beat")
ENV_PREFIX = "PROVISIONER_"
# The variables the file refuses to run without (`${NAME:?message}`).
REQUIRED_VARIABLES = (
    "POSTGRES_PASSWORD",
    "PROVISIONER_SECRET_KEY",
    "SSH_KEY_FILE",
    "PROVISIONER_PUBLIC_URL",
    "PROVISIONER_BASE_DOMAIN",
)
ENV_EXAMPLE = REPO / ".env.example"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        need("docker-compose (Compose v1)", "run `apt-get install docker-compose` as root")
    return path


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without settings or compose variables someone left exported."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(ENV_PREFIX) and key not in REQUIRED_VARIABLES and not key.startswith("COMPOSE_")
    }
    env.update(extra)
    return env


def _run_compose(
    docker_compose: str, tmp_path: Path, variables: dict[str, str], *args: str, env_text: str = ""
) -> subprocess.CompletedProcess[str]:
    # An env file of the test's own, so a developer's .env beside the compose file cannot fill in what
    # is missing.
    env_file = tmp_path / "test.env"
    env_file.write_text(env_text)
    return subprocess.run(
        [
            docker_compose,
            "--file",
            str(COMPOSE_FILE),
            "--project-directory",
            str(REPO),
            "--env-file",
            str(env_file),
            *args,
        ],
        env=_clean_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _variables(tmp_path: Path) -> dict[str, str]:
    ssh_key = tmp_path / "id_ed25519"
    ssh_key.write_text("not a real key; compose only mounts the file\n")
    return {
        "POSTGRES_PASSWORD": "a0b1c2d3e4f5a6b7c8d9",
        "PROVISIONER_SECRET_KEY": "0123456789abcdef0123456789abcdef",
        "SSH_KEY_FILE": str(ssh_key),
        "PROVISIONER_PUBLIC_URL": "https://lab.example.org",
        "PROVISIONER_BASE_DOMAIN": "lab.example.org",
    }


@functools.cache
def _provisioner(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs the provisioner command the image installs, from this checkout, with a wide plain terminal."""
    return subprocess.run(
        [sys.executable, "-m", "provisioner", *args],
        cwd=REPO,
        env=_clean_env(COLUMNS="200", NO_COLOR="1", TERM="dumb"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _listed_commands(help_text: str) -> set[str]:
    """The subcommand names in a help text's Commands section (Rich box or plain Click layout)."""
    _, found, section = help_text.partition("Commands")
    assert found, f"no Commands section in:\n{help_text}"
    names = set()
    for line in section.splitlines():
        match = re.match(r"^[\s│|]*([a-z][\w-]*)(\s|$)", line)
        if match:
            names.add(match.group(1))
    return names


def _assert_real_command(argv: list[str]) -> None:
    """``argv`` starts with ``provisioner``, names existing (sub)commands and only options they take."""
    assert argv, "empty command"
    assert argv[0] == "provisioner", f"{argv} does not run the provisioner command"
    args = argv[1:]
    path = []
    for word in args:
        if word.startswith("-"):
            break
        parent = _provisioner(*path, "--help")
        assert parent.returncode == 0, parent.stderr
        assert word in _listed_commands(parent.stdout), (
            f"`{shlex.join(['provisioner', *path])} --help` lists no command {word!r}:\n{parent.stdout}"
        )
        path.append(word)
    leaf = _provisioner(*path, "--help")
    assert leaf.returncode == 0, leaf.stderr
    for option in (word.split("=", 1)[0] for word in args if word.startswith("--")):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", leaf.stdout), (
            f"`{shlex.join(['provisioner', *path])}` takes no {option}:\n{leaf.stdout}"
        )
    # Click parses every option before --help answers, so an unknown option or a stray argument fails here.
    parsed = _provisioner(*args, "--help")
    assert parsed.returncode == 0, f"`{shlex.join(argv)}` is refused:\n{parsed.stderr}"


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def _published(service: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(host address or None for all addresses, published port) for each of a service's ports."""
    published: list[tuple[str | None, str]] = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published.append((port.get("host_ip"), str(port.get("published", ""))))
            continue
        parts = str(port).split(":")
        if len(parts) == 3:
            published.append((parts[0], parts[1]))
        else:
            published.append((None, parts[0]))
    return published


# --- Compose v1 reads the file as `up` would --------------------------------------------------------


def test_compose_accepts_the_file(docker_compose: str, tmp_path: Path) -> None:
    done = _run_compose(docker_compose, tmp_path, _variables(tmp_path), "config", "-q")
    assert done.returncode == 0, done.stderr
    # Compose warns about variables that are neither set nor defaulted; each must be one or the other.
    assert "WARNING" not in done.stderr, done.stderr


@pytest.mark.parametrize("missing", REQUIRED_VARIABLES)
def test_compose_refuses_to_run_without_a_required_variable(
    docker_compose: str, tmp_path: Path, missing: str
) -> None:
    variables = _variables(tmp_path)
    del variables[missing]
    done = _run_compose(docker_compose, tmp_path, variables, "config", "-q")
    assert done.returncode != 0
    # The message names the variable, so the operator knows what to set.
    assert f"set {missing}" in done.stderr, done.stderr


def _settings_of_each_service(resolved: dict[str, Any]) -> list[Settings]:
    """The settings each provisioner service of a resolved compose file would run with."""
    found = []
    for name in PROVISIONER_SERVICES:
        environment = resolved["services"][name]["environment"]
        fields = {key.removeprefix(ENV_PREFIX).lower(): value for key, value in environment.items()}
        found.append(Settings(_env_file=None, **fields))
    return found


def test_interpolated_environment_is_accepted_by_the_settings(docker_compose: str, tmp_path: Path) -> None:
    done = _run_compose(docker_compose, tmp_path, _variables(tmp_path), "config")
    assert done.returncode == 0, done.stderr
    for settings in _settings_of_each_service(yaml.safe_load(done.stdout)):
        assert settings.environment == "production"
        assert not settings.is_embedded
        assert settings.resolved_database_url.startswith("postgresql+psycopg://provisioner:")
        assert "@postgres:5432/" in settings.resolved_database_url
        assert settings.resolved_broker_url.startswith("redis://redis:6379/")
        assert settings.resolved_ssh_key_path.is_absolute()


def _example_lines() -> dict[str, str]:
    lines = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f".env.example: {line!r} is not NAME=value"
            lines[name] = value
    return lines


def test_the_example_env_file_names_every_variable_and_only_those() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    assert set(_example_lines()) == used


def test_the_example_env_file_runs_once_the_required_lines_are_filled(
    docker_compose: str, tmp_path: Path
) -> None:
    example = _example_lines()
    # The operator has to fill in exactly the required variables; everything else has a working value.
    assert {name for name, value in example.items() if name in REQUIRED_VARIABLES and not value} == {
        "POSTGRES_PASSWORD",
        "PROVISIONER_SECRET_KEY",
        "PROVISIONER_PUBLIC_URL",
        "PROVISIONER_BASE_DOMAIN",
    }
    filled = {**example, **_variables(tmp_path)}
    env_text = "".join(f"{name}={value}\n" for name, value in filled.items())
    done = _run_compose(docker_compose, tmp_path, {}, "config", env_text=env_text)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    resolved = yaml.safe_load(done.stdout)
    for settings in _settings_of_each_service(resolved):
        assert settings.public_url == "https://lab.example.org"
        assert settings.base_domain == "lab.example.org"
        assert settings.tls_mode == "acme"
    assert resolved["services"]["worker"]["command"][-1] == example["WORKER_CONCURRENCY"]


# --- The file's structure ---------------------------------------------------------------------------


def test_the_six_services(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the version key is obsolete in the Compose Specification"
    assert set(compose["services"]) == {"postgres", "redis", *PROVISIONER_SERVICES}


def test_provisioner_services_share_the_image_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    shared = compose["x-provisioner"]
    assert (
        REPO / shared["build"]["context"] / shared["build"].get("dockerfile", "Dockerfile")
    ).resolve() == (DOCKERFILE)
    for name in PROVISIONER_SERVICES:
        service = compose["services"][name]
        for key in ("build", "image", "environment", "volumes"):
            assert service[key] == shared[key], f"{name} does not use the shared {key}"


@pytest.mark.parametrize("name", PROVISIONER_SERVICES)
def test_service_runs_a_real_provisioner_command(compose: dict[str, Any], name: str) -> None:
    _assert_real_command(_command(compose["services"][name]))


def test_every_provisioner_variable_is_a_setting() -> None:
    fields = set(Settings.model_fields)
    for path in (COMPOSE_FILE, DOCKERFILE):
        variables = set(re.findall(rf"\b{ENV_PREFIX}[A-Z0-9_]+\b", path.read_text()))
        assert variables, f"{path.name} sets no settings"
        unknown = sorted(v for v in variables if v.removeprefix(ENV_PREFIX).lower() not in fields)
        assert not unknown, f"{path.name} names {unknown}, which Settings would silently ignore"


def test_long_running_services_wait_for_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no", "a one-shot must not be restarted after it succeeded"
    for name in LONG_RUNNING:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["redis"]["condition"] == "service_healthy", name


def test_waited_for_health_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "test" in services[target].get("healthcheck", {}), f"{name} waits on {target}"


def test_every_long_running_service_has_a_real_healthcheck(compose: dict[str, Any]) -> None:
    for name in ("postgres", "redis", *LONG_RUNNING):
        test = compose["services"][name]["healthcheck"]["test"]
        if name in {"worker", "beat"}:
            assert test[0] == "CMD"
            _assert_real_command(test[1:])


def test_workers_finish_their_jobs_before_they_are_stopped(compose: dict[str, Any]) -> None:
    grace = compose["services"]["worker"]["stop_grace_period"]
    match = re.fullmatch(r"(\d+)m", grace)
    assert match, grace
    assert int(match.group(1)) * 60 > Settings(_env_file=None).job_timeout_seconds


def test_the_image_is_built_here_and_never_pulled(compose: dict[str, Any]) -> None:
    shared = compose["x-provisioner"]
    assert shared["image"].startswith("localhost/provisioner:")
    assert shared["pull_policy"] == "build"


def test_beat_runs_once(compose: dict[str, Any]) -> None:
    beat = compose["services"]["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) <= 1
    assert beat.get("scale", 1) <= 1
    assert "--beat" not in _command(compose["services"]["worker"]), "the workers would be schedulers too"


def test_only_the_api_is_published_and_only_on_loopback(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if name != "api":
            assert not service.get("ports"), f"{name} publishes {service['ports']}"
    published = _published(services["api"])
    assert published
    assert all(address == "127.0.0.1" for address, _ in published), published


def test_api_healthcheck_asks_a_real_route_on_the_served_port(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    api = compose["services"]["api"]
    check = " ".join(api["healthcheck"]["test"])
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/-]*)", check)
    assert match, check
    port, route = match.groups()
    command = _command(api)
    assert command[command.index("--port") + 1] == port
    assert all(str(entry).endswith(f":{port}") for entry in api["ports"]), api["ports"]
    # In a child process: building the app reads the settings once and for all, which must not
    # happen inside this test session.
    list_paths = "import json, api.app; print(json.dumps(list(api.app.create_app().openapi()['paths'])))"
    listed = subprocess.run(
        [sys.executable, "-c", list_paths],
        cwd=tmp_path,
        env=_clean_env(PYTHONPATH=str(REPO), PROVISIONER_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert route in json.loads(listed.stdout)


# --- The Dockerfile ---------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    instructions = []
    for line in logical:
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _exec_form(arguments: str) -> list[str]:
    words = json.loads(arguments)
    assert isinstance(words, list), "use the exec form so signals reach the process"
    return [str(word) for word in words]


def test_dockerfile_runs_a_real_command() -> None:
    instructions = _instructions()
    entrypoint = [_exec_form(args) for keyword, args in instructions if keyword == "ENTRYPOINT"]
    cmd = [_exec_form(args) for keyword, args in instructions if keyword == "CMD"]
    assert cmd or entrypoint
    # Only the last of each counts.
    _assert_real_command([*(entrypoint[-1] if entrypoint else []), *(cmd[-1] if cmd else [])])


def test_dockerfile_image_is_unprivileged_and_carries_no_secrets() -> None:
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users
    assert users[-1] == "provisioner"
    installs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "openssh-client" in installs
    for keyword, args in instructions:
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"SECRET|PASSWORD|TOKEN", args, re.IGNORECASE), f"{keyword} {args}"


def test_dockerfile_copies_only_what_exists() -> None:
    """The image cannot be built here, so at least every COPY source must be in the build context."""
    copies = [args for keyword, args in _instructions() if keyword == "COPY"]
    assert copies
    for args in copies:
        words = [word for word in shlex.split(args) if not word.startswith("--")]
        for source in words[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the build context"
