"""The Discourse template's container definition and hooks say what discourse_docker and Discourse need
(each fact and its upstream file: service_templates/discourse/UPSTREAM.md)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from provisioner.catalog.loader import load_template
from provisioner.catalog.render import sensitive_targets
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files

DISCOURSE = load_template(Settings().resolved_templates_dir / "discourse")
PLACEMENT = sample_placement(DISCOURSE, instance_id="ins_d", tenant_id="ten_d", subdomain="forum")
LAB_MAIL = Settings(
    smtp_host="mail.lab.example",
    smtp_port=587,
    smtp_starttls=True,
    smtp_username="forum@lab.example",
    smtp_password="p#ss \"w'ord",
    smtp_from="noreply@lab.example",
)


def _files(settings: Settings = LAB_MAIL, version: str = "2026.7") -> dict[str, str]:
    return deploy_files(settings, DISCOURSE, PLACEMENT, SAMPLE_SERVER, version)


def _definition(settings: Settings = LAB_MAIL, version: str = "2026.7") -> dict[str, Any]:
    parsed = yaml.safe_load(_files(settings, version)["app.yml"])
    assert isinstance(parsed, dict)
    return parsed


@pytest.mark.parametrize("version", ["2026.6", "2026.7"])
def test_each_catalog_version_builds_its_release_branch(version: str) -> None:
    assert _definition(version=version)["params"]["version"] == f"release/{version}"


def test_the_launcher_is_a_commit_of_discourse_docker_and_updates_only_go_forward() -> None:
    assert DISCOURSE.launcher is not None
    assert DISCOURSE.launcher.ref == "e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd"
    assert list(DISCOURSE.versions) == ["2026.6", "2026.7"]
    assert DISCOURSE.updates.path == "forward"
    # The base image the launcher at that commit names (templates/web.template.yml).
    assert {v.images["app"] for v in DISCOURSE.versions.values()} == {
        "docker.io/discourse/base:2.0.20260803-0122"
    }


def test_mail_goes_through_the_labs_smtp_account_with_its_password_intact() -> None:
    env = _definition()["env"]
    assert env["DISCOURSE_SMTP_ADDRESS"] == "mail.lab.example"
    assert env["DISCOURSE_SMTP_PORT"] == 587
    assert env["DISCOURSE_SMTP_ENABLE_START_TLS"] is True
    assert env["DISCOURSE_SMTP_USER_NAME"] == "forum@lab.example"
    assert env["DISCOURSE_SMTP_PASSWORD"] == "p#ss \"w'ord"
    assert env["DISCOURSE_NOTIFICATION_EMAIL"] == "noreply@lab.example"
    # The definition holds that password: placed without logging, readable by root only.
    assert "app.yml" in sensitive_targets(DISCOURSE)
    assert {f.target: f.mode for f in DISCOURSE.files}["app.yml"] == "0600"


def test_a_lab_relay_without_login_gets_no_user_name() -> None:
    relay = Settings(smtp_host="relay.lab.example", smtp_port=25, smtp_starttls=False)
    env = _definition(relay)["env"]
    assert (env["DISCOURSE_SMTP_ADDRESS"], env["DISCOURSE_SMTP_PORT"]) == ("relay.lab.example", 25)
    assert env["DISCOURSE_SMTP_ENABLE_START_TLS"] is False
    assert "DISCOURSE_SMTP_USER_NAME" not in env
    assert "DISCOURSE_SMTP_PASSWORD" not in env


def test_nginx_takes_the_visitors_address_from_the_proxys_header_only_from_docker_networks() -> None:
    definition = _definition()
    assert "templates/web.ratelimited.template.yml" in definition["templates"]
    [outlet] = [step["file"] for step in definition["run"] if "file" in step]
    assert outlet["path"].startswith("/etc/nginx/conf.d/outlets/server/")
    lines = outlet["contents"].splitlines()
    assert [line for line in lines if line.startswith("set_real_ip_from")] == [
        "set_real_ip_from 10.0.0.0/8;",
        "set_real_ip_from 172.16.0.0/12;",
        "set_real_ip_from 192.168.0.0/16;",
    ]
    # The last address is the one the proxy appended; earlier ones are whatever the client sent.
    assert "real_ip_header X-Forwarded-For;" in lines
    assert "real_ip_recursive off;" in lines


def test_the_container_keeps_its_data_on_the_instance_volumes_and_reads_the_admin_answers_read_only() -> None:
    volumes = [v["volume"] for v in _definition()["volumes"]]
    assert volumes == [
        {"host": "prv-ins_d-shared", "guest": "/shared"},
        {"host": "prv-ins_d-log", "guest": "/var/log"},
        {"host": "/srv/provisioner/instances/ins_d/admin", "guest": "/etc/provisioner:ro"},
    ]


def test_the_first_admin_answers_follow_rake_admin_create_and_the_portal_names_the_address() -> None:
    files = _files()
    email = PLACEMENT.params["admin_email"]
    password = PLACEMENT.secrets["admin_password"]
    # New account: e-mail, password twice, grant admin. Existing one: reset? yes, password twice, admin.
    assert files["admin/first-admin.create"].splitlines() == [email, password, password, "Y"]
    assert files["admin/first-admin.reset"].splitlines() == [email, "Y", password, password, "Y"]
    assert {"admin/first-admin.create", "admin/first-admin.reset"} <= sensitive_targets(DISCOURSE)
    secret = DISCOURSE.secrets["admin_password"]
    assert (secret.show, secret.user, secret.user_param) == (True, None, "admin_email")
    assert DISCOURSE.hooks.deploy is not None
    assert DISCOURSE.hooks.reset_credentials is not None
    assert [s.run for s in DISCOURSE.hooks.deploy.after] == [
        ["sh", "/etc/provisioner/first-admin.sh", "create"]
    ]
    assert [s.run for s in DISCOURSE.hooks.reset_credentials.after] == [
        ["sh", "/etc/provisioner/first-admin.sh", "reset"]
    ]


def test_a_restore_puts_the_volume_back_before_allowing_and_running_upstreams_restore() -> None:
    restore = DISCOURSE.hooks.restore
    assert restore is not None
    # Nothing before: allow_restore lives in the database, which the volume brings back.
    assert restore.before == []
    assert restore.volumes == ["shared"]
    steps = [s.run for s in restore.after]
    assert steps[0] == ["discourse", "enable_restore"]
    assert steps[1][:2] == ["sh", "-c"]
    assert steps[1][2].startswith("discourse restore ")
    assert "/shared/backups/default" in steps[1][2]
    assert steps[2] == ["discourse", "disable_restore"]
    backup = DISCOURSE.hooks.backup
    assert backup is not None
    assert [s.run for s in backup.before] == [["discourse", "backup"]]


def test_a_shown_password_names_its_account_by_a_required_parameter_only() -> None:
    document = DISCOURSE.model_dump(exclude={"folder"})
    document["secrets"] = {"admin_password": {"show": True, "user_param": "language"}}
    with pytest.raises(ValidationError, match="not a required parameter"):
        type(DISCOURSE).model_validate({**document, "folder": DISCOURSE.folder})
    document["secrets"] = {"admin_password": {"show": True, "user": "admin", "user_param": "admin_email"}}
    with pytest.raises(ValidationError, match="not both"):
        type(DISCOURSE).model_validate({**document, "folder": DISCOURSE.folder})
