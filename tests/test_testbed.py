"""The test bed itself: what every end-to-end test stands on."""

from __future__ import annotations

import subprocess

from tests.support.sshd import TestServer


def test_each_server_answers_on_its_own_address(ssh_servers: list[TestServer]) -> None:
    assert len({server.address for server in ssh_servers}) == len(ssh_servers) == 2
    for server in ssh_servers:
        done = subprocess.run(
            server.ssh_argv("echo $SSH_CONNECTION"), capture_output=True, text=True, timeout=30, check=True
        )
        # SSH_CONNECTION is "client-address client-port server-address server-port".
        _, _, address, port = done.stdout.split()
        assert (address, int(port)) == (server.address, server.port)
        assert server.host_key.startswith("ssh-ed25519 ")
        assert server.host_key in server.known_hosts.read_text()
        assert server.root_dir.is_dir()
