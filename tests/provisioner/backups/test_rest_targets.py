"""A REST target for real: Debian's rclone serving restic's REST protocol as a lab runs it (see
tests/support/rest_server.py), restic on this machine with exactly the variables a server gets for a
run. What only a real server adds (the playbooks over SSH) is in tests/playbooks/test_backup_playbooks.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from provisioner.backups.prune import prune_rest_targets
from provisioner.backups.repository import repository_for, restic_variables
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Server
from tests.support import factories
from tests.support.db import migrated
from tests.support.rest_server import RestServer, add_rest_target, rest_server, tenant_password
from tests.support.rest_server import run_restic as restic

V2 = {"Accept": "application/vnd.x.restic.rest.v2"}


@dataclass(frozen=True)
class Lab:
    settings: Settings
    rest: RestServer
    tenants: tuple[str, str]
    variables: tuple[dict[str, Any], dict[str, Any]]  # what a server of each tenant gets for a run


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    with rest_server(tmp_path / "store") as rest, migrated("sqlite", tmp_path) as url:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            backup_keep_daily=1,
            backup_keep_weekly=0,
            backup_keep_monthly=0,
        )
        with transaction(url) as session:
            add_rest_target(session, settings, rest)
            a, b = factories.tenant(session, "verein-a").id, factories.tenant(session, "verein-b").id
            server = Server(root_dir=str(tmp_path / "server"))
            mine = restic_variables(settings, repository_for(session, settings, tenant_id=a), server)
            theirs = restic_variables(settings, repository_for(session, settings, tenant_id=b), server)
        for variables, host in ((mine, "ins_a"), (theirs, "ins_b")):
            restic(variables, "init")
            restic(variables, "backup", "--quiet", "--host", host, "--", "/etc/hostname")
        yield Lab(settings, rest, (a, b), (mine, theirs))


def snapshots(variables: dict[str, Any]) -> list[str]:
    return [s["id"] for s in json.loads(restic(variables, "snapshots", "--json").stdout)]


def test_a_tenants_credential_reaches_neither_another_repository_nor_deletes_its_own_history(
    lab: Lab, tmp_path: Path
) -> None:
    restored = tmp_path / "restored"
    a, b = lab.tenants
    mine, theirs = lab.variables
    snapshot = snapshots(mine)[0]
    refused = [
        ("GET", f"/{b}/snapshots/"), ("GET", f"/{b}/config"), ("GET", f"/{b}/keys/"),
        ("DELETE", f"/{b}/config"), ("POST", f"/{b}/?create=true"), ("GET", "/"),
        ("DELETE", f"/{a}/snapshots/{snapshot}"), ("POST", f"/{a}/snapshots/{snapshot}"),
        ("DELETE", f"/{a}/config"),
    ]  # fmt: skip
    for method, path in refused:
        answer = httpx.request(
            method, lab.rest.url + path, auth=(a, tenant_password(mine)), headers=V2, content=b"{}"
        )
        assert answer.status_code == 403, (method, path, answer.status_code)
    # Through restic: another tenant's repository does not open; one's own snapshot is still there
    # (restic forget would send the DELETE refused above, and retry it for 40 s).
    url = mine["env"]["RESTIC_REPOSITORY"]
    elsewhere = mine | {"env": mine["env"] | {"RESTIC_REPOSITORY": url.replace(f"/{a}/", f"/{b}/")}}
    assert restic(elsewhere, "snapshots", check=False).returncode != 0
    assert snapshots(mine) == [snapshot]
    assert len(snapshots(theirs)) == 1
    # What it is for still works: restoring the association's own snapshot.
    restic(mine, "restore", "--target", str(restored), "--", snapshot)
    assert (restored / "etc" / "hostname").read_bytes() == Path("/etc/hostname").read_bytes()
    # A's credential is no key to the control plane's listener either.
    answer = httpx.get(f"{lab.rest.admin_url}/{b}/snapshots/", auth=(a, tenant_password(mine)), headers=V2)
    assert answer.status_code == 401


def test_the_control_plane_prunes_each_instances_and_spaces_snapshots_by_the_keep_rules(lab: Lab) -> None:
    mine, theirs = lab.variables
    first = snapshots(mine)[0]
    restic(mine, "backup", "--quiet", "--host", "ins_a", "--", "/etc/hostname")
    restic(mine, "backup", "--quiet", "--host", "ins_a2", "--", "/etc/hostname")  # another instance of A
    for _ in range(2):  # A's space in a shared instance, backed up alone (its id is restic's host)
        restic(mine, "backup", "--quiet", "--host", "spc_a", "--", "/etc/hostname")
    report = prune_rest_targets(lab.settings)
    assert sorted(report.pruned) == sorted(lab.tenants)
    assert report.failed == {}
    left = json.loads(restic(mine, "snapshots", "--json").stdout)
    # One a day per instance and per space (keep-daily 1): ins_a's newer one, ins_a2's, spc_a's newer.
    assert sorted(s["hostname"] for s in left) == ["ins_a", "ins_a2", "spc_a"]
    assert first not in [s["id"] for s in left]
    assert len(snapshots(theirs)) == 1


def test_a_failed_pruning_says_why_without_a_password_and_the_others_go_on(lab: Lab) -> None:
    a, b = lab.tenants
    lab.rest.folder.joinpath(b, "config").unlink()  # B's repository no longer opens
    report = prune_rest_targets(lab.settings)
    assert report.pruned == [a]
    assert set(report.failed) == {b}
    assert lab.rest.admin_password not in report.failed[b]
    assert report.failed[b].startswith("restic forget --prune failed: ")
