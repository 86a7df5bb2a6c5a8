"""``provisioner users create --operator`` as an operator runs it, password piped in on stdin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from provisioner.accounts.service import authenticate_password
from provisioner.db import session_factory


def _run(tmp_path: Path, *args: str, stdin: str, command: str = "create") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROVISIONER_DATA_DIR": str(tmp_path), "PROVISIONER_DATABASE_URL": ""}
    env["PROVISIONER_PUBLIC_URL"] = "https://lab.example"
    return subprocess.run(
        [sys.executable, "-m", "provisioner", "users", command, *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_the_first_operator_is_made_with_a_password_from_stdin(tmp_path: Path) -> None:
    made = _run(tmp_path, "--operator", "--email", "Op@Lab.example", stdin="a long enough secret\n")
    assert made.returncode == 0, made.stderr
    user_id = made.stdout.strip()
    assert user_id.startswith("usr_")
    assert "a long enough secret" not in made.stdout + made.stderr
    url = f"sqlite:///{tmp_path / 'provisioner.sqlite'}"
    with session_factory(url)() as session:
        user = authenticate_password(
            session, email="op@lab.example", password="a long enough secret", client_address=None
        )
        assert (user.id, user.role, user.tenant_id) == (user_id, "operator", None)


def test_a_weak_password_or_a_second_account_is_refused(tmp_path: Path) -> None:
    weak = _run(tmp_path, "--operator", "--email", "op@lab.example", stdin="short\n")
    assert weak.returncode == 1
    assert "at least 10 characters" in weak.stderr
    assert (
        _run(tmp_path, "--operator", "--email", "op@lab.example", stdin="a long enough secret\n").returncode
        == 0
    )
    again = _run(tmp_path, "--operator", "--email", "OP@lab.example", stdin="another long secret\n")
    assert again.returncode == 1
    assert "has an account already" in again.stderr


def test_only_operators_are_made_here(tmp_path: Path) -> None:
    refused = _run(tmp_path, "--email", "someone@a.example", stdin="a long enough secret\n")
    assert refused.returncode != 0
    assert "invited" in refused.stderr


def test_a_first_start_link_is_printed_only_while_the_lab_has_no_operator(tmp_path: Path) -> None:
    printed = _run(tmp_path, stdin="", command="first-start-link")
    assert printed.returncode == 0, printed.stderr
    assert re.fullmatch(r"https://lab\.example/first-start/\S+\n", printed.stdout)
    assert "works once" in printed.stderr
    assert (
        _run(tmp_path, "--operator", "--email", "op@lab.example", stdin="a long enough secret\n").returncode
        == 0
    )
    refused = _run(tmp_path, stdin="", command="first-start-link")
    assert refused.returncode == 1
    assert refused.stdout == ""
