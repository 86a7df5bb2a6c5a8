"""What a Mattermost deploy places on a server, read from the rendered files (UPSTREAM.md says why)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files, deploy_variables
from tests.support import factories

MATTERMOST = factories.CATALOG.get("mattermost")


def _files(params: dict[str, Any] | None = None) -> dict[str, str]:
    placement = sample_placement(MATTERMOST, instance_id="ins_m", tenant_id="ten_m", subdomain="chat")
    if params is not None:
        placement = replace(placement, params=validate_parameters(MATTERMOST, params))
    return deploy_files(Settings(), MATTERMOST, placement, SAMPLE_SERVER, MATTERMOST.default_version)


def _env(files: dict[str, str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in files["app.env"].splitlines())


def test_https_site_url_local_mode_and_only_the_proxys_client_address() -> None:
    env = _env(_files())
    assert env["MM_SERVICESETTINGS_SITEURL"] == "https://chat.lab.example"
    assert env["MM_SERVICESETTINGS_ENABLELOCALMODE"] == "true"
    assert env["MM_SERVICESETTINGS_TRUSTEDPROXYIPHEADER"] == "X-Forwarded-For"
    assert env["MM_FILESETTINGS_MAXFILESIZE"] == str(50 * 1024 * 1024)
    assert env["MM_SQLSETTINGS_DATASOURCE"].startswith("postgres://mattermost:")


def test_sign_up_only_by_invitation_unless_the_association_asks() -> None:
    assert _env(_files())["MM_TEAMSETTINGS_ENABLEOPENSERVER"] == "false"
    assert _env(_files({"open_signup": True}))["MM_TEAMSETTINGS_ENABLEOPENSERVER"] == "true"


def test_the_first_admin_is_made_once_with_the_password_from_a_file() -> None:
    files = _files()
    script = files["admin/admin.sh"]
    assert "user search admin" in script
    assert "--system-admin" in script
    assert files["admin/admin_password"].strip() not in script
    assert MATTERMOST.hooks.deploy is not None
    assert MATTERMOST.hooks.deploy.after[0].run == ["sh", "/etc/provisioner/admin.sh", "create"]
    assert MATTERMOST.secrets["admin_password"].user == "admin"
    placement = sample_placement(MATTERMOST, instance_id="ins_m", tenant_id="ten_m", subdomain="chat")
    variables = deploy_variables(Settings(), MATTERMOST, placement, SAMPLE_SERVER, MATTERMOST.default_version)
    password_file = next(f for f in variables["files"] if f["dest"] == "admin/admin_password")
    # Readable by the image's user (gid 2000), who runs mmctl; never logged.
    assert (password_file["mode"], password_file["group"], password_file["sensitive"]) == ("0440", 2000, True)


def test_a_restore_loads_the_dump_into_an_empty_database_and_stops_at_the_first_error() -> None:
    script = _files()["hooks/db-restore.sh"]
    assert "CREATE DATABASE restoring TEMPLATE template0" in script
    assert "ON_ERROR_STOP=1" in script
    assert "--single-transaction" in script
    assert script.index("--single-transaction") < script.index("DROP DATABASE IF EXISTS mattermost")
    assert MATTERMOST.hooks.backup is not None
    # The live database files are never backed up: only the dump and the app's folders.
    assert "db" not in MATTERMOST.hooks.backup.volumes
    assert set(MATTERMOST.hooks.backup.volumes) == {"dump", "config", "data", "plugins", "client-plugins"}


def test_new_instances_get_the_supported_release_and_updates_go_one_step_at_a_time() -> None:
    assert MATTERMOST.default_version == "11.7"
    assert MATTERMOST.update_targets("9.11") == ["10.2"]
    assert MATTERMOST.update_targets("10.11") == ["11.7"]
    assert MATTERMOST.update_targets("11.7") == []
    assert MATTERMOST.resources.memory_mb >= 2048


def test_mail_goes_through_the_labs_smtp_account_when_it_has_one() -> None:
    assert not any(key.startswith("MM_EMAILSETTINGS_") for key in _env(_files()))
    placement = sample_placement(MATTERMOST, instance_id="ins_m", tenant_id="ten_m", subdomain="chat")
    lab = Settings(smtp_host="mail.lab.example", smtp_port=587, smtp_starttls=True, smtp_username="lab",
                   smtp_password="s3cret", smtp_from="noreply@lab.example")  # fmt: skip
    env = _env(deploy_files(lab, MATTERMOST, placement, SAMPLE_SERVER, MATTERMOST.default_version))
    assert {
        "MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS": "true",
        "MM_EMAILSETTINGS_SMTPSERVER": "mail.lab.example",
        "MM_EMAILSETTINGS_SMTPPORT": "587",
        "MM_EMAILSETTINGS_CONNECTIONSECURITY": "STARTTLS",
        "MM_EMAILSETTINGS_ENABLESMTPAUTH": "true",
        "MM_EMAILSETTINGS_SMTPUSERNAME": "lab",
        "MM_EMAILSETTINGS_SMTPPASSWORD": "s3cret",
        "MM_EMAILSETTINGS_FEEDBACKEMAIL": "noreply@lab.example",
    }.items() <= env.items()
