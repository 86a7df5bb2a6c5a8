"""The control plane's SSH key: made once, its public half added to each server's authorized_keys."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ensure_key(path: Path) -> str:
    """Create an ed25519 key at ``path`` when there is none; return the public key line."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "provisioner", "-f", str(path)],
            check=True,
            capture_output=True,
        )
    return path.with_suffix(".pub").read_text().strip()
