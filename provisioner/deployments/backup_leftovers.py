"""What backups leave on a server beside an instance, and what of it a removal takes away.

restic keeps a cache on each server where it runs (the repository's index, snapshots and tree packs,
encrypted): a folder per association, ``<root_dir>/backup/cache/<tenant id>``, shared by the runs of
its instances and spaces there. Each instance or space also has a marker of its last pruning. A
removal deletes the marker of what it removes, and the association's cache once nothing else of the
association stays on that server, so an association's last removal there (an offboarding's too)
leaves nothing of its backups behind.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Server, Space

# Instances and spaces that go, or are gone: they keep no cache in use. (Space states by name: the
# spaces package builds on this one.)
_LEAVING = (InstanceState.REMOVING.value, InstanceState.REMOVED.value, InstanceState.REJECTED.value)
_SPACE_LEAVING = ("removing", "removed", "rejected")


def cache_dir(server: Server, tenant_id: str) -> str:
    """restic's cache for the association's runs on ``server`` (restic makes a folder per repository
    inside it)."""
    return f"{server.root_dir}/backup/cache/{tenant_id}"


def prune_marker(server: Server, owner_id: str) -> str:
    """When the keep rules last ran for an instance's or a space's snapshots from ``server``."""
    return f"{server.root_dir}/backup/pruned/{owner_id}"


def removal_leftovers(
    session: Session,
    *,
    server: Server,
    tenant_id: str,
    instance_id: str | None = None,
    space_id: str | None = None,
) -> list[str]:
    """The paths a removal of ``instance_id`` (or ``space_id``) from ``server`` deletes besides it: its
    prune marker, and the association's cache when nothing else of it stays on the server.

    Decided when the removal's run is made, after its instance or space was marked as going, one
    removal of the association at a time (``_one_at_a_time``): of two at the same moment, the later
    sees the first as going and deletes the cache (a removal that fails afterwards leaves a cache
    deleted under an instance that stays: restic makes it again at its next run).
    """
    _one_at_a_time(session, tenant_id)
    owner = instance_id or space_id
    paths = [prune_marker(server, owner)] if owner else []
    instances = exists().where(
        Instance.tenant_id == tenant_id,
        Instance.server_id == server.id,
        Instance.id != (instance_id or ""),
        Instance.state.not_in(_LEAVING),
    )
    spaces = exists().where(
        Space.tenant_id == tenant_id,
        Space.instance_id == Instance.id,
        Instance.server_id == server.id,
        Space.id != (space_id or ""),
        Space.state.not_in(_SPACE_LEAVING),
    )
    if not session.scalar(select(instances | spaces)):
        paths.append(cache_dir(server, tenant_id))
    return paths


def _one_at_a_time(session: Session, tenant_id: str) -> None:
    """Until the transaction ends, no other removal of the association decides.

    On PostgreSQL a transaction-scoped advisory lock per association, not its row: the caller has
    already written its instance's row, and requests hold the association's row before they write an
    instance's (``hold_tenant``), so taking the row here could deadlock with them. SQLite has one
    writer at a time, and the caller's write made this transaction that writer.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"backup leftovers of {tenant_id}".encode()).digest()
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": int.from_bytes(digest[:8], "big", signed=True)},
        )
