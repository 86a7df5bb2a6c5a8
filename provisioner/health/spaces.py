"""Each running space asked at its own address in the same sweep as the instances, with the check its
template names for a space (``sharing.shared.health``): a shared instance that answers says nothing of
one association's site inside it.

A space's health lives on its row; it is alerted on like an instance's once it has been unhealthy for
the grace period, and the alert is resolved when it answers again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.alerts import AlertKind, raise_alert, resolve_alert
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import HealthCheck
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings
from provisioner.errors import NotFound
from provisioner.health.probe import Health
from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Server, Space

RUNNING = "running"


@dataclass(frozen=True)
class SpaceTarget:
    space_id: str
    url: str
    server: Server
    check: HealthCheck


def space_targets(session: Session, catalog: Catalog) -> list[SpaceTarget]:
    """Running spaces in running shared instances: a space of a stopped instance is the instance's alert."""
    query = (
        select(Space, Instance)
        .join(Instance, Space.instance_id == Instance.id)
        .where(
            # SpaceState.RUNNING: provisioner.spaces sits above this package (through deployments).
            Space.state == RUNNING,
            Space.url.is_not(None),
            Instance.state == InstanceState.RUNNING.value,
            Instance.server_id.is_not(None),
        )
        .order_by(Space.id)
    )
    found = []
    for space, instance in session.execute(query).unique():
        try:
            said = shared_mode(catalog.get(space.template).sharing, space.template).health
        except (NotFound, ValueError):
            continue  # its template left the catalog or no longer shares: nothing to ask
        assert space.url is not None  # noqa: S101 - the query says so
        assert instance.server is not None  # noqa: S101
        check = HealthCheck(path=said.path, expect_status=said.expect_status)
        found.append(SpaceTarget(space.id, space.url, instance.server, check))
    return found


def record_spaces(
    session: Session,
    settings: Settings,
    outcomes: dict[str, tuple[Health, str | None]],
    *,
    now: datetime,
) -> list[tuple[str, str, str]]:
    """Store each space's health; alert on those unhealthy past the grace, resolve those well again.
    Returns the changes as (space id, previous, current)."""
    grace = timedelta(minutes=settings.alert_unhealthy_after_minutes)
    changed: list[tuple[str, str, str]] = []
    if not outcomes:
        return changed
    # Locked: of two sweeps at once, the second reads what the first wrote (one "since", one alert).
    query = select(Space).where(Space.id.in_(list(outcomes))).order_by(Space.id)
    for space in session.scalars(query.with_for_update(of=Space)).unique():
        health, detail = outcomes[space.id]
        before = space.health
        space.health, space.health_checked_at = health.value, now
        if before != health.value:
            changed.append((space.id, before, health.value))
        if health is Health.HEALTHY:
            if space.unhealthy_since is not None:  # only then can an alert of it be open
                space.unhealthy_since = None
                _resolve(session, settings, space)
            continue
        space.unhealthy_since = space.unhealthy_since or now
        if now - space.unhealthy_since >= grace:
            summary = f"{space.name} ({space.template}) is unhealthy: {detail or 'no answer'}"
            raise_alert(
                session,
                settings,
                kind=AlertKind.SPACE_UNHEALTHY,
                subject_id=space.id,
                tenant_id=space.tenant_id,
                summary=summary,
            )
    session.flush()
    return changed


def _resolve(session: Session, settings: Settings, space: Space) -> None:
    resolve_alert(
        session,
        settings,
        kind=AlertKind.SPACE_UNHEALTHY,
        subject_id=space.id,
        summary=f"{space.name} is healthy again",
    )
