"""``provisioner up`` on its defaults: a secret key of its own, a data folder closed to other users,
no deprecation warning, and everything it started stopped on SIGTERM, as a service manager or
``docker stop`` sends it.

The real command on a data folder of its own (SQLite, the embedded broker).
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from provisioner.accounts.first_start import first_start_invitation
from provisioner.accounts.service import create_user
from provisioner.auth.actor import Role
from provisioner.cli import embedded
from provisioner.config import Settings, get_settings
from provisioner.crypto import DecryptionFailed, decrypt
from provisioner.db import transaction
from provisioner.mail_config import configure_mail
from provisioner.migrate import upgrade
from provisioner.models import MailSettings
from tests.support.processes import alive, descendants, kill_tree
from tests.support.stack import free_port

ROOT = Path(__file__).parents[3]


def _until(condition: Callable[[], bool], what: str, *, within: float) -> None:
    """A bounded wait for what other processes do (a bug fails instead of hanging)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _started(tmp_path: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env |= {
        "PROVISIONER_DATA_DIR": str(tmp_path / "data"),
        "PROVISIONER_ENVIRONMENT": "development",
        "PROVISIONER_GENERATED_KEY_FILE": str(tmp_path / "secret.key"),
        # No deprecation at start, in any process it starts: one would end the start.
        "PYTHONWARNINGS": "error::DeprecationWarning",
    }
    port = free_port()
    with (tmp_path / "up.log").open("ab") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "provisioner", "up", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    _until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), "the API answered", within=120)
    # The worker with its pool (two) and its scheduler (a process of its own under prefork).
    _until(lambda: len(descendants(up.pid)) >= 3, "the worker started its pool", within=120)
    return up, descendants(up.pid)


@pytest.mark.parametrize("to_group", [False, True], ids=["to-the-command", "to-its-process-group"])
def test_sigterm_stops_the_whole_embedded_stack(tmp_path: Path, to_group: bool) -> None:
    up, started = _started(tmp_path)
    try:
        if to_group:
            os.killpg(up.pid, signal.SIGTERM)
        else:
            up.send_signal(signal.SIGTERM)
        # Generous bounds: the command gives the worker 10 s before it ends it.
        up.wait(timeout=120)
        _until(lambda: not any(alive(pid) for pid in started), "every process it started ended", within=60)
        log = (tmp_path / "up.log").read_text()
        assert up.returncode == 0, log[-2000:]
        assert "DeprecationWarning" not in log
    finally:
        for pid in started:
            if alive(pid):
                kill_tree(pid)
        if up.poll() is None:
            kill_tree(up.pid)
            up.wait()
    # The embedded defaults: a key of its own outside the data folder, nothing readable by others.
    assert "WARNING: the secret key is the development key" not in log
    assert f"a secret key for this installation was generated in {tmp_path / 'secret.key'}" in log
    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in (tmp_path / "secret.key", tmp_path / "data", *(tmp_path / "data").glob("*.sqlite*"))
    }
    assert modes == {
        "secret.key": 0o600, "data": 0o700, "provisioner.sqlite": 0o600, "broker.sqlite": 0o600,
    } | {name: 0o600 for name in modes if name.endswith(("-wal", "-shm"))}  # fmt: skip


def test_the_first_start_re_encrypts_what_an_earlier_install_stored_under_the_published_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    request.addfinalizer(get_settings.cache_clear)  # the settings of this test stay with it
    monkeypatch.setenv("PROVISIONER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROVISIONER_GENERATED_KEY_FILE", str(tmp_path / "etc" / "secret.key"))
    monkeypatch.setenv("PROVISIONER_ENVIRONMENT", "development")
    get_settings.cache_clear()
    before = get_settings()
    assert before.uses_published_key
    # An install from before: open folder and files, a value under the published key.
    (tmp_path / "data").mkdir(mode=0o755)
    url = before.resolved_database_url
    upgrade(url)
    Path(url.removeprefix("sqlite:///")).chmod(0o644)
    with transaction(url) as session:
        configure_mail(session, before, host="smtp.example.org", port=25, starttls=False,
                       username="lab", password="mail-password", from_address="lab@example.org")  # fmt: skip
    stored = _stored_password(url)

    embedded.close_data_dir(before)
    after = embedded.own_secret_key(before)

    assert not after.uses_published_key
    assert after.secret_key == (tmp_path / "etc" / "secret.key").read_text().strip()
    assert stat.S_IMODE((tmp_path / "etc" / "secret.key").stat().st_mode) == 0o600
    assert not (tmp_path / "etc" / "secret.key.new").exists()
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(url.removeprefix("sqlite:///")).stat().st_mode) == 0o600
    rotated = _stored_password(url)
    assert rotated != stored
    assert decrypt(after, rotated) == "mail-password"
    with pytest.raises(DecryptionFailed):
        decrypt(before, rotated)
    # Every later command of this install reads the same key, and a second start changes nothing.
    get_settings.cache_clear()
    second = get_settings()
    assert second.secret_key == after.secret_key
    assert embedded.own_secret_key(second) is second
    assert _stored_password(url) == rotated


def _stored_password(url: str) -> str:
    with transaction(url) as session:
        value = session.get_one(MailSettings, 1).password_encrypted
    assert value is not None
    return value


def test_the_first_start_prints_a_one_time_link_for_the_first_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(embedded, "docker_available", lambda: False)
    settings = Settings(data_dir=tmp_path, public_url="https://lab.example/")
    upgrade(settings.resolved_database_url)
    embedded._first_run(settings, base_url="http://127.0.0.1:8000")
    printed = capsys.readouterr().out
    found = re.search(r"https://lab\.example/first-start/(\S+)\n", printed)
    assert found, printed
    assert "PROVISIONER_TOKEN" not in printed, "no operator token on the terminal any more"
    with transaction(settings.resolved_database_url) as session:
        assert first_start_invitation(session, token=found.group(1))
        create_user(session, email="kim@lab.example", name="Kim", password="a long passphrase",
                    role=Role.OPERATOR, tenant_id=None)  # fmt: skip
    embedded._first_run(settings, base_url="http://127.0.0.1:8000")
    assert "first-start" not in capsys.readouterr().out, "nothing once an operator account exists"
