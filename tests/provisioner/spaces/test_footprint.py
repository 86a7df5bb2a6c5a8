"""A space's share: its shared instance's measured use split evenly between the instance's live spaces."""

from __future__ import annotations

from pathlib import Path

from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.models import ServerMetric
from provisioner.spaces.footprint import space_share
from provisioner.spaces.service import remove_space
from tests.support import factories
from tests.support.spaces import approved_space, offer_shared


def test_two_spaces_share_the_measured_use_evenly_and_a_removed_one_has_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    from provisioner.migrate import upgrade  # noqa: PLC0415 - the database of this test only

    upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url)
    with session_factory(url)() as session:
        server = factories.server(session)
        offer_shared(session)
        first, _ = approved_space(session, settings, factories.tenant(session, "verein-a"))
        second, _ = approved_space(session, settings, factories.tenant(session, "verein-b"))
        assert first.instance_id is not None
        figures = {"cpu_percent": 50.0, "memory_mb": 300.0, "disk_mb": 2048.0}
        session.add(ServerMetric(server_id=server.id, reachable=True, instances={first.instance_id: figures}))
        session.flush()

        share = space_share(session, settings, factories.CATALOG, space=first)
        assert share is not None
        assert (share.spaces, share.figures.measured) == (2, True)
        assert (share.figures.cpu, share.figures.memory_mb, share.figures.disk_gb) == (0.25, 150.0, 1.0)

        remove_space(session, actor=factories.admin_of(second.tenant), space_id=second.id)
        second.state = "removed"  # as its removal job leaves it
        session.flush()
        alone = space_share(session, settings, factories.CATALOG, space=first)
        assert alone is not None
        assert (alone.spaces, alone.figures.memory_mb) == (1, 300.0)
        assert space_share(session, settings, factories.CATALOG, space=second) is None
