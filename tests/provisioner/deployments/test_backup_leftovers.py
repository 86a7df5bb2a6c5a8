"""Which of an association's backup leftovers on a server a removal deletes: the prune marker of what
goes always, the association's restic cache only with the last of its instances and spaces there, also
when two removals are decided at the same moment (real PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.deployments.backup_leftovers import removal_leftovers
from provisioner.deployments.plan import build_run_spec
from provisioner.instances.service import approve_instance
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind
from provisioner.models import Instance, Server, Tenant
from provisioner.spaces.runs import space_run_spec
from tests.support import factories
from tests.support.db import migrated
from tests.support.races import at_once
from tests.support.spaces import inseparable_space

ROOT = "/srv/provisioner"


def _placed(session: Session, owner_id: str, name: str, server_id: str) -> Instance:
    instance = factories.homepage(session, session.get_one(Tenant, owner_id), name)
    approve_instance(
        session,
        actor=factories.OPERATOR,
        catalog=factories.CATALOG,
        instance_id=instance.id,
        server_id=server_id,
    )
    return instance


def _lab(session: Session) -> tuple[str, Server, Server, Instance, Instance]:
    """An association with two sites on one server and another server of the lab's."""
    owner = factories.tenant(session)
    here, there = factories.server(session, "s1"), factories.server(session, "s2")
    first = _placed(session, owner.id, "site", here.id)
    second = _placed(session, owner.id, "blog", here.id)
    session.flush()
    return owner.id, here, there, first, second


def test_the_cache_goes_with_the_last_instance_or_space_on_the_server(db_url: str) -> None:
    with session_factory(db_url)() as session:
        owner, here, there, first, second = _lab(session)
        cache, marker = f"{ROOT}/backup/cache/{owner}", f"{ROOT}/backup/pruned/{first.id}"
        # Another site of it stays: the marker only.
        assert removal_leftovers(session, server=here, tenant_id=owner, instance_id=first.id) == [marker]
        # On a server where nothing else of it runs (a move's old server, a drill's throwaway's).
        assert removal_leftovers(session, server=there, tenant_id=owner, instance_id=first.id) == [
            marker,
            cache,
        ]
        # The other site going too (its removal running): the first's removal is the last.
        second.state = InstanceState.REMOVING.value
        assert removal_leftovers(session, server=here, tenant_id=owner, instance_id=first.id) == [
            marker,
            cache,
        ]
        # A space of it in a shared instance on the server keeps the cache, until it goes itself.
        shared = _placed(session, factories.tenant(session, "lab").id, "shared", here.id)
        space = inseparable_space(session, tenant_id=owner, instance_id=shared.id)
        assert removal_leftovers(session, server=here, tenant_id=owner, instance_id=first.id) == [marker]
        assert removal_leftovers(session, server=here, tenant_id=owner, space_id=space.id) == [
            f"{ROOT}/backup/pruned/{space.id}"
        ]
        first.state = InstanceState.REMOVED.value
        assert removal_leftovers(session, server=here, tenant_id=owner, space_id=space.id) == [
            f"{ROOT}/backup/pruned/{space.id}",
            cache,
        ]


def test_the_removal_and_the_space_removal_runs_carry_them(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, ssh_key_path=tmp_path / "key")
    (tmp_path / "key").write_text("a key\n")
    catalog = Catalog.from_dir(settings.resolved_templates_dir)
    with session_factory(db_url)() as session:
        owner, here, _there, first, second = _lab(session)
        second.state = InstanceState.REMOVED.value
        spec = build_run_spec(settings, catalog, first, JobKind.REMOVE)
        assert spec.variables["backup_leftovers"] == [
            f"{ROOT}/backup/pruned/{first.id}",
            f"{ROOT}/backup/cache/{owner}",
        ]
        shared = _placed(session, factories.tenant(session, "lab").id, "shared", here.id)
        space = inseparable_space(session, tenant_id=owner, instance_id=shared.id)
        space.template = "wordpress"
        wordpress = catalog.get("wordpress")
        unroute = space_run_spec(settings, wordpress, space=space, instance=shared, action="remove")
        assert unroute.variables["backup_leftovers"] == [f"{ROOT}/backup/pruned/{space.id}"]  # the site stays
        made = space_run_spec(settings, wordpress, space=space, instance=shared, action="create")
        assert made.variables["backup_leftovers"] == []


def test_two_removals_at_the_same_moment_leave_no_cache_behind(tmp_path: Path, postgres: None) -> None:
    with migrated("postgresql", tmp_path) as url:
        with session_factory(url)() as session:
            owner, here, _there, first, second = _lab(session)
            ids = [first.id, second.id]
            session.commit()

        marked = threading.Barrier(2)

        def removal(n: int, session: Session) -> object:
            # As a removal's start does: its instance marked as going, then its run decided; both
            # marked before either decides, neither committed yet.
            session.get_one(Instance, ids[n]).state = InstanceState.REMOVING.value
            session.flush()
            marked.wait()
            return removal_leftovers(
                session, server=session.get_one(Server, here.id), tenant_id=owner, instance_id=ids[n]
            )

        decided = at_once(url, 2, removal)
        cache = f"{ROOT}/backup/cache/{owner}"
        # The one decided second saw the first going: the cache goes with it.
        assert sorted(cache in paths for paths in decided if isinstance(paths, list)) == [False, True]
