"""Host keys: recorded once when a server is added (trust on first use), enforced on every connection."""

from __future__ import annotations

import base64
import hashlib
import subprocess

from provisioner.errors import InvalidInput

_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")


class HostKeyScanError(Exception):
    pass


def parse_host_key(text: str) -> str:
    """Accept 'type base64', with or without a host field before or a comment after; return 'type base64'."""
    fields = text.split()
    for index, field in enumerate(fields[:-1]):
        if field in _KEY_TYPES:
            blob = fields[index + 1]
            try:
                base64.b64decode(blob, validate=True)
            except ValueError:
                break
            return f"{field} {blob}"
    raise InvalidInput(
        "the host key is not an OpenSSH public key line",
        errors=[{"field": "body.host_key", "message": "expected e.g. 'ssh-ed25519 AAAA...'"}],
    )


def fingerprint(host_key: str) -> str:
    blob = base64.b64decode(host_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def scan_host_key(address: str, port: int, *, timeout: int) -> str:
    try:
        result = subprocess.run(
            ["ssh-keyscan", "-T", str(timeout), "-p", str(port), "-t", "ed25519,ecdsa,rsa", "--", address],
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostKeyScanError(f"could not read the host key of {address}:{port}: {exc}") from exc
    keys = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    if not keys:
        raise HostKeyScanError(f"{address}:{port} offered no SSH host key (is sshd running and reachable?)")
    # Prefer ed25519: short, and what current OpenSSH offers first.
    keys.sort(key=lambda line: 0 if "ssh-ed25519" in line else 1)
    return parse_host_key(keys[0])
