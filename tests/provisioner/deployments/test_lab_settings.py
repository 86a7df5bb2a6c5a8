"""Templates get the lab's own settings: the SMTP account the lab stored, else the environment's."""

from __future__ import annotations

from pathlib import Path

import yaml

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.deployments.plan import build_run_spec
from provisioner.instances.credentials import store_secrets
from provisioner.jobs.states import JobKind
from provisioner.mail_config import configure_mail
from tests.support import factories

DISCOURSE = factories.CATALOG.get("discourse")


def _smtp_env(settings: Settings, db_url: str, *, stored: bool) -> dict[str, object]:
    with session_factory(db_url)() as session:
        if stored:
            configure_mail(
                session,
                settings,
                host="mail.lab.example",
                port=465,
                starttls=False,
                username="lab",
                password="stored-secret",
                from_address="forum@lab.example",
            )
        instance = factories.homepage(session, factories.tenant(session))
        instance.template, instance.version = "discourse", DISCOURSE.default_version
        instance.parameters = {"admin_email": "vorstand@verein.example", "language": "de"}
        instance.server = factories.server(session, memory_mb=4096)
        store_secrets(settings, instance, DISCOURSE)
        spec = build_run_spec(settings, factories.CATALOG, instance, JobKind.DEPLOY)
    env = yaml.safe_load(spec.files["app.yml"])["env"]
    assert isinstance(env, dict)
    return {k: v for k, v in env.items() if k.startswith(("DISCOURSE_SMTP", "DISCOURSE_NOTIFICATION"))}


def test_a_deploy_renders_the_smtp_account_the_lab_stored_over_the_environments(
    db_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key; the run is only planned here")
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, ssh_key_path=key, smtp_host="env.example", smtp_port=25
    )
    assert _smtp_env(settings, db_url, stored=False) == {
        "DISCOURSE_SMTP_ADDRESS": "env.example",
        "DISCOURSE_SMTP_PORT": 25,
        "DISCOURSE_SMTP_ENABLE_START_TLS": False,
        "DISCOURSE_NOTIFICATION_EMAIL": "provisioner@localhost",
    }
    assert _smtp_env(settings, db_url, stored=True) == {
        "DISCOURSE_SMTP_ADDRESS": "mail.lab.example",
        "DISCOURSE_SMTP_PORT": 465,
        "DISCOURSE_SMTP_ENABLE_START_TLS": False,
        "DISCOURSE_SMTP_USER_NAME": "lab",
        "DISCOURSE_SMTP_PASSWORD": "stored-secret",
        "DISCOURSE_NOTIFICATION_EMAIL": "forum@lab.example",
    }
