"""Settings, read once from the environment (prefix ``PROVISIONER_``) or a ``.env`` file."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

import pyrage
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pyrage import x25519

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused outside development


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


def _default_data_dir() -> Path:
    return Path.cwd() / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVISIONER_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(default_factory=_default_data_dir)
    # Empty means "embedded": SQLite and the SQL broker transport inside data_dir.
    database_url: str = ""
    broker_url: str = ""
    secret_key: str = DEVELOPMENT_SECRET
    ssh_key_path: Path | None = None
    # Registry host (and optional path) that replaces the registry of every template image reference.
    image_registry: str | None = None
    templates_dir: Path | None = None
    playbooks_dir: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str = ""
    # How long a job may run before it is stopped; templates may ask for more.
    job_timeout_seconds: int = 1800
    # A job that printed nothing for this long is stopped as hung.
    idle_timeout_seconds: int = 600
    # A queued job whose broker message got lost is sent again after this long.
    redispatch_after_seconds: int = 60
    # A running job whose worker sent no heartbeat for this long is failed as "worker lost".
    worker_lost_after_seconds: int = 60
    ssh_connect_timeout_seconds: int = 10
    # Runs go through Mitogen for Ansible (the `mitogen` extra) instead of one Python per task on the
    # server; see benchmarks/results.md for what it saves here.
    ansible_mitogen: bool = False
    # Instances are reached at https://<subdomain>.<base domain>; a server may name its own domain.
    # "localhost" works without DNS: browsers and most resolvers send *.localhost to this machine.
    base_domain: str = Field(default="localhost", pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
    # acme: public certificates (production); internal: the proxy's own CA; off: plain HTTP.
    tls_mode: Literal["acme", "internal", "off"] = "internal"
    acme_email: str | None = None
    # The reverse proxy image each server runs (built from Debian's caddy, see service_templates/_images).
    proxy_image: str = "provisioner/proxy:2.6"
    # Outgoing mail (invitations, password resets, alerts); no host means mail is not sent.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "provisioner@localhost"
    smtp_timeout_seconds: float = 10.0
    # Backups (restic): what each instance keeps after a backup, the free disk space a backup or
    # restore needs on the server before it starts, and how old a restore drill may get.
    backup_keep_daily: int = Field(default=7, ge=0)
    backup_keep_weekly: int = Field(default=4, ge=0)
    backup_keep_monthly: int = Field(default=6, ge=0)
    backup_min_free_mb: int = Field(default=1024, ge=0)
    # How often the keep rules are applied: by the control plane on REST targets (servers cannot delete
    # there), elsewhere by the server after a backup, for each instance.
    backup_prune_interval_seconds: float = Field(default=86400.0, gt=0)
    drill_max_age_days: int = Field(default=30, ge=1)
    # age recipients (age1..., comma-separated) of the lab's offline recovery key: each repository's
    # password is also written beside it on the backup target, encrypted to them, so the backups open
    # without the control plane (docs/backups.md). Empty: no such copy, and a warning wherever it matters.
    backup_recovery_recipients: str = ""
    # Exports (an association takes its data with it): how long an archive stays downloadable, and the
    # free space the control plane keeps beside one being made. Archives live in data_dir/exports
    # unless exports_dir says otherwise.
    export_keep_hours: int = Field(default=72, ge=1)
    export_min_free_mb: int = Field(default=1024, ge=0)
    exports_dir: Path | None = None
    # Offboarding (docs/offboarding.md): how long an association's own request waits before anything is
    # deleted (it may be canceled meanwhile; an operator's starts at once), and how long its backups
    # are kept after its services are gone (0: deleted with them).
    offboarding_wait_hours: int = Field(default=72, ge=0)
    offboarding_backup_retention_days: int = Field(default=30, ge=0)
    # Monitoring: schedules, health sweeps, server metrics, alerts (see docs/monitoring.md).
    # The lab's time zone: cron expressions of schedules are read in it.
    timezone: str = "UTC"
    health_sweep_seconds: float = 60.0
    health_concurrency: int = Field(default=100, ge=1)
    health_timeout_seconds: float = 5.0
    metrics_interval_seconds: float = 300.0
    # An instance unhealthy for this long raises an alert; 0 alerts at the first failed sweep.
    alert_unhealthy_after_minutes: float = 5.0
    alert_disk_percent: int = Field(default=90, ge=1, le=100)
    # Comma-separated addresses of the operators, who receive every alert.
    alert_operator_emails: str = ""
    # Notices to one recipient closer together than this go out as one digest.
    alert_digest_seconds: float = 120.0
    # Optional: every notice is also POSTed there as JSON, signed with HMAC-SHA256 of the secret.
    alert_webhook_url: str = ""
    alert_webhook_secret: str = ""
    # Accounts: portal sessions end after this long without a request (and after 7 days in any case);
    # invitations mailed to people are valid this long (password-reset links for one hour).
    session_idle_minutes: int = Field(default=480, ge=1)
    invitation_ttl_hours: int = Field(default=72, ge=1)
    # Optional login through the lab's OpenID Connect provider (e.g. Keycloak); an issuer turns it on.
    # It only maps a verified e-mail address to an existing account: nobody signs up this way.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # Secrets at rest and quotas. The key file (read at start) replaces secret_key and must live outside
    # the data folder, whose backups would otherwise carry the key beside what it protects. The previous
    # key still decrypts during a rotation (see ``provisioner keys rotate``).
    secret_key_file: Path | None = None
    secret_key_previous: str | None = None
    # Where ``provisioner up`` keeps the key it generates when none is set (outside the data folder):
    # by default $XDG_CONFIG_HOME/provisioner/secret.key, mode 0600. Turned off, a throwaway install
    # (a test bed) stays on the published development key, with a warning at every start.
    generated_key_file: Path | None = None
    generate_secret_key: bool = True
    quota_instances: int = Field(default=10, ge=0)
    quota_memory_mb: int = Field(default=8192, ge=0)
    quota_disk_gb: int = Field(default=100, ge=0)
    # Live event streams one caller (a token, a person) may hold open at a time in one API process.
    streams_per_caller: int = Field(default=4, ge=1)
    # Addresses or networks (comma-separated) of the reverse proxies in front of the API: only a
    # connection from one of them may name the client's address (X-Forwarded-For, X-Forwarded-Proto).
    # Anyone else's headers are ignored, so a client cannot pick the address that the login limit and
    # the audit log see.
    trusted_proxies: str = "127.0.0.1"
    # text: uvicorn's and Celery's own console lines; json: one JSON object per line, with the request id
    # on every line of the API and the job id on every line of a job in the worker.
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _read_key_file(self) -> Self:
        if self.secret_key_file is not None:
            self.secret_key = read_key_file(self.secret_key_file, forbidden=self.backed_up_folders())
        elif self.uses_published_key and self.may_generate_key and self.resolved_generated_key_file.exists():
            # The key ``provisioner up`` generated on its first start, for every command of this install.
            self.secret_key = read_key_file(
                self.resolved_generated_key_file, forbidden=self.backed_up_folders()
            )
        return self

    @model_validator(mode="after")
    def _check_recovery_recipients(self) -> Self:
        for recipient in self.recovery_recipients:
            try:
                x25519.Recipient.from_str(recipient)
            except pyrage.RecipientError as exc:
                raise ValueError(
                    f"PROVISIONER_BACKUP_RECOVERY_RECIPIENTS: {recipient[:12]}... is not an age recipient "
                    "(age1..., as age-keygen prints it)"
                ) from exc
        return self

    @property
    def recovery_recipients(self) -> list[str]:
        return [r.strip() for r in self.backup_recovery_recipients.replace("\n", ",").split(",") if r.strip()]

    @property
    def uses_published_key(self) -> bool:
        """The development key from the source code: anyone can decrypt what it encrypted."""
        return self.secret_key == DEVELOPMENT_SECRET

    @property
    def may_generate_key(self) -> bool:
        """The embedded mode on its defaults, where ``provisioner up`` makes a key of its own."""
        return self.generate_secret_key and self.is_embedded and self.environment is Environment.DEVELOPMENT

    @property
    def resolved_generated_key_file(self) -> Path:
        if self.generated_key_file is not None:
            return self.generated_key_file
        config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config_home) / "provisioner" / "secret.key"

    def backed_up_folders(self) -> list[Path]:
        folders = [self.data_dir]
        if self.resolved_database_url.startswith("sqlite:///"):
            folders.append(Path(self.resolved_database_url.removeprefix("sqlite:///")).parent)
        return folders

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Self:
        if self.environment is Environment.PRODUCTION and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(
                "PROVISIONER_SECRET_KEY is still the development default; "
                f"set it, for example to {secrets.token_urlsafe(32)!r}"
            )
        if len(self.secret_key) < 16:
            raise ValueError("PROVISIONER_SECRET_KEY must be at least 16 characters long")
        return self

    @property
    def resolved_exports_dir(self) -> Path:
        return self.exports_dir or self.data_dir / "exports"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'provisioner.sqlite'}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"

    @property
    def is_embedded(self) -> bool:
        return not self.database_url

    @property
    def resolved_templates_dir(self) -> Path:
        return self.templates_dir or shipped_dir("service_templates")

    @property
    def resolved_playbooks_dir(self) -> Path:
        return self.playbooks_dir or shipped_dir("playbooks")

    @property
    def resolved_ssh_key_path(self) -> Path:
        return self.ssh_key_path or self.data_dir / "ssh" / "id_ed25519"


def read_key_file(path: Path, *, forbidden: list[Path]) -> str:
    """The key in ``path``, refused when the file sits where backups of the data would take it along."""
    resolved = path.expanduser().resolve()
    for folder in forbidden:
        if resolved.is_relative_to(folder.expanduser().resolve()):
            raise ValueError(
                f"the secret key file {path} is inside {folder}, the data folder or the database's folder; "
                "backups of that folder would carry the key together with what it encrypts. "
                "Keep the key file elsewhere, for example in /etc/provisioner/"
            )
    try:
        key = resolved.read_text().strip()
    except OSError as exc:
        raise ValueError(f"the secret key file {path} cannot be read: {exc.strerror}") from exc
    if len(key) < 16:
        raise ValueError(f"the secret key in {path} must be at least 16 characters long")
    return key


def shipped_dir(name: str) -> Path:
    """Find a data folder: beside the package in a checkout, inside it when installed as a wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parent / name, package_dir / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name} folder was not found beside or inside the provisioner package")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
