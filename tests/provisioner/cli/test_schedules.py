"""``provisioner schedules`` as an operator runs it: a real process on a real (SQLite) database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provisioner.db import transaction
from provisioner.migrate import upgrade
from tests.support import factories
from tests.support.running import running_blog
from tests.support.stack import provisioner


def test_add_list_pause_and_remove(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'provisioner.sqlite'}"
    upgrade(url)
    with transaction(url) as session:
        site = running_blog(session, factories.tenant(session), factories.server(session)).id
    env = {"PROVISIONER_DATA_DIR": str(tmp_path), "PROVISIONER_TIMEZONE": "Europe/Berlin"}
    env |= {"PATH": "/usr/bin:/bin"}

    added = provisioner(
        "schedules", "add", "backup", "--template", "wordpress", "--cron", "30 2 * * *", env=env
    )
    schedule_id = re.match(r"(sch_\S+)", added)
    assert schedule_id is not None, added
    provisioner("schedules", "add", "drill", "--instance", site, "--interval", "604800", env=env)

    listed = provisioner("schedules", "list", env=env)
    assert "backup  template wordpress" in listed
    assert f"drill   instance {site}" in listed
    assert "every 604800s" in listed

    assert "(paused)" in provisioner("schedules", "change", schedule_id.group(1), "--paused", env=env)
    assert (
        provisioner("schedules", "remove", schedule_id.group(1), env=env).strip()
        == f"removed {schedule_id.group(1)}"
    )
    assert "template wordpress" not in provisioner("schedules", "list", env=env)


def test_bad_timing_is_refused_with_the_reason(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'provisioner.sqlite'}")
    env = {"PROVISIONER_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    with pytest.raises(RuntimeError, match="'nightly' is not a cron expression"):
        provisioner("schedules", "add", "backup", "--template", "wordpress", "--cron", "nightly", env=env)
