"""Services that send mail get the lab's SMTP account through ``mail.*`` in their files: the account the
operator stored (``provisioner mail configure``) before the environment's, in files never logged."""

from __future__ import annotations

from pathlib import Path

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import build_run_spec, deploy_files, deploy_variables
from provisioner.instances.credentials import store_secrets
from provisioner.jobs.states import JobKind
from provisioner.mail_config import configure_mail
from tests.support import factories

NEXTCLOUD = factories.CATALOG.get("nextcloud")


def _app_env(settings: Settings) -> list[str]:
    placement = sample_placement(NEXTCLOUD, instance_id="ins_x", tenant_id="ten_x", subdomain="cloud")
    files = deploy_files(settings, NEXTCLOUD, placement, SAMPLE_SERVER, NEXTCLOUD.default_version)
    return files["app.env"].splitlines()


def test_a_lab_without_smtp_gives_nextcloud_no_mail_settings() -> None:
    assert not [line for line in _app_env(Settings()) if line.startswith(("SMTP_", "MAIL_"))]


def test_nextcloud_gets_the_labs_smtp_account_in_upstreams_variables() -> None:
    settings = Settings(
        smtp_host="mail.lab.example",
        smtp_port=465,
        smtp_username="lab",
        smtp_password="s3cret",
        smtp_from="noreply@lab.example",
    )
    lines = _app_env(settings)
    assert {
        "SMTP_HOST=mail.lab.example",
        "SMTP_PORT=465",
        "SMTP_SECURE=ssl",
        "SMTP_NAME=lab",
        "SMTP_PASSWORD=s3cret",
        "MAIL_FROM_ADDRESS=noreply",
        "MAIL_DOMAIN=lab.example",
    } <= set(lines)
    starttls = _app_env(settings.model_copy(update={"smtp_port": 587, "smtp_starttls": True}))
    assert "SMTP_SECURE=tls" in starttls


def test_a_file_using_the_mail_account_is_copied_without_logging() -> None:
    placement = sample_placement(NEXTCLOUD, instance_id="ins_x", tenant_id="ten_x", subdomain="cloud")
    variables = deploy_variables(Settings(), NEXTCLOUD, placement, SAMPLE_SERVER, NEXTCLOUD.default_version)
    assert next(f for f in variables["files"] if f["dest"] == "app.env")["sensitive"]


def test_the_run_uses_the_account_the_operator_stored(db_url: str, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key; the run is only planned here")
    settings = Settings(data_dir=tmp_path, database_url=db_url, ssh_key_path=key, smtp_host="env.example")
    with session_factory(db_url)() as session:
        configure_mail(
            session,
            settings,
            host="smtp.lab.example",
            port=587,
            starttls=True,
            username="lab",
            password="stored-secret",
            from_address="dienste@lab.example",
        )
        instance = factories.homepage(session, factories.tenant(session))
        instance.template = "nextcloud"
        instance.version = NEXTCLOUD.default_version
        instance.parameters = {"language": "de", "phone_region": "DE", "default_quota_gb": 5}
        instance.server = factories.server(session)
        store_secrets(settings, instance, NEXTCLOUD)
        spec = build_run_spec(settings, factories.CATALOG, instance, JobKind.DEPLOY)
    lines = spec.files["app.env"].splitlines()
    assert "SMTP_HOST=smtp.lab.example" in lines
    assert "SMTP_PASSWORD=stored-secret" in lines
    assert "MAIL_DOMAIN=lab.example" in lines
    assert "stored-secret" not in repr(spec.variables)
