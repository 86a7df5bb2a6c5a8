"""What backups leave on a server beside an instance, and what of it a removal takes away.

restic keeps a cache on each server where it runs (the repository's index, snapshots and tree packs,
encrypted): a folder per association, ``<root_dir>/backup/cache/<tenant id>``, shared by the runs of
its instances and spaces there. Each instance or space also has a marker of its last pruning. A
removal deletes the marker of what it removes, and the association's cache once nothing else of the
association stays on that server, so an association's last removal there (an offboarding's too)
leaves nothing of its backups behind.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Server, Space, Tenant

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

    Decided when the removal's run is made, after its instance or space was marked as going. The
    association's row is held meanwhile: two removals at once are decided one after the other, so the
    later one sees the first as going and deletes the cache (a removal that fails later leaves a cache
    deleted under an instance that stays: restic makes it again at its next run).
    """
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
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
