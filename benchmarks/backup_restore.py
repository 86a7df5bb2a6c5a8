"""A WordPress backup and an in-place restore through the provisioner, against plain restic on the same data.

One sshd test server runs the instance, a second is the backup server (SFTP). The provisioner side is
the whole job as a client sees it (POST until the job succeeded): restic made ready, free space
checked, the database dump, restic backup, retention with prune; for the restore: restic restore, the
containers stopped, volumes replaced, containers started, the dump re-imported, the health check. The
plain side is `restic backup` of the same volumes into the same repository, and `restic restore` of
the same snapshot into a folder, run directly on the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.support` when run as a script

import docker
from sqlalchemy import select

from benchmarks.deploy_support import code_version, remove_leftovers, step_rows, step_times
from provisioner.backups.repository import restic_variables
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.models import Backup, BackupRepository, JobEvent, Server
from tests.conftest import REGISTRY
from tests.support.api_client import ApiClient, new_tenant
from tests.support.images import build_all
from tests.support.lab import add_server, add_sftp_target, approve, job_succeeded, request_instance, succeeded
from tests.support.sshd import free_address_pair, running_servers
from tests.support.stack import embedded_stack

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results.md"
BEGIN, END = "<!-- backup-restore:begin -->", "<!-- backup-restore:end -->"
UPLOADS = "/var/lib/wordpress/wp-content/uploads/bench"
DOCKER_VOLUMES = "/var/lib/docker/volumes"  # Debian's Docker keeps named volumes here


def _succeeded(client: ApiClient, accepted: dict[str, dict[str, str]]) -> float:
    """How long the accepted job took to succeed, as its client sees it."""
    started = time.monotonic()
    job_succeeded(client, accepted)
    return time.monotonic() - started


def _write_uploads(client: docker.DockerClient, instance_id: str, megabytes: int, round_no: int) -> None:
    """Fresh random files each round, so every backup has new data to add, as a day of use would."""
    web = client.containers.get(f"prv-{instance_id}-web")
    web.exec_run(["mkdir", "-p", UPLOADS])
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for number in range(megabytes):
            info = tarfile.TarInfo(f"round{round_no}-{number}.bin")
            info.size = 1024 * 1024
            tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    web.put_archive(UPLOADS, archive.getvalue())


RESTORE_REPORT = "Report where the restore's time went"


def _restic(variables: dict[str, object], *args: str) -> float:
    """restic as a run gets it; the identity for the backup server placed (untimed) as a run places it,
    and removed after."""
    argv = [*variables["argv"], *args]  # type: ignore[misc]
    env = {**os.environ, **variables["env"]}  # type: ignore[dict-item]
    identity: dict[str, str] | None = variables.get("identity")  # type: ignore[assignment]
    if identity is not None:
        folder = Path(identity["dir"])
        folder.mkdir(mode=0o700, parents=True)
        (folder / "id_ed25519").write_text(identity["key"])
        (folder / "id_ed25519").chmod(0o600)
        (folder / "known_hosts").write_text(identity["known_hosts"])
    try:
        started = time.monotonic()
        done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    finally:
        if identity is not None:
            shutil.rmtree(identity["dir"], ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"restic {args[0]} failed: {done.stderr.strip()[-500:]}")
    return elapsed


Steps = dict[str, list[tuple[str, float]]]


def run(args: argparse.Namespace, cleanup: ExitStack) -> tuple[dict[str, list[float]], Steps]:
    """Rounds of backup and restore; the figures per round, and the last round's jobs step by step."""
    client = docker.from_env()
    cleanup.callback(client.close)
    for recipe, name in (
        ("wordpress/image", "wordpress"),
        ("_images/mariadb", "mariadb"),
        ("_images/proxy", "proxy"),
    ):
        build_all(recipe, f"provisioner/{name}", client=client, registry=REGISTRY)
    work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="backup-restore-")))
    (work / "sshd").mkdir()
    server, backup_server = cleanup.enter_context(running_servers(work / "sshd", free_address_pair()))
    instance_ids: list[str] = []
    server_ids: list[str] = []
    cleanup.callback(remove_leftovers, client, instance_ids, server_ids)
    playbooks = {"PROVISIONER_PLAYBOOKS_DIR": str(args.playbooks)} if args.playbooks else None
    stack = cleanup.enter_context(
        embedded_stack(work / "data", ssh_key=server.client_key, registry=REGISTRY, env=playbooks)
    )
    operator = cleanup.enter_context(ApiClient(stack.base_url, stack.operator_token))
    server_ids.append(add_server(operator, server))
    add_sftp_target(operator, backup_server, backup_server.root_dir / "restic")
    tenant = cleanup.enter_context(new_tenant(operator, stack.base_url, "bench")[1])
    instance_id = request_instance(tenant, template="wordpress", name="blog")["id"]
    instance_ids.append(instance_id)
    succeeded(operator, approve(operator, instance_id, server_ids[0]))
    settings = Settings(data_dir=work / "data")
    results: dict[str, list[float]] = {}
    steps: Steps = {}
    variables: dict[str, object] = {}
    for round_no in range(args.warmup + args.runs):
        counted = round_no >= args.warmup
        _write_uploads(client, instance_id, args.megabytes, round_no)
        accepted = tenant.call("POST", f"/api/v1/instances/{instance_id}/backups", expect=202)
        ours = _succeeded(tenant, accepted)
        steps["backup"] = step_times(settings.resolved_database_url, accepted["job"]["id"])
        with transaction(settings.resolved_database_url) as session:
            backup = session.scalars(select(Backup).order_by(Backup.created_at.desc())).first()
            assert backup is not None  # noqa: S101 - the job above succeeded
            repository = session.scalars(select(BackupRepository)).one()
            variables = restic_variables(
                settings, repository, session.scalars(select(Server).where(Server.name == server.name)).one()
            )
            # The snapshot holds each volume relative to Docker's volumes folder.
            paths = [f"{DOCKER_VOLUMES}{path}" for path in backup.paths.values()]
            snapshot, size = backup.snapshot_id, backup.size_bytes or 0
            dump = f"{backup.paths['db']}/backup.sql"  # the template's dump, in the snapshot
        _write_uploads(client, instance_id, args.megabytes, round_no + 1000)
        plain = _restic(variables, "backup", "--quiet", "--host", "plain", *paths)
        accepted = tenant.call(
            "POST", f"/api/v1/instances/{instance_id}/restore", expect=202, json={"backup": backup.id}
        )
        ours_restore = _succeeded(tenant, accepted)
        steps["restore"] = step_times(settings.resolved_database_url, accepted["job"]["id"])
        target_dir = work / f"plain-restore-{round_no}"
        plain_restore = _restic(variables, "restore", str(snapshot), "--target", str(target_dir))
        subprocess.run(["rm", "-rf", str(target_dir)], check=True)
        # What streaming the database's dump would add: restic dump is a second restic process, opening
        # the repository again, beside the restore that brings the dump with the volumes.
        plain_dump = _restic(variables, "dump", "--", str(snapshot), dump)
        said = restore_report(settings.resolved_database_url, accepted["job"]["id"])
        if counted:
            for name, value in {
                "backup_provisioner": ours, "backup_plain": plain, "restore_provisioner": ours_restore,
                "restore_plain": plain_restore, "dump_plain": plain_dump, "size_mib": size / 1024 / 1024,
            }.items():  # fmt: skip
                results.setdefault(name, []).append(value)
        print(
            f"round {round_no}: backup {ours:.1f} s vs {plain:.1f} s, "
            f"restore {ours_restore:.1f} s vs {plain_restore:.1f} s (restic dump of the database's dump "
            f"alone {plain_dump:.1f} s); the restore's own report: {said}",
            file=sys.stderr,
        )
    return results, steps


def restore_report(database_url: str, job_id: str) -> str:
    """What the restore's report task said of its time (restic, the volumes, the databases)."""
    with transaction(database_url) as session:
        said = session.scalars(
            select(JobEvent.stdout).where(
                JobEvent.job_id == job_id, JobEvent.task == RESTORE_REPORT, JobEvent.status == "ok"
            )
        ).first()
    return " ".join((said or "none").split())


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f} .. {max(values):.2f})"


def report(
    r: dict[str, list[float]], steps: Steps, args: argparse.Namespace, load: tuple[str, str], code: str
) -> str:
    restic = subprocess.run(["restic", "version"], capture_output=True, text=True, check=True).stdout.split()[
        1
    ]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for what in ("backup", "restore"):
        ours, plain = r[f"{what}_provisioner"], r[f"{what}_plain"]
        diff = statistics.median(ours) - statistics.median(plain)
        rows.append(f"| **{what}**, s | {_spread(ours)} | {_spread(plain)} | +{diff:.2f} |")
    rows.append(f"| `restic dump` of the database's dump alone, s | | {_spread(r['dump_plain'])} | |")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}"
    lines = [
        "## Backup and restore: provisioner vs plain restic",
        "",
        f"Measured {when} by `benchmarks/backup_restore.py --runs {args.runs} --megabytes {args.megabytes}` "
        f"({args.warmup} warm-up round(s) not counted), template `wordpress`, restic {restic} over SFTP to a "
        "second sshd test server on loopback. Each round adds "
        f"{args.megabytes} MiB of new random uploads before each side's backup; the instance's data was "
        f"{_spread(r['size_mib'])} MiB.",
        "",
        f"- Machine: {machine}; load average {load[0]} before, {load[1]} after; code {code}"
        + (f"; the playbooks of {args.playbooks_label or args.playbooks}" if args.playbooks else ""),
        "",
        f"Median (min .. max) of {args.runs} runs.",
        "",
        "| | provisioner job (POST until succeeded) | plain restic | difference of medians |",
        "|---|---|---|---|",
        *rows,
        "",
        "The provisioner's backup also makes restic ready (identity, repository check), checks the free "
        "space, dumps the database and applies the retention policy with `forget --prune`; its restore "
        "also stops the containers, replaces the volumes, starts them, re-imports the dump and checks the "
        "health through the proxy. Plain restic only copies the data, so the difference is what those "
        "steps (and Ansible's start, the job's queueing) cost.",
        "",
        "Where the last round's jobs spent their time, longest steps first (seconds, from the job's events:"
        " a step lasts until the next one begins):",
        "",
        "| job | total, s | longest steps, s |",
        "|---|---|---|",
        *step_rows(steps),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--megabytes", type=int, default=50, help="new uploads per round (default 50)")
    parser.add_argument("--playbooks", type=Path, help="another playbooks folder (an earlier version's, say)")
    parser.add_argument("--playbooks-label", help="how the report names that folder (a commit, say)")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    args = parser.parse_args()
    load_before, code = Path("/proc/loadavg").read_text().split()[0], code_version(REPO)
    with ExitStack() as cleanup:
        results, steps = run(args, cleanup)
    markdown = report(results, steps, args, (load_before, Path("/proc/loadavg").read_text().split()[0]), code)
    print(markdown)
    if args.no_write:
        return 0
    section = f"{BEGIN}\n{markdown.rstrip()}\n{END}"
    text = RESULTS.read_text()
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
