"""What a HedgeDoc deploy places on a server, read from the rendered files (UPSTREAM.md says why)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files
from tests.support import factories

HEDGEDOC = factories.CATALOG.get("hedgedoc")


def _env(params: dict[str, Any] | None = None) -> dict[str, str]:
    placement = sample_placement(HEDGEDOC, instance_id="ins_h", tenant_id="ten_h", subdomain="notes")
    if params is not None:
        placement = replace(placement, params=validate_parameters(HEDGEDOC, params))
    files = deploy_files(Settings(), HEDGEDOC, placement, SAMPLE_SERVER, HEDGEDOC.default_version)
    return dict(line.split("=", 1) for line in files["app.env"].splitlines())


def test_links_are_https_on_the_instances_name_without_a_port() -> None:
    env = _env()
    assert (env["CMD_DOMAIN"], env["CMD_PROTOCOL_USESSL"], env["CMD_URL_ADDPORT"]) == (
        "notes.lab.example",
        "true",
        "false",
    )
    assert env["CMD_IMAGE_UPLOAD_TYPE"] == "filesystem"
    assert env["CMD_ENABLE_STATS_API"] == "false"


def test_email_sign_in_on_registration_and_anonymous_notes_only_when_asked() -> None:
    closed = _env()
    assert (closed["CMD_EMAIL"], closed["CMD_ALLOW_EMAIL_REGISTER"], closed["CMD_ALLOW_ANONYMOUS"]) == (
        "true",
        "false",
        "false",
    )
    opened = _env({"allow_registration": True, "allow_anonymous": True})
    assert (opened["CMD_ALLOW_EMAIL_REGISTER"], opened["CMD_ALLOW_ANONYMOUS"]) == ("true", "true")


def test_the_first_account_is_made_by_manage_users_and_health_means_ready() -> None:
    assert HEDGEDOC.hooks.deploy is not None
    assert HEDGEDOC.hooks.deploy.after[0].run == ["sh", "/etc/provisioner/admin.sh", "add"]
    assert HEDGEDOC.secrets["admin_password"].user == "admin@hedgedoc.invalid"
    assert (HEDGEDOC.health.path, HEDGEDOC.health.expect_json) == ("/_health", {"ready": True})
    assert HEDGEDOC.default_version == "1.11"
    assert HEDGEDOC.update_targets("1.10") == ["1.11"]
