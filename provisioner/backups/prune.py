"""The retention policy of REST targets, applied from the control plane on its own schedule.

The instance servers may only append there, so ``restic forget --prune`` runs here, through the
target's full-access listener that no server reaches. Each instance, and each space backed up on its
own, keeps its own daily, weekly and monthly snapshots (restic's "host" is the instance's or the
space's id): the same rules a backup applies on the server where the server may delete.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, field

from sqlalchemy import select

from provisioner.backups.repository import with_user
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import transaction
from provisioner.deployments.backup_leftovers import prune_marker
from provisioner.models import BackupRepository, BackupTarget, Server

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruning:
    tenant_id: str
    argv: list[str]
    env: dict[str, str] = field(repr=False)  # the passwords: never in a log or a repr


@dataclass
class PruneReport:
    pruned: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # tenant id -> why, without a secret


def keep_options(settings: Settings) -> list[str]:
    keep = {
        "--keep-daily": settings.backup_keep_daily,
        "--keep-weekly": settings.backup_keep_weekly,
        "--keep-monthly": settings.backup_keep_monthly,
    }
    return [part for option, n in keep.items() if n for part in (option, str(n))]


def retention_variables(
    settings: Settings, repository: BackupRepository, server: Server, owner_id: str
) -> dict[str, object]:
    """What a backup run on a server needs to apply the keep rules to ``owner_id``'s snapshots (an
    instance's, or a space's) itself: when it is due, at most once per prune interval for each owner
    (a marker on the server keeps the time). A REST target's servers cannot delete: the control plane
    prunes there (``prune_rest_targets``), so they get no rules."""
    return {
        "prune_marker": prune_marker(server, owner_id),
        "prune_every_seconds": settings.backup_prune_interval_seconds,
        "keep_options": [] if repository.target.kind == "rest" else keep_options(settings),
    }


def pruning_of(settings: Settings, repository: BackupRepository) -> Pruning:
    target = repository.target
    if target.kind != "rest" or target.rest_admin_url is None:
        raise ValueError(f"the repository of {repository.tenant_id} is not on a REST target")
    admin = json.loads(decrypt(settings, target.encrypted_credentials))
    url = with_user(target.rest_admin_url, repository.tenant_id, admin["admin_user"], admin["admin_password"])
    policy = keep_options(settings)
    return Pruning(
        tenant_id=repository.tenant_id,
        # Without a rule restic would forget nothing and still rewrite packs: nothing to do then.
        argv=["restic", "--no-cache", "forget", "--prune", "--group-by", "host", *policy] if policy else [],
        env={"RESTIC_REPOSITORY": url, "RESTIC_PASSWORD": decrypt(settings, repository.encrypted_password)},
    )


def run_pruning(settings: Settings, pruning: Pruning) -> None:
    """Raises ``RuntimeError`` saying why (without the passwords) when restic fails."""
    if not pruning.argv:
        return
    with tempfile.TemporaryDirectory(prefix="prv-prune-") as home:
        done = subprocess.run(
            pruning.argv,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home} | pruning.env,
            capture_output=True,
            text=True,
            timeout=settings.job_timeout_seconds,
            check=False,
        )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        for secret in pruning.env.values():
            reason = reason.replace(secret, "***")
        raise RuntimeError(f"restic forget --prune failed: {reason[:300]}")


def prune_rest_targets(settings: Settings) -> PruneReport:
    """Apply the keep rules to every repository on a REST target; one failing does not stop the rest."""
    with transaction(settings.resolved_database_url) as session:
        query = select(BackupRepository).join(BackupTarget).where(BackupTarget.kind == "rest")
        work = [pruning_of(settings, repository) for repository in session.scalars(query)]
    report = PruneReport()
    for pruning in work:
        try:
            run_pruning(settings, pruning)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            why = str(exc) if isinstance(exc, RuntimeError) else "restic forget --prune took too long"
            log.warning("pruning the repository of %s failed: %s", pruning.tenant_id, why)
            report.failed[pruning.tenant_id] = why
        else:
            report.pruned.append(pruning.tenant_id)
    return report
