"""The REST target's htpasswd file: one line per tenant, written by several workers at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from provisioner.backups.htpasswd import ensure_user, entry


def test_users_added_at_once_are_all_kept_and_a_new_password_replaces_the_old(tmp_path: Path) -> None:
    path = tmp_path / "rest" / "htpasswd"
    users = [f"ten_{n:02d}" for n in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda user: ensure_user(path, user=user, password=f"pw-{user}"), users))
    assert sorted(path.read_text().splitlines()) == sorted(entry(u, f"pw-{u}") for u in users)
    ensure_user(path, user="ten_03", password="changed")
    lines = path.read_text().splitlines()
    assert entry("ten_03", "changed") in lines
    assert len(lines) == len(users)
    assert "pw-" not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o640


def test_an_entry_is_the_digest_rclone_checks() -> None:
    # htpasswd -s: base64 of the SHA-1 of the password (the form rclone's serve restic reads).
    assert entry("ten_a", "password") == "ten_a:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="


@pytest.mark.parametrize("user", ["ten:a", "ten_a\nten_b", "", "Ten"])
def test_a_name_that_would_break_the_file_is_refused(tmp_path: Path, user: str) -> None:
    with pytest.raises(ValueError, match="not a user name"):
        ensure_user(tmp_path / "htpasswd", user=user, password="pw")
    assert not (tmp_path / "htpasswd").exists()
