"""What a service template folder declares. ``service_templates/README.md`` documents the format."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from provisioner.catalog.base import NAME_PATTERN, Localized, Strict
from provisioner.catalog.exports import Exports
from provisioner.catalog.sharing import Sharing

# repository:tag, repository:tag@sha256:digest (the tag kept for readers) or repository@sha256:digest;
# moving tags are refused below.
IMAGE_PATTERN = (
    r"^[a-z0-9][a-z0-9._/:-]*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$"
)
MOVING_TAGS = {"latest", "unstable", "nightly", "edge", "main", "master"}
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Version(Strict):
    images: dict[str, str]

    @field_validator("images")
    @classmethod
    def _pinned(cls, images: dict[str, str]) -> dict[str, str]:
        for key, reference in images.items():
            if not re.fullmatch(IMAGE_PATTERN, reference):
                raise ValueError(
                    f"image {key!r}: {reference!r} needs a tag, a digest (@sha256: and 64 hex digits) or both"
                )
            last = reference.split("@", 1)[0].rsplit("/", 1)[-1]
            tag = last.rsplit(":", 1)[1] if ":" in last else None
            if tag in MOVING_TAGS:
                raise ValueError(f"image {key!r}: tag {tag!r} moves; pin a release")
        return images


class Resources(Strict):
    cpu: float = Field(gt=0)
    memory_mb: int = Field(gt=0)
    disk_gb: int = Field(gt=0)


class Secret(Strict):
    """A value generated once per instance at approval, stored encrypted."""

    length: int = Field(default=32, ge=12, le=128)
    # Letters and digits only, so a secret is safe in SQL, shell, URLs and config files alike.
    charset: Literal["alnum", "hex"] = "alnum"
    # Shown to the association's admin once (an admin password); the rest stay inside the instance.
    show: bool = False
    # The account a shown password is for, so the admin is told which name to sign in with.
    user: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    # Or: the required parameter whose value is that account (Discourse signs its admin in by e-mail).
    user_param: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,40}$")


class HostPort(Strict):
    """A port published on the server's public address, allocated per instance (e.g. media over UDP)."""

    name: str = Field(pattern=NAME_PATTERN)
    protocol: Literal["tcp", "udp"]


class Container(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    image: str  # a key of the version's images
    # The HTTP port the server's proxy routes the instance's hostname to; exactly one container has it.
    port: int | None = Field(default=None, ge=1, le=65535)
    # Names of the template's host_ports this container listens on, with the same number inside.
    host_ports: list[str] = Field(default_factory=list)
    command: list[str] | None = None
    volumes: dict[str, str] = Field(default_factory=dict)  # volume name -> mount path
    # Rendered files or folders (relative to the instance folder) mounted read-only -> mount path.
    files: dict[str, str] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    # A rendered file (relative to the instance folder) with KEY=value lines: where secrets go.
    env_file: str | None = None
    memory_mb: int = Field(gt=0)
    cpu: float = Field(gt=0)

    @field_validator("environment")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not re.fullmatch(ENV_NAME, k)]
        if bad:
            raise ValueError(f"not environment variable names: {bad}")
        return value

    @field_validator("volumes", "files")
    @classmethod
    def _absolute_mounts(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [target for target in value.values() if not target.startswith("/")]
        if bad:
            raise ValueError(f"mount paths must be absolute: {bad}")
        return value


def _relative(value: str) -> str:
    if value.startswith("/") or ".." in Path(value).parts:
        raise ValueError("must be a relative path inside the instance folder")
    return value


class RenderedFile(Strict):
    source: str  # Jinja2 file inside the template folder
    target: str  # relative path under the instance dir on the server
    mode: str = Field(default="0644", pattern=r"^0[0-7]{3}$")
    # Owner group inside the containers that read it (e.g. 33, www-data), for files not world-readable.
    group: int | None = Field(default=None, ge=0)

    @field_validator("target")
    @classmethod
    def _inside(cls, value: str) -> str:
        return _relative(value)


class InternalProbe(Strict):
    """A component's own health endpoint, asked over the instance network by the server's proxy."""

    container: str
    port: int = Field(ge=1, le=65535)
    path: str = Field(pattern=r"^/")


class HealthCheck(Strict):
    path: str = Field(default="/", pattern=r"^/")
    expect_status: int = 200
    # Every key must have exactly this value in the JSON answer (e.g. Nextcloud's status.php).
    expect_json: dict[str, Any] = Field(default_factory=dict)
    # The answer body, stripped, must be exactly this (e.g. Discourse's "ok").
    expect_text: str | None = None
    internal: list[InternalProbe] = Field(default_factory=list)
    # How long a deploy waits for the first answer through the proxy: a first start that installs a
    # database schema (Nextcloud) or builds assets takes longer than a restart.
    start_seconds: int = Field(default=120, ge=10, le=7200)


class Step(Strict):
    """A command run inside one of the instance's containers (``docker exec``), as a list of words."""

    container: str
    run: list[str] = Field(min_length=1)
    # Backup only: the step writes into this volume of ``hooks.backup.optional``, and runs only where
    # the instance has it (with the volume, a redeploy brings the files the step runs).
    needs: str | None = None


class Check(Step):
    """A command whose output must match ``expect`` (a regular expression searched in it)."""

    expect: str = Field(min_length=1)

    @field_validator("expect")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class DatabaseRestore(Strict):
    """A database volume that a restore rebuilds from its dump, never from the copied database files.

    The files of a running database are not a consistent copy, and a dump replayed into a database that
    already holds tables mixes old and new rows. So the volume is emptied, the database container starts
    alone on it and sets up an empty database as on a first start, and the dump is loaded into that, the
    first error ending the restore.
    """

    container: str
    volume: str
    # Where the backup's steps wrote the dump, relative to the volume (e.g. backup.sql).
    dump: str
    # Succeeds once the freshly set-up database accepts connections; retried until then.
    ready: list[str] = Field(min_length=1)
    # Reads the dump on its standard input into the empty database; must stop at the first error.
    load: list[str] = Field(min_length=1)

    @field_validator("dump")
    @classmethod
    def _inside(cls, value: str) -> str:
        return _relative(value)

    @field_validator("load")
    @classmethod
    def _errors_are_fatal(cls, value: list[str]) -> list[str]:
        words = " ".join(value)
        # psql goes on after a failed statement unless told otherwise; mariadb/mysql stop unless forced.
        if "psql" in words and "ON_ERROR_STOP=1" not in words:
            raise ValueError("a psql load needs -v ON_ERROR_STOP=1, so the first error ends the restore")
        if re.search(r"(^|\s)(--force|-f)(\s|$)", words) and "psql" not in words:
            raise ValueError("a load must not go on after errors (--force)")
        return value


class Hook(Strict):
    before: list[Step] = Field(default_factory=list)
    # Volumes copied (backup) or put back (restore) between the steps.
    volumes: list[str] = Field(default_factory=list)
    # Backup only: volumes the template gained after instances were deployed with it. An instance
    # deployed before lacks them (and the files its steps that ``need`` them run) until it is deployed
    # again; its backups leave them out meanwhile, and its exports say that part is missing and why.
    optional: list[str] = Field(default_factory=list)
    # Restore only: database volumes rebuilt from their dumps (see DatabaseRestore).
    databases: list[DatabaseRestore] = Field(default_factory=list)
    after: list[Step] = Field(default_factory=list)
    # After a restore drill: proof that the data came back (a table the database answers with, say).
    check: list[Check] = Field(default_factory=list)


class Hooks(Strict):
    backup: Hook | None = None
    restore: Hook | None = None
    update: Hook | None = None
    # Run at the end of every deploy, once the service answers (e.g. create the first admin account once).
    deploy: Hook | None = None
    # Run after new values of the shown secrets were placed on the server: make them the valid ones.
    reset_credentials: Hook | None = None


class Updates(Strict):
    # "sequential": only to the next version in the listed order; "major": to any later version at
    # most one major number up (Nextcloud refuses to skip a major); "forward": to any later version.
    # Downgrades are never offered.
    path: Literal["sequential", "major", "forward"] = "forward"
    # How long an updated instance has to answer its health check before the update is rolled back.
    health_window_seconds: int = Field(default=120, ge=10, le=3600)


def major_of(version: str) -> int | None:
    """The leading number of a version ("29.0.10" -> 29), or None when it does not start with one."""
    found = re.match(r"^(\d+)", version)
    return int(found.group(1)) if found else None


class Launcher(Strict):
    """The upstream's own deploy tool, for services whose only supported route is not plain containers."""

    kind: Literal["discourse_docker"]
    # Cloned on the server; file:/// for a mirror already on it (servers without outside access).
    repository: str = Field(pattern=r"^(https://|file:///)")
    ref: str = Field(pattern=r"^[0-9a-f]{40}$")  # a commit, so a deploy is repeatable
    playbook: str  # Ansible tasks inside the template folder that deploy.yml runs in place of containers
    definition: str  # the rendered file (a target) the launcher reads

    @field_validator("playbook", "definition")
    @classmethod
    def _inside(cls, value: str) -> str:
        return _relative(value)


class Timeouts(Strict):
    job_seconds: int | None = Field(default=None, gt=0)
    idle_seconds: int | None = Field(default=None, gt=0)


class Template(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    title: Localized
    description: Localized
    # What to do first once the service runs (sign in, create accounts, ...), on its portal page.
    first_steps: Localized | None = None
    category: str
    icon: str
    default_version: str
    versions: dict[str, Version]
    resources: Resources
    parameters: dict[str, Any]
    secrets: dict[str, Secret] = Field(default_factory=dict)
    host_ports: list[HostPort] = Field(default_factory=list)
    containers: list[Container] = Field(min_length=1)
    launcher: Launcher | None = None
    files: list[RenderedFile] = Field(default_factory=list)
    health: HealthCheck
    hooks: Hooks = Field(default_factory=Hooks)
    updates: Updates = Field(default_factory=Updates)
    # Per job kind: how long a run may take, and how long it may stay silent.
    timeouts: dict[Literal["deploy", "update", "remove", "backup", "restore", "drill"], Timeouts] = Field(
        default_factory=dict
    )
    # The modes the service offers (dedicated, shared) and how its shared mode works.
    sharing: Sharing | None = None
    # How each part of the data is exported (catalog/exports.py); ``templates check`` requires it.
    exports: Exports | None = None
    folder: Path = Field(exclude=True)

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, Secret]) -> dict[str, Secret]:
        bad = [k for k in value if not re.fullmatch(r"^[a-z][a-z0-9_]{0,40}$", k)]
        if bad:
            raise ValueError(f"secret names are lower_snake_case: {bad}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        if self.default_version not in self.versions:
            raise ValueError(f"default_version {self.default_version!r} is not among the versions")
        if (
            self.parameters.get("type") != "object"
            or self.parameters.get("additionalProperties") is not False
        ):
            raise ValueError("parameters must be an object schema with additionalProperties: false")
        _check_containers(self)
        _check_update_order(self)
        _check_health_and_hooks(self)
        _check_secret_users(self)
        _check_sharing(self)
        if self.launcher is not None and self.launcher.definition not in {f.target for f in self.files}:
            raise ValueError(f"launcher.definition {self.launcher.definition!r} is not a rendered file")
        return self

    @property
    def published_container(self) -> Container:
        return next(c for c in self.containers if c.port is not None)

    @property
    def keeps_data(self) -> bool:
        """Whether there is anything to back up: a backup hook naming at least one volume."""
        return self.hooks.backup is not None and bool(self.hooks.backup.volumes)

    def update_targets(self, current: str) -> list[str]:
        """Versions an instance at ``current`` may move to, in the listed order; never backwards."""
        order = list(self.versions)
        later = order[order.index(current) + 1 :] if current in order else []
        if self.updates.path == "sequential":
            return later[:1]
        if self.updates.path == "major":
            ceiling = (major_of(current) or 0) + 1
            return [v for v in later if (major_of(v) or 0) <= ceiling]
        return later


def _check_containers(template: Template) -> None:
    names = [c.name for c in template.containers]
    if len(set(names)) != len(names):
        raise ValueError("container names must be unique")
    for version_name, version in template.versions.items():
        for container in template.containers:
            if container.image not in version.images:
                raise ValueError(f"version {version_name!r} has no image {container.image!r}")
    declared_ports = {p.name for p in template.host_ports}
    targets = {f.target for f in template.files}
    for container in template.containers:
        unknown = set(container.host_ports) - declared_ports
        if unknown:
            raise ValueError(f"container {container.name!r} uses undeclared host_ports {sorted(unknown)}")
        for rendered in [*([container.env_file] if container.env_file else []), *container.files]:
            if not any(t == rendered or t.startswith(rendered.rstrip("/") + "/") for t in targets):
                raise ValueError(f"container {container.name!r} mounts {rendered!r}, which no file renders")
    if len([c for c in template.containers if c.port is not None]) != 1:
        raise ValueError("exactly one container must have a port (the one the proxy routes to)")


def _check_update_order(template: Template) -> None:
    if template.updates.path != "major":
        return
    found = [major_of(v) for v in template.versions]
    majors = [m for m in found if m is not None]
    if len(majors) != len(found):
        raise ValueError("updates.path major needs versions that start with a number (like 29 or 29.0.10)")
    if majors != sorted(majors):
        raise ValueError("updates.path major needs the versions listed from oldest to newest major")


def _check_health_and_hooks(template: Template) -> None:
    names = {c.name for c in template.containers}
    for probe in template.health.internal:
        if probe.container not in names:
            raise ValueError(f"health.internal names unknown container {probe.container!r}")
    volumes = set(volume_names(template))
    for hook_name, hook in template.hooks:
        if hook is None:
            continue
        for step in [*hook.before, *hook.after, *hook.check]:
            if step.container not in names:
                raise ValueError(f"hooks.{hook_name} runs in unknown container {step.container!r}")
        if set(hook.volumes) - volumes:
            raise ValueError(f"hooks.{hook_name} names unknown volumes {sorted(set(hook.volumes) - volumes)}")
        if hook_name in {"deploy", "reset_credentials"} and (hook.before or hook.volumes):
            raise ValueError(f"hooks.{hook_name} has only 'after' steps")
        if hook_name != "restore" and hook.databases:
            raise ValueError(f"hooks.{hook_name} cannot rebuild databases; only hooks.restore does")
        if hook_name == "update" and hook.volumes:
            raise ValueError("hooks.update has only 'before' and 'after' steps")
        _check_optional(template, hook_name, hook)
    _check_databases(template)
    if template.hooks.reset_credentials and not any(s.show for s in template.secrets.values()):
        raise ValueError("hooks.reset_credentials needs a secret with show: true to reset")


def _check_optional(template: Template, hook_name: str, hook: Hook) -> None:
    needed = {s.needs for s in [*hook.before, *hook.after, *hook.check] if s.needs}
    if hook_name != "backup" and (hook.optional or needed):
        raise ValueError(f"hooks.{hook_name}: only hooks.backup has optional volumes and steps needing one")
    if unknown := sorted(set(hook.optional) - set(hook.volumes)):
        raise ValueError(f"hooks.backup.optional names {unknown}, which hooks.backup.volumes does not")
    if unknown := sorted(needed - set(hook.optional)):
        raise ValueError(f"hooks.backup: a step needs {unknown}, which hooks.backup.optional does not name")
    restore = template.hooks.restore
    # A restore puts back what every backup holds: a backup of an instance deployed before lacks these.
    brought_back = {*restore.volumes, *(d.volume for d in restore.databases)} if restore else set()
    if restored := sorted(brought_back & set(hook.optional)):
        raise ValueError(f"hooks.backup.optional: {restored} cannot be restored, not every backup has it")


def _check_databases(template: Template) -> None:
    restore, backup = template.hooks.restore, template.hooks.backup
    if restore is None or not restore.databases:
        return
    if template.launcher is not None:
        raise ValueError("hooks.restore.databases: the upstream launcher makes the containers, not us")
    mounts = {c.name: c.volumes for c in template.containers}
    backed_up = set(backup.volumes) if backup else set()
    for database in restore.databases:
        if database.volume not in mounts.get(database.container, {}):
            raise ValueError(
                f"hooks.restore.databases: {database.container!r} does not mount {database.volume!r}"
            )
        if database.volume in restore.volumes:
            raise ValueError(
                f"hooks.restore: {database.volume!r} is rebuilt from its dump; it cannot be copied back too"
            )
        if database.volume not in backed_up:
            raise ValueError(f"hooks.restore.databases: {database.volume!r} is not in hooks.backup.volumes")


def _check_secret_users(template: Template) -> None:
    required = set(template.parameters.get("required", []))
    for name, secret in template.secrets.items():
        if secret.user and secret.user_param:
            raise ValueError(f"secrets.{name} names its account by user or by user_param, not both")
        if secret.user_param and secret.user_param not in required:
            raise ValueError(f"secrets.{name}.user_param {secret.user_param!r} is not a required parameter")


def _check_sharing(template: Template) -> None:
    shared = template.sharing.shared if template.sharing else None
    if shared is None:
        return
    if shared.commands.container not in {c.name for c in template.containers}:
        raise ValueError(f"sharing.shared.commands runs in unknown container {shared.commands.container!r}")
    if template.launcher is not None:
        raise ValueError("sharing: a service deployed by its upstream launcher cannot be shared")
    links = shared.signed_links
    if links is not None and (links.secret not in template.secrets or template.secrets[links.secret].show):
        raise ValueError(
            f"sharing.shared.signed_links.secret {links.secret!r} is not one of the template's secrets "
            "kept from its users"
        )


def volume_names(template: Template) -> list[str]:
    return sorted({name for c in template.containers for name in c.volumes})


def is_valid_name(value: str) -> bool:
    return re.fullmatch(NAME_PATTERN, value) is not None
