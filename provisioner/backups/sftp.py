"""The control plane's own SFTP session with a backup target: the target's identity and pinned host
key in a folder of the run's own (removed after), a batch of commands, sftp's answer."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.models import BackupTarget

TIMEOUT_SECONDS = 120


class SftpFailed(Exception):
    """sftp could not run the batch: its own last words, or that the target did not answer (no
    secret is on its command line or in its batch)."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


def run_batch(settings: Settings, target: BackupTarget, batch: Callable[[Path], str]) -> str:
    """Run the commands ``batch(folder)`` returns (it may place files in ``folder`` first) on
    ``target``; sftp's output."""
    key = json.loads(decrypt(settings, target.encrypted_credentials))["ssh_private_key"]
    host = target.address if target.port == 22 else f"[{target.address}]:{target.port}"
    runs = settings.data_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=runs, prefix="sftp-") as folder:
        here = Path(folder)
        (here / "id_ed25519").touch(mode=0o600)
        (here / "id_ed25519").write_text(key)
        (here / "known_hosts").write_text(f"{host} {target.host_key}\n")
        (here / "batch").write_text(batch(here))
        argv = [
            "sftp", "-q", "-b", str(here / "batch"), "-F", "/dev/null", "-i", str(here / "id_ed25519"),
            "-P", str(target.port), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={settings.ssh_connect_timeout_seconds}",
            "-o", f"UserKnownHostsFile={here / 'known_hosts'}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", f"{target.user}@{target.address}",
        ]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired as exc:
            reason = f"the backup target {target.name} did not answer within {TIMEOUT_SECONDS} s"
            raise SftpFailed(reason, timed_out=True) from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise SftpFailed(said[-1] if said else f"sftp exited with {done.returncode}")
    return done.stdout


def quoted(path: str) -> str:
    # sftp's batch syntax reads double quotes like a shell's; our paths have no quote of their own.
    if '"' in path:
        raise SftpFailed(f"a path with a double quote cannot be used over SFTP: {path!r}")
    return f'"{path}"'
