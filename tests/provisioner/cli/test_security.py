"""``provisioner mail configure``, ``keys rotate`` and ``audit export`` as an operator runs them."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.mail_config import mail_settings_for
from provisioner.notices.channels import NO_MAIL
from tests.support.smtp_sink import smtp_sink

OLD = "the-old-secret-key-of-the-lab"
NEW = "the-new-secret-key-of-the-lab"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    return clean | {
        "PROVISIONER_DATA_DIR": str(tmp_path / "data"),
        "PROVISIONER_DATABASE_URL": db_url,
        "PROVISIONER_SECRET_KEY": OLD,
    }


def _provisioner(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provisioner", *args], env=env, input=stdin, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip


def test_mail_configure_reads_the_password_from_stdin_then_keys_rotate_and_audit_export(
    env: dict[str, str], db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    done = _provisioner(
        env, "mail", "configure", "--host", "smtp.lab.example", "--from", "lab@lab.example",
        "--username", "lab", stdin="the-smtp-password\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the-smtp-password" not in done.stdout + done.stderr
    with session_factory(db_url)() as session:
        stored = mail_settings_for(session, Settings(database_url=db_url, secret_key=OLD))
    assert (stored.smtp_host, stored.smtp_port, stored.smtp_username) == ("smtp.lab.example", 587, "lab")
    assert stored.smtp_password == "the-smtp-password"

    inside = tmp_path / "data" / "new.key"
    inside.parent.mkdir(parents=True)
    inside.write_text(NEW)
    refused = _provisioner(env, "keys", "rotate", "--new-key-file", str(inside))
    assert refused.returncode == 1
    assert "nothing was changed" in refused.stderr

    key_file = tmp_path_factory.mktemp("etc") / "new.key"  # away from the data and the database
    key_file.write_text(NEW + "\n")
    done = _provisioner(env, "keys", "rotate", "--new-key-file", str(key_file))
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 1 values" in done.stdout
    with session_factory(db_url)() as session:
        rotated = mail_settings_for(session, Settings(database_url=db_url, secret_key_file=key_file))
    assert rotated.smtp_password == "the-smtp-password"

    env_after = env | {"PROVISIONER_SECRET_KEY_FILE": str(key_file)}
    done = _provisioner(env_after, "audit", "export")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["actor"], r["action"]) for r in rows] == [("cli", "configure_mail"), ("cli", "rotate_keys")]


def test_mail_test_sends_through_the_configured_account_or_says_why_not(env: dict[str, str]) -> None:
    missing = _provisioner(env, "mail", "test", "--to", "ops@lab.example")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: {NO_MAIL}"
    with smtp_sink() as sink:
        configured = _provisioner(
            env, "mail", "configure", "--host", sink.host, "--port", str(sink.port), "--no-starttls",
            "--from", "lab@lab.example",
        )  # fmt: skip
        assert configured.returncode == 0, configured.stderr
        sent = _provisioner(env, "mail", "test", "--to", "ops@lab.example", "--language", "en")
        assert sent.returncode == 0, sent.stderr
        [message] = sink.wait_for(1)
    assert message["Subject"] == "Test message from the provisioner"
    assert message["From"] == "lab@lab.example"
