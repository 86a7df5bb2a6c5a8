"""The health sweep: every running instance (and space, ``health.spaces``) asked at once over HTTP from
the control plane.

The requests go through libcurl's multi interface (``provisioner.health.multi``, loaded when a sweep
runs) with bounded concurrency and short timeouts; each carries the trust of its server's TLS mode:
the server proxy's own CA for internal TLS, the public CAs for ACME, none for plain HTTP. No
connection is kept alive, so each instance's own certificate is checked. The database part reads
the targets' columns in one query (no ORM object per instance) and writes only changes: one UPDATE
per kind of change and chunk (compare-and-set), their events in one insert, and the time of the
check in one UPDATE per chunk. See benchmarks/results.md for what each part costs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from provisioner.alerts import AlertKind, raise_alert, resolve_alert
from provisioner.alerts.service import AlertStatus
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import HealthCheck
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.errors import NotFound
from provisioner.health.check import answers_as_expected, health_request
from provisioner.health.probe import Health
from provisioner.health.spaces import record_spaces, space_targets
from provisioner.instances.states import InstanceState
from provisioner.models import Alert, HealthEvent, Instance, Server, ServerCa

if TYPE_CHECKING:
    from provisioner.health.multi import Trust
from provisioner.monitoring.metrics import collect_all
from provisioner.proxy.caddy import TlsMode
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

CHUNK = 500


@dataclass(frozen=True)
class Target:
    # An instance's id, or a space's (``health.spaces``): the key of its outcome.
    subject_id: str
    url: str
    address: str
    check: HealthCheck
    # "internal:<server id>", "acme" or "off": which client (and CA) checks this instance.
    trust: str
    # An instance's health as last recorded (a space keeps its own on its row).
    health: str = Health.UNKNOWN.value


@dataclass(frozen=True)
class Outcome:
    health: Health
    detail: str | None = None


@dataclass(frozen=True)
class SweepReport:
    checked: int
    changed: list[tuple[str, str, str]]  # instance or space id, previous, current
    seconds: float


def _trust(settings: Settings, server_id: str, tls_mode: str | None) -> str:
    mode = TlsMode(tls_mode or settings.tls_mode)
    return f"internal:{server_id}" if mode is TlsMode.INTERNAL else mode.value


def targets(
    session: Session, settings: Settings, catalog: Catalog, *, instance_ids: Sequence[str] | None = None
) -> list[Target]:
    # Columns, not ORM objects: an Instance loads its association, server, secrets and ports.
    query = (
        select(
            Instance.id,
            Instance.url,
            Instance.template,
            Instance.health,
            Server.id,
            Server.public_address,
            Server.tls_mode,
        )
        .join(Server, Instance.server_id == Server.id)
        .where(Instance.state == InstanceState.RUNNING.value, Instance.url.is_not(None))
    )
    if instance_ids is not None:
        query = query.where(Instance.id.in_(instance_ids))
    checks: dict[str, HealthCheck | None] = {}
    found = []
    for instance_id, url, template, health, server_id, address, tls_mode in session.execute(query):
        if template not in checks:
            try:
                checks[template] = catalog.get(template).health
            except NotFound:
                checks[template] = None  # a template taken out of the catalog: nothing to ask
        check = checks[template]
        assert url is not None  # noqa: S101 - the query says so
        if check is not None:
            trust = _trust(settings, server_id, tls_mode)
            found.append(Target(instance_id, url, address, check, trust, health))
    return found


def _trusts(session: Session, trusts: Iterable[str]) -> dict[str, Trust]:
    from provisioner.health.multi import Trust  # noqa: PLC0415 - pycurl: loaded when a sweep runs

    found: dict[str, Trust] = {}
    for trust in set(trusts):
        if trust == TlsMode.OFF.value:
            found[trust] = Trust(verify=False)  # plain HTTP: nothing to verify (HTTPS: unchecked)
        elif trust == TlsMode.ACME.value:
            found[trust] = Trust()
        else:
            ca = session.get(ServerCa, trust.removeprefix("internal:"))
            # Without the CA the public roots cannot vouch for an internal certificate: it fails.
            found[trust] = Trust(ca_pem=ca.pem) if ca and ca.pem else Trust()
    return found


def _without_ca(session: Session, trusts: set[str]) -> list[str]:
    wanted = [t.removeprefix("internal:") for t in trusts if t.startswith("internal:")]
    if not wanted:
        return []
    known = set(session.scalars(select(ServerCa.server_id).where(ServerCa.server_id.in_(wanted))))
    return [server_id for server_id in wanted if server_id not in known]


def probe_all(
    found: Sequence[Target], trusts: dict[str, Trust], *, concurrency: int, timeout: float
) -> dict[str, Outcome]:
    from provisioner.health.multi import Answer, Ask, fetch_all  # noqa: PLC0415 - see _trusts

    asks = []
    for target in found:
        request = health_request(target.check, url=target.url, address=target.address)
        asks.append(Ask(target.subject_id, request.url, request.headers["Host"], trusts[target.trust]))
    checks = {t.subject_id: t.check for t in found}
    results: dict[str, Outcome] = {}
    for key, answer in fetch_all(asks, concurrency=concurrency, timeout=timeout).items():
        if not isinstance(answer, Answer):
            results[key] = Outcome(Health.UNHEALTHY, _why(answer.kind))
        elif answers_as_expected(checks[key], answer.status, answer.content):
            results[key] = Outcome(Health.HEALTHY)
        else:
            results[key] = Outcome(Health.UNHEALTHY, f"answered {answer.status}")
    return results


def _why(failure: str) -> str:
    """What a failure kind of ``provisioner.health.multi`` means, in the words alerts and the portal use."""
    if failure == "timeout":
        return "no answer in time"
    if failure == "certificate":
        return "its certificate could not be verified"
    if failure == "not-http":
        return "its answer was not HTTP"
    return f"the request failed ({failure})"


def sweep(settings: Settings, catalog: Catalog, *, instance_ids: Sequence[str] | None = None) -> SweepReport:
    """Ask every running instance (or these) and record what changed; alerts follow from the changes."""
    started = utcnow()
    url = settings.resolved_database_url
    with transaction(url) as session:
        found = targets(session, settings, catalog, instance_ids=instance_ids)
        spaces = [] if instance_ids is not None else _space_targets(session, settings, catalog)
        uncollected = _without_ca(session, {t.trust for t in found + spaces})
    if uncollected:
        # A server's CA is fetched with its first metrics collection; a new server need not wait for it.
        collect_all(settings, server_ids=uncollected)
    with transaction(url) as session:
        trusts = _trusts(session, (t.trust for t in found + spaces))
    outcomes = probe_all(
        found + spaces,
        trusts,
        concurrency=settings.health_concurrency,
        timeout=settings.health_timeout_seconds,
    )
    of_spaces = {t.subject_id: outcomes.pop(t.subject_id) for t in spaces if t.subject_id in outcomes}
    previous = {t.subject_id: t.health for t in found}
    with transaction(url) as session:
        changed = record(session, settings, outcomes, previous)
        changed += record_spaces(
            session, settings, {i: (o.health, o.detail) for i, o in of_spaces.items()}, now=utcnow()
        )
    checked = len(outcomes) + len(of_spaces)
    return SweepReport(checked=checked, changed=changed, seconds=(utcnow() - started).total_seconds())


def _space_targets(session: Session, settings: Settings, catalog: Catalog) -> list[Target]:
    """Each running space at its own address, through its shared instance's server and proxy."""
    return [
        Target(
            t.space_id,
            t.url,
            t.server.public_address,
            t.check,
            _trust(settings, t.server.id, t.server.tls_mode),
        )
        for t in space_targets(session, catalog)
    ]


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def record(
    session: Session, settings: Settings, outcomes: dict[str, Outcome], previous: dict[str, str]
) -> list[tuple[str, str, str]]:
    now = utcnow()
    for chunk in _chunks(list(outcomes)):
        session.execute(update(Instance).where(Instance.id.in_(chunk)).values(health_checked_at=now))
    moves: dict[tuple[str, str], list[str]] = defaultdict(list)
    for instance_id, outcome in outcomes.items():
        before = previous.get(instance_id, Health.UNKNOWN.value)
        if before != outcome.health.value:
            moves[(before, outcome.health.value)].append(instance_id)
    changed = []
    for (before, after), ids in moves.items():
        for chunk in _chunks(ids):
            # Compare-and-set: of two sweeps seeing the same change, one records it.
            moved = session.scalars(
                update(Instance)
                .where(Instance.id.in_(chunk), Instance.health == before)
                .values(health=after)
                .returning(Instance.id)
            ).all()
            changed += [(instance_id, before, after) for instance_id in moved]
    if changed:
        events = [
            {"instance_id": i, "previous": b, "current": a, "detail": outcomes[i].detail, "created_at": now}
            for i, b, a in changed
        ]
        session.execute(insert(HealthEvent), events)
    unhealthy = [i for i, o in outcomes.items() if o.health is Health.UNHEALTHY]
    healthy = {i for i, o in outcomes.items() if o.health is Health.HEALTHY}
    _alert_unhealthy(session, settings, unhealthy, {i: o.detail for i, o in outcomes.items()}, now)
    _resolve_recovered(session, settings, healthy)
    return changed


def _alert_unhealthy(
    session: Session, settings: Settings, ids: Sequence[str], details: dict[str, str | None], now: datetime
) -> None:
    """Alert for instances unhealthy for long enough; an alert already open stays one alert."""
    grace = timedelta(minutes=settings.alert_unhealthy_after_minutes)
    for chunk in _chunks(ids):
        since = dict(
            session.execute(
                select(HealthEvent.instance_id, func.max(HealthEvent.created_at))
                .where(HealthEvent.instance_id.in_(chunk), HealthEvent.current == Health.UNHEALTHY.value)
                .group_by(HealthEvent.instance_id)
            ).all()
        )
        due = [i for i in chunk if since.get(i) is None or now - since[i] >= grace]
        if not due:
            continue
        already = set(
            session.scalars(
                select(Alert.subject_id).where(
                    Alert.open_key.in_([f"{AlertKind.INSTANCE_UNHEALTHY}:{i}" for i in due])
                )
            )
        )
        fresh = [i for i in due if i not in already]
        query = select(Instance.id, Instance.name, Instance.template, Instance.tenant_id)
        for instance_id, name, template, tenant_id in session.execute(query.where(Instance.id.in_(fresh))):
            why = details.get(instance_id) or "no answer"
            raise_alert(
                session,
                settings,
                kind=AlertKind.INSTANCE_UNHEALTHY,
                subject_id=instance_id,
                tenant_id=tenant_id,
                summary=f"{name} ({template}) is unhealthy: {why}",
            )


def _resolve_recovered(session: Session, settings: Settings, healthy: set[str]) -> None:
    # The open alerts of this kind are few; one query for them, not one per chunk of healthy instances.
    open_for = session.scalars(
        select(Alert.subject_id).where(
            Alert.kind == str(AlertKind.INSTANCE_UNHEALTHY), Alert.status == AlertStatus.OPEN.value
        )
    )
    recovered = [i for i in open_for if i in healthy]
    names = dict(session.execute(select(Instance.id, Instance.name).where(Instance.id.in_(recovered))).all())
    for instance_id in recovered:
        resolve_alert(
            session,
            settings,
            kind=AlertKind.INSTANCE_UNHEALTHY,
            subject_id=instance_id,
            summary=f"{names.get(instance_id, instance_id)} is healthy again",
        )


def recent_events(session: Session, instance_id: str, *, limit: int = 20) -> Sequence[HealthEvent]:
    query = select(HealthEvent).where(HealthEvent.instance_id == instance_id)
    return session.scalars(
        query.order_by(HealthEvent.created_at.desc(), HealthEvent.id.desc()).limit(limit)
    ).all()
