"""Real sshd servers for the tests, each on its own loopback address, as the deploys' target servers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import children

SSHD = "/usr/sbin/sshd"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class TestServer:
    __test__ = False  # a data holder, not a test class for pytest to collect

    name: str
    address: str
    port: int
    user: str
    root_dir: Path
    host_key: str  # the public key line, "ssh-ed25519 AAAA..."
    client_key: Path
    known_hosts: Path

    def ssh_argv(self, *command: str) -> list[str]:
        """An ssh command line that checks the host key strictly and ignores the caller's own config."""
        return [
            "ssh",
            "-F", "/dev/null",
            "-i", str(self.client_key),
            "-p", str(self.port),
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=5",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            f"{self.user}@{self.address}",
            *command,
        ]  # fmt: skip


class SshdError(RuntimeError):
    pass


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def _config(folder: Path, address: str, port: int) -> Path:
    config = folder / "sshd_config"
    config.write_text(
        f"""\
ListenAddress {address}:{port}
HostKey {folder / "host_key"}
PidFile {folder / "sshd.pid"}
AuthorizedKeysFile {folder / "authorized_keys"}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# The key files live in a temporary folder whose owner and modes sshd would otherwise reject.
StrictModes no
UsePAM no
PrintMotd no
X11Forwarding no
# Ansible copies files and restic talks to its repository over SFTP.
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""
    )
    return config


def free_address_pair(port: int = 22, *, first_network: int = 0) -> list[str]:
    """Two loopback addresses 127.0.N.11 and 127.0.N.12 on which nothing listens on ``port`` yet,
    looking from N = ``first_network`` on.

    Each pytest session (and each xdist worker, and a benchmark) then gets servers of its own. Workers
    of one session start together, so each looks from a network of its own: two probes at the same
    moment would otherwise find the same pair free.
    """
    for offset in range(256):
        network = (first_network + offset) % 256
        pair = [f"127.0.{network}.11", f"127.0.{network}.12"]
        if all(_port_free(address, port) for address in pair):
            return pair
    raise SshdError(f"no free pair of loopback addresses with port {port} unused")


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def running_servers(
    base_dir: Path, addresses: Sequence[str], *, port: int = 22, user: str = "root"
) -> Iterator[list[TestServer]]:
    """Starts one sshd per address, all accepting one generated client key; stops them on exit."""
    client_key = base_dir / "client_key"
    client_public = _keygen(client_key, "provisioner-tests")
    known_hosts = base_dir / "known_hosts"
    # sshd refuses to start without its privilege separation folder, which no service manager made here.
    Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)

    servers: list[TestServer] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for number, address in enumerate(addresses, start=1):
            folder = base_dir / f"server{number}"
            folder.mkdir()
            root_dir = folder / "root"
            root_dir.mkdir()
            host_public = _keygen(folder / "host_key", f"server{number}")
            (folder / "authorized_keys").write_text(client_public + "\n")
            with known_hosts.open("a") as hosts:
                hosts.write(f"{_host_pattern(address, port)} {host_public}\n")
            config = _config(folder, address, port)
            with (folder / "sshd.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [SSHD, "-D", "-e", "-f", str(config)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            servers.append(
                TestServer(
                    name=f"server{number}",
                    address=address,
                    port=port,
                    user=user,
                    root_dir=root_dir,
                    host_key=" ".join(host_public.split()[:2]),
                    client_key=client_key,
                    known_hosts=known_hosts,
                )
            )
        for server, process in zip(servers, processes, strict=True):
            _wait_for_login(server, process, base_dir / server.name / "sshd.log")
        yield servers
    finally:
        for process in processes:
            _stop(process)


def _host_pattern(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _wait_for_login(server: TestServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SshdError(f"sshd for {server.address} exited with {process.returncode}:\n{log.read_text()}")
        done = subprocess.run(server.ssh_argv("true"), capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return
        last = done.stderr
        time.sleep(0.2)
    raise SshdError(f"no login on {server.address} within {START_TIMEOUT_S} s: {last}\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # Each connection gets its own sshd child in a session of its own, which outlives the listener;
    # those are ended by pid too, so no login lingers after the tests.
    for pid in [*children(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
