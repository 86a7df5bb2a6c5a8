"""One shell script per server, run over SSH with the pinned host key (or locally for a local server).

It prints sections the collector parses: disk of the root folder, memory, each instance container's
CPU and memory, the size of each instance's volumes and folder, and the proxy's root certificate. Every
value in it is quoted; nothing a tenant chose reaches it (volume names, labels and folders are the
provisioner's own ids).
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from provisioner.config import Settings
from provisioner.labels import LABEL_INSTANCE
from provisioner.models import Server
from provisioner.proxy.caddy import ROOT_CA_PATH, proxy_name


class RemoteError(Exception):
    """The server could not be reached or the command failed; the text says why, without secrets."""


@dataclass(frozen=True)
class Sections:
    parts: dict[str, list[str]]

    def lines(self, name: str) -> list[str]:
        return self.parts.get(name, [])


def collection_script(server: Server) -> str:
    label = shlex.quote(LABEL_INSTANCE)
    names_format = shlex.quote('{{.Names}}\t{{.Label "' + LABEL_INSTANCE + '"}}')
    stats_format = shlex.quote("{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}")
    return "\n".join(
        [
            f"d={shlex.quote(server.root_dir)}",
            'while [ ! -e "$d" ]; do d=$(dirname "$d"); done',
            "echo @@disk",
            'df -Pk -- "$d" | tail -n 1',
            "echo @@memory",
            "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo",
            "echo @@containers",
            f"names=$(docker ps --filter label={label} --format {names_format} 2>/dev/null)",
            'printf "%s\\n" "$names"',
            "echo @@stats",
            'if [ -n "$names" ]; then',
            f'  docker stats --no-stream --format {stats_format} $(printf "%s\\n" "$names" | cut -f1)',
            "fi",
            disk_script(server),
            ca_script(server),
        ]
    )


# du walks every file of the instances' data, at the lowest CPU priority. Once per metrics interval
# (5 minutes by default) over an association's volumes of a few GB that is a second or two of reading
# metadata; the time limit keeps a huge volume from stalling the whole collection: the volumes du had
# not finished are missing from that collection (no figure) rather than counted short.
DU_TIMEOUT_SECONDS = 30


def disk_script(server: Server) -> str:
    """Prints ``mounts`` (instance id, a space, a path) and ``du`` (KiB, a tab, the path) sections."""
    label = shlex.quote(LABEL_INSTANCE)
    volume_format = shlex.quote('{{index .Labels "' + LABEL_INSTANCE + '"}} {{.Mountpoint}}')
    return "\n".join(
        [
            f"root={shlex.quote(server.root_dir)}",
            "mounts=$(",
            f"  docker volume ls -q --filter label={label} 2>/dev/null"
            f" | xargs -r docker volume inspect --format {volume_format} 2>/dev/null",
            '  for i in "$root"/instances/*; do [ -d "$i" ] && printf "%s %s\\n" "${i##*/}" "$i"; done',
            ")",
            "echo @@mounts",
            'printf "%s\\n" "$mounts"',
            "echo @@du",
            'if [ -n "$mounts" ]; then',
            '  printf "%s\\n" "$mounts" | cut -d " " -f 2- | tr "\\n" "\\0"'
            f" | xargs -0 -r timeout {DU_TIMEOUT_SECONDS} nice -n 19 du -sk -- 2>/dev/null",
            "fi",
        ]
    )


def ca_script(server: Server) -> str:
    """Prints the ``ca`` section (the proxy's root certificate, empty without a proxy) and the end."""
    proxy, path = shlex.quote(proxy_name(server)), shlex.quote(ROOT_CA_PATH)
    return f"echo @@ca\ndocker exec {proxy} cat {path} 2>/dev/null\necho @@end"


def run_script(settings: Settings, server: Server, script: str) -> Sections:
    """Run ``script`` with bash on the server; one connection, whatever the script does."""
    timeout = settings.ssh_connect_timeout_seconds + 60
    with tempfile.TemporaryDirectory(prefix="prv-ssh-") as private:
        command = _command(settings, server, Path(private))
        try:
            result = subprocess.run(
                command, input=script, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise RemoteError(f"{server.name} did not answer within {timeout} s") from exc
    if "@@end" not in result.stdout:
        reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise RemoteError(f"{server.name}: {reason[:300]}")
    return parse_sections(result.stdout)


def _command(settings: Settings, server: Server, private: Path) -> list[str]:
    if server.connection == "local":
        return ["bash", "-s"]
    if not server.host_key:
        raise RemoteError(f"{server.name} has no recorded host key")
    known_hosts = private / "known_hosts"
    name = server.address if server.port == 22 else f"[{server.address}]:{server.port}"
    known_hosts.write_text(f"{name} {server.host_key}\n")
    return [
        "ssh",
        "-i",
        str(settings.resolved_ssh_key_path),
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"ConnectTimeout={settings.ssh_connect_timeout_seconds}",
        "-p",
        str(server.port),
        "-l",
        server.user,
        "--",
        server.address,
        "bash -s",
    ]


def parse_sections(stdout: str) -> Sections:
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in stdout.splitlines():
        if line.startswith("@@"):
            current = parts.setdefault(line[2:].strip(), [])
        elif current is not None and line.strip():
            current.append(line)
    return Sections(parts)
