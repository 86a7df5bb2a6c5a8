from __future__ import annotations

import pytest

from provisioner.db import session_factory
from provisioner.errors import Conflict
from provisioner.instances.placement import choose_server, free_capacity
from provisioner.instances.service import approve_instance
from tests.support import factories

NEED = factories.CATALOG.get("homepage").resources


def test_the_server_with_most_free_memory_is_chosen(db_url: str) -> None:
    with session_factory(db_url)() as session:
        factories.server(session, "small", memory_mb=256)
        big = factories.server(session, "big", memory_mb=4096)
        assert choose_server(session, factories.CATALOG, need=NEED, server_id=None).id == big.id


def test_approval_reserves_capacity_and_a_hostname(db_url: str) -> None:
    with session_factory(db_url)() as session:
        owner = factories.tenant(session)
        server = factories.server(session, memory_mb=128)
        first = factories.homepage(session, owner, "one")
        approve_instance(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, instance_id=first.id, server_id=None
        )
        assert first.port is None, "web traffic goes through the server's proxy, not a port of its own"
        assert first.url == "https://one-verein-a.localhost/"
        assert free_capacity(session, factories.CATALOG, server).memory_mb == 128 - NEED.memory_mb
        second = factories.homepage(session, owner, "two")
        approve_instance(
            session,
            actor=factories.OPERATOR,
            catalog=factories.CATALOG,
            instance_id=second.id,
            server_id=None,
        )
        third = factories.homepage(session, owner, "three")
        with pytest.raises(Conflict, match="no server has enough free capacity"):
            approve_instance(
                session,
                actor=factories.OPERATOR,
                catalog=factories.CATALOG,
                instance_id=third.id,
                server_id=None,
            )
