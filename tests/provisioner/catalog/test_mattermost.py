"""What a Mattermost deploy places on a server, read from the rendered files (UPSTREAM.md says why)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings
from provisioner.crypto import encrypt
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files, deploy_variables
from provisioner.models import Space
from provisioner.spaces.runs import space_facts
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


def test_a_shared_mattermost_gives_each_space_a_team_and_says_a_team_cannot_be_restored_alone() -> None:
    assert MATTERMOST.sharing is not None
    assert MATTERMOST.sharing.modes == ["dedicated", "shared"]
    shared = MATTERMOST.sharing.shared
    assert shared is not None
    assert shared.commands.container == "app"
    assert shared.commands.create == shared.commands.remove == ["sh", "/etc/provisioner/space.sh"]
    # One limit on members for every team, none on storage: nothing is enforced per space.
    assert (shared.quota.members, shared.quota.storage) == (False, False)
    assert not shared.data.separable
    assert shared.data.restore is not None
    assert "anderer Vereine" in shared.data.restore.de
    assert "other associations' teams" in shared.data.restore.en


def test_a_shared_mattermost_refuses_the_team_names_upstream_reserves() -> None:
    """server/public/model/team.go: IsReservedTeamName matches reservedName (utils.go) as prefixes,
    IsValidTeamName wants two characters at least."""
    assert MATTERMOST.sharing is not None
    assert MATTERMOST.sharing.shared is not None
    names = MATTERMOST.sharing.shared.names
    assert names.refusal("playbooks-verein") == "a name not beginning with 'playbooks'"
    assert names.refusal("admin") == "a name not beginning with 'admin'"
    assert names.refusal("helpdesk-verein-a") == "a name not beginning with 'help'"
    assert names.refusal("x") == "a name of at least 2 characters"
    for accepted in ("chat-verein-a", "verein-api", "ab", "po"):
        assert names.refusal(accepted) is None


def _space_facts(action: str) -> str:
    settings = Settings(secret_key="k" * 40)
    space = Space(
        id="spc_a",
        name="chat",
        subdomain="chat-verein-a",
        domain="lab.example",
        url="https://chat-verein-a.lab.example/",
        admin_user="admin-chat-verein-a",
        encrypted_admin_password=encrypt(settings, "Pw0rd0fTheSpace"),
    )
    return space_facts(settings, space, action)  # type: ignore[arg-type]


def _run_space_script(tmp_path: Path, action: str, *, known: bool) -> list[str]:
    """The rendered script run by sh with stand-ins for mmctl and curl that write down what they are
    asked; ``known``: whether mmctl finds the space's team and account already."""
    script = _files()["admin/space.sh"]
    tmp_path.mkdir(exist_ok=True)
    log = tmp_path / "calls"
    (tmp_path / "admin_password").write_text("instance-admin-pw")
    fake_mmctl = tmp_path / "mmctl"
    fake_mmctl.write_text(
        f'#!/bin/sh\necho "mmctl $*" >> {log}\n'
        f'case "$*" in *"team list"*) {"echo chat-verein-a" if known else "true"};;\n'
        f'*"user search"*) {"exit 0" if known else "exit 1"};; esac\n'
    )
    fake_curl = tmp_path / "curl"
    fake_curl.write_text(
        f'#!/bin/sh\necho "curl $*" >> {log}\ncase "$*" in\n'
        '*users/login*) cat >> /dev/null; printf "HTTP/1.1 200 OK\\r\\nToken: tok123\\r\\n\\r\\n";;\n'
        '*teams/name/*) echo \'{"id": "team1", "name": "chat-verein-a"}\';;\n'
        '*users/username/*) echo \'{"id": "user1", "username": "admin-chat-verein-a"}\';;\nesac\n'
    )
    for fake in (fake_mmctl, fake_curl):
        fake.chmod(0o755)
    runnable = script.replace("/mattermost/bin/mmctl", str(fake_mmctl)).replace(
        "/etc/provisioner/admin_password", str(tmp_path / "admin_password")
    )
    done = subprocess.run(
        ["sh", "-c", runnable],
        input=_space_facts(action),
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines() if log.exists() else []


def test_the_space_script_makes_a_private_team_with_its_own_admin_as_team_admin(tmp_path: Path) -> None:
    calls = _run_space_script(tmp_path, "create", known=False)
    mmctl = [call for call in calls if call.startswith("mmctl")]
    assert mmctl == [
        "mmctl --local user search admin-chat-verein-a",
        "mmctl --local user create --username admin-chat-verein-a --email "
        "admin-chat-verein-a@chat-verein-a.lab.example --password Pw0rd0fTheSpace --email-verified "
        "--disable-welcome-email",
        "mmctl --local team list",
        "mmctl --local team create --name chat-verein-a --display-name chat --private",
        "mmctl --local team users add chat-verein-a admin-chat-verein-a",
    ]
    curl = [call for call in calls if call.startswith("curl")]
    # The instance admin's password goes on standard input, never on a command line.
    assert not any("instance-admin-pw" in call for call in calls)
    assert "Authorization: Bearer tok123" in curl[1]
    roles = next(call for call in curl if "-X PUT" in call)
    assert roles.endswith("/api/v4/teams/team1/members/user1/roles")
    assert '{"roles":"team_user team_admin"}' in roles
    assert curl[-1].endswith("/api/v4/users/logout")


def test_the_space_script_keeps_what_exists_and_removes_the_team_and_its_admin(tmp_path: Path) -> None:
    again = _run_space_script(tmp_path / "again", "create", known=True)
    assert not any("user create" in call or "team create" in call for call in again)
    assert "mmctl --local team users add chat-verein-a admin-chat-verein-a" in again
    assert _run_space_script(tmp_path / "remove", "remove", known=True) == [
        "mmctl --local team list",
        "mmctl --local team delete chat-verein-a --confirm",
        "mmctl --local user search admin-chat-verein-a",
        "mmctl --local user delete admin-chat-verein-a --confirm",
    ]
    # A space that is gone already is not missed.
    assert _run_space_script(tmp_path / "gone", "remove", known=False) == [
        "mmctl --local team list",
        "mmctl --local user search admin-chat-verein-a",
    ]
