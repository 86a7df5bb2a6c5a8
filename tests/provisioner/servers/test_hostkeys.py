from __future__ import annotations

import subprocess

import pytest

from provisioner.errors import InvalidInput
from provisioner.servers.hostkeys import HostKeyScanError, fingerprint, parse_host_key, scan_host_key
from tests.support.factories import HOST_KEY as KEY
from tests.support.sshd import TestServer


def test_known_hosts_lines_and_comments_are_accepted() -> None:
    assert parse_host_key(f"[10.0.0.1]:2222 {KEY} root@host") == KEY
    assert parse_host_key(KEY) == KEY


@pytest.mark.parametrize("text", ["", "ssh-ed25519", "ssh-ed25519 not-base64!", "ssh-dss AAAA"])
def test_anything_else_is_refused_with_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_host_key(text)
    assert caught.value.errors == [
        {"field": "body.host_key", "message": "expected e.g. 'ssh-ed25519 AAAA...'"}
    ]


def test_the_fingerprint_is_what_ssh_keygen_shows(ssh_servers: list[TestServer]) -> None:
    server = ssh_servers[0]
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-f", "-"], input=server.host_key, capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert fingerprint(server.host_key) == shown


def test_a_real_server_offers_its_own_key(ssh_servers: list[TestServer]) -> None:
    for server in ssh_servers:
        assert scan_host_key(server.address, server.port, timeout=5) == server.host_key


def test_no_sshd_means_a_clear_error() -> None:
    with pytest.raises(HostKeyScanError, match=r"127\.0\.0\.1:1 offered no SSH host key"):
        scan_host_key("127.0.0.1", 1, timeout=2)
