"""Nextcloud's template against the facts of upstream's image (service_templates/nextcloud/UPSTREAM.md):
nothing mounted into the config folder, reverse-proxy and Redis settings through the image's own
variables, a database restore that starts empty and stops at the first error, and tenant values that
reach occ only as file content."""

from __future__ import annotations

from dataclasses import replace

import pytest

from provisioner.catalog.loader import load_template
from provisioner.catalog.parameters import validate_parameters
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files, deploy_variables
from provisioner.errors import InvalidInput

NEXTCLOUD = load_template(Settings().resolved_templates_dir / "nextcloud")
VERSION = NEXTCLOUD.default_version


def _rendered(params: dict[str, object]) -> tuple[dict[str, str], dict[str, object]]:
    settings = Settings()
    placement = sample_placement(NEXTCLOUD, instance_id="ins_q", tenant_id="ten_q", subdomain="cloud")
    placement = replace(placement, params=validate_parameters(NEXTCLOUD, params))
    files = deploy_files(settings, NEXTCLOUD, placement, SAMPLE_SERVER, VERSION)
    return files, deploy_variables(settings, NEXTCLOUD, placement, SAMPLE_SERVER, VERSION)


def _container(variables: dict[str, object], alias: str) -> dict[str, object]:
    return next(c for c in variables["containers"] if c["alias"] == alias)  # type: ignore[attr-defined]


def test_nothing_is_mounted_into_the_folders_the_image_fills_itself() -> None:
    # The image copies its config files into /var/www/html/config only while that folder is empty,
    # and www-data must be able to write config.php there (nextcloud/docker#957).
    _, variables = _rendered({})
    for alias in ("app", "cron"):
        for mount in _container(variables, alias)["mounts"]:  # type: ignore[attr-defined]
            assert mount["type"] == "volume" or not mount["target"].startswith("/var/www/html")


def test_reverse_proxy_redis_and_first_admin_come_as_the_images_variables() -> None:
    files, _ = _rendered({})
    env = dict(line.split("=", 1) for line in files["app.env"].splitlines())
    assert env["OVERWRITEPROTOCOL"] == "https"
    assert env["OVERWRITEHOST"] == env["NEXTCLOUD_TRUSTED_DOMAINS"] == "cloud.lab.example"
    assert env["OVERWRITECLIURL"] == "https://cloud.lab.example"
    assert env["APACHE_DISABLE_REWRITE_IP"] == "1"
    assert (env["REDIS_HOST"], env["POSTGRES_HOST"]) == ("redis", "db")
    assert env["NEXTCLOUD_ADMIN_USER"] == NEXTCLOUD.secrets["admin_password"].user == "admin"
    assert len(env["NEXTCLOUD_ADMIN_PASSWORD"]) == 20
    # The proxy's network is known only inside the running container: a start hook trusts it.
    assert "TRUSTED_PROXIES" not in env
    hook = files["hooks/before-starting/trusted-proxy.sh"]
    assert "config:system:set trusted_proxies 0" in hook
    assert "/proc/net/route" in hook
    assert next(f for f in NEXTCLOUD.files if f.target.endswith("trusted-proxy.sh")).mode == "0755"


def test_a_restore_loads_the_dump_into_an_empty_schema_and_stops_at_the_first_error() -> None:
    restore = NEXTCLOUD.hooks.restore
    assert restore is not None
    load = " ".join(restore.after[0].run)
    assert load.index("DROP SCHEMA public CASCADE") < load.index("-f /var/backups/nextcloud/nextcloud.sql")
    assert load.count("ON_ERROR_STOP=1") == 2
    assert "--single-transaction" in load
    # The raw database files are never copied back over a running database.
    assert "db" not in restore.volumes
    backup = NEXTCLOUD.hooks.backup
    assert backup is not None
    assert "--no-owner" in " ".join(backup.before[1].run)


def test_the_chosen_values_are_rendered_into_files_the_deploy_step_reads() -> None:
    files, variables = _rendered({"default_quota_gb": 250, "language": "en", "phone_region": "AT"})
    assert files["settings/default_quota"].strip() == "250 GB"
    assert (files["settings/language"].strip(), files["settings/phone_region"].strip()) == ("en", "AT")
    assert {
        "type": "bind",
        "source": "/srv/provisioner/instances/ins_q/settings",
        "target": "/etc/nextcloud-instance",
        "read_only": True,
    } in _container(variables, "app")["mounts"]  # type: ignore[operator]
    [step] = variables["after_steps"]  # type: ignore[misc]
    assert step["container"] == "prv-ins_q-app"
    # The values are read from the files at run time; the command line is the same for every tenant.
    assert "250" not in " ".join(step["argv"])
    assert "AT" not in " ".join(step["argv"])
    read = 'config:app:set files default_quota --value "$(cat /etc/nextcloud-instance/default_quota)"'
    assert read in step["argv"][-1]


def test_without_a_choice_new_accounts_get_the_default() -> None:
    files, _ = _rendered({})
    assert files["settings/default_quota"].strip() == "5 GB"


@pytest.mark.parametrize("value", [0, 1001, "5; rm -rf /", 2.5, True])
def test_anything_but_an_integer_from_1_to_1000_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(NEXTCLOUD, {"default_quota_gb": value})
    assert [e["field"] for e in caught.value.errors or []] == ["body.parameters.default_quota_gb"]


def test_a_shared_nextcloud_gives_each_space_a_group_folder_with_its_quota() -> None:
    assert NEXTCLOUD.sharing is not None
    shared = NEXTCLOUD.sharing.shared
    assert shared is not None
    # As the owner of config.php, the only user occ runs as; the facts come on standard input.
    run = ["su", "-s", "/bin/sh", "www-data", "-c", "php /etc/nextcloud-instance/space.php"]
    # An operator's change of the storage limit sets the Team folder's quota anew, by the same script.
    assert shared.commands.create == shared.commands.remove == shared.commands.change == run
    assert (shared.quota.members, shared.quota.storage) == (False, True)
    # Asked at the space's own address: 401 only where Nextcloud trusts the address.
    assert (shared.health.path, shared.health.expect_status) == ("/remote.php/dav/", 401)
    assert not shared.data.separable
    assert shared.data.restore is not None
    assert "anderer Vereine" in shared.data.restore.de


def test_the_space_script_calls_occ_without_a_shell_and_keeps_passwords_off_its_command_lines() -> None:
    files, variables = _rendered({})
    script = files["settings/space.php"]
    assert "proc_open(\n        ['php', '/var/www/html/occ', ...$args]" in script
    assert "shell_exec" not in script
    assert "exec(" not in script.replace("proc_open", "")
    # The space admin's password reaches occ in OC_PASS, the instance admin's through the container's
    # environment; neither is ever an argument.
    assert "'--password-from-env'" in script
    assert "['OC_PASS' => $space['admin_password']]" in script
    assert "getenv('NEXTCLOUD_ADMIN_PASSWORD')" in script
    for command in ("groupfolders:create", "groupfolders:group", "groupfolders:quota", "groupfolders:delete"):
        assert f"'{command}'" in script
    placed = next(f for f in variables["files"] if f["dest"] == "settings/space.php")  # type: ignore[attr-defined]
    assert (placed["mode"], placed["group"]) == ("0640", 33)
