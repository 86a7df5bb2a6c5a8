"""The health sweep: every running instance (and space, ``health.spaces``) asked at once over HTTP from
the control plane.

One asyncio loop with bounded concurrency and short timeouts; each request carries the SSL context of
its way of checking certificates: the server proxy's own CA for internal TLS, the public CAs for ACME,
none for plain HTTP. The requests go over asyncio's own streams (``provisioner.health.fetch``), not a
general HTTP client: httpx's and then aiohttp's machinery per request cost most of a sweep's time
(see benchmarks/results.md). No connection is kept alive, so each instance's own certificate is
checked. Only changes are written row by row (each with a
``health_events`` row); the rest is one UPDATE per chunk.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import uvloop
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from provisioner.alerts import AlertKind, raise_alert, resolve_alert
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import HealthCheck
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.errors import NotFound
from provisioner.health.check import answers_as_expected, health_request
from provisioner.health.fetch import BadAnswer, fetch
from provisioner.health.probe import Health
from provisioner.health.spaces import record_spaces, space_targets
from provisioner.health.tls import trusting
from provisioner.instances.states import InstanceState
from provisioner.models import Alert, HealthEvent, Instance, Server, ServerCa
from provisioner.monitoring.metrics import collect_all
from provisioner.proxy.caddy import TlsMode, tls_mode
from provisioner.timeutil import utcnow

log = logging.getLogger(__name__)

CHUNK = 500
# libuv's event loop: the sweep is thousands of short connections, where asyncio's own loop spends
# most of the sweep's CPU (see benchmarks/results.md).
LOOP_FACTORY: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop


@dataclass(frozen=True)
class Target:
    # An instance's id, or a space's (``health.spaces``): the key of its outcome.
    subject_id: str
    url: str
    address: str
    check: HealthCheck
    # "internal:<server id>", "acme" or "off": which client (and CA) checks this instance.
    trust: str


@dataclass(frozen=True)
class Outcome:
    health: Health
    detail: str | None = None


@dataclass(frozen=True)
class SweepReport:
    checked: int
    changed: list[tuple[str, str, str]]  # instance or space id, previous, current
    seconds: float


def _trust(settings: Settings, server: Server) -> str:
    mode = tls_mode(settings, server)
    return f"internal:{server.id}" if mode is TlsMode.INTERNAL else mode.value


def targets(
    session: Session, settings: Settings, catalog: Catalog, *, instance_ids: Sequence[str] | None = None
) -> list[Target]:
    query = select(Instance).where(
        Instance.state == InstanceState.RUNNING.value,
        Instance.url.is_not(None),
        Instance.server_id.is_not(None),
    )
    if instance_ids is not None:
        query = query.where(Instance.id.in_(instance_ids))
    found = []
    for instance in session.scalars(query).unique():
        assert instance.server is not None  # noqa: S101 - the query says so
        assert instance.url is not None  # noqa: S101
        try:
            check = catalog.get(instance.template).health
        except NotFound:
            continue  # a template taken out of the catalog: nothing to ask
        address = instance.server.public_address
        found.append(Target(instance.id, instance.url, address, check, _trust(settings, instance.server)))
    return found


def _contexts(session: Session, trusts: Iterable[str]) -> dict[str, ssl.SSLContext | None]:
    contexts: dict[str, ssl.SSLContext | None] = {}
    for trust in set(trusts):
        if trust == TlsMode.OFF.value:
            contexts[trust] = None  # plain HTTP: nothing to verify
        elif trust == TlsMode.ACME.value:
            contexts[trust] = ssl.create_default_context()
        else:
            ca = session.get(ServerCa, trust.removeprefix("internal:"))
            contexts[trust] = trusting(ca.pem if ca else None)
    return contexts


def _without_ca(session: Session, trusts: set[str]) -> list[str]:
    wanted = [t.removeprefix("internal:") for t in trusts if t.startswith("internal:")]
    if not wanted:
        return []
    known = set(session.scalars(select(ServerCa.server_id).where(ServerCa.server_id.in_(wanted))))
    return [server_id for server_id in wanted if server_id not in known]


async def probe_all(
    found: Sequence[Target],
    contexts: dict[str, ssl.SSLContext | None],
    *,
    concurrency: int,
    timeout: float,
) -> dict[str, Outcome]:
    semaphore = asyncio.Semaphore(concurrency)
    results: dict[str, Outcome] = {}

    async def one(target: Target) -> None:
        request = health_request(target.check, url=target.url, address=target.address)
        context = contexts[target.trust]
        if context is None and request.url.startswith("https:"):
            context = _unverified()  # the server's TLS mode trusts nothing to check against
        async with semaphore:  # the timeout counts from when a request may start
            try:
                answer = await fetch(
                    request.url,
                    host=request.headers["Host"],
                    server_hostname=request.extensions["sni_hostname"] or None,
                    context=context,
                    timeout=timeout,
                )
            except (OSError, TimeoutError, BadAnswer, ValueError) as exc:
                results[target.subject_id] = Outcome(Health.UNHEALTHY, _why(exc))
                return
        if answers_as_expected(target.check, answer.status, answer.content):
            results[target.subject_id] = Outcome(Health.HEALTHY)
        else:
            results[target.subject_id] = Outcome(Health.UNHEALTHY, f"answered {answer.status}")

    await asyncio.gather(*(one(t) for t in found))
    return results


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "its certificate could not be verified"
    if isinstance(exc, BadAnswer):
        return "its answer was not HTTP"
    return f"the request failed ({type(exc).__name__})"


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
        contexts = _contexts(session, (t.trust for t in found + spaces))
        previous = _health_of(session, [t.subject_id for t in found])
    with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
        outcomes = runner.run(
            probe_all(
                found + spaces,
                contexts,
                concurrency=settings.health_concurrency,
                timeout=settings.health_timeout_seconds,
            )
        )
    of_spaces = {t.subject_id: outcomes.pop(t.subject_id) for t in spaces if t.subject_id in outcomes}
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
        Target(t.space_id, t.url, t.server.public_address, t.check, _trust(settings, t.server))
        for t in space_targets(session, catalog)
    ]


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _health_of(session: Session, ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(ids):
        found |= dict(
            session.execute(select(Instance.id, Instance.health).where(Instance.id.in_(chunk))).all()
        )
    return found


def record(
    session: Session, settings: Settings, outcomes: dict[str, Outcome], previous: dict[str, str]
) -> list[tuple[str, str, str]]:
    now = utcnow()
    for chunk in _chunks(list(outcomes)):
        session.execute(update(Instance).where(Instance.id.in_(chunk)).values(health_checked_at=now))
    changed = []
    for instance_id, outcome in outcomes.items():
        before = previous.get(instance_id, Health.UNKNOWN.value)
        if before == outcome.health.value:
            continue
        # Compare-and-set: of two sweeps seeing the same change, one records it.
        moved = session.execute(
            update(Instance)
            .where(Instance.id == instance_id, Instance.health == before)
            .values(health=outcome.health.value)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            session.add(
                HealthEvent(
                    instance_id=instance_id,
                    previous=before,
                    current=outcome.health.value,
                    detail=outcome.detail,
                    created_at=now,
                )
            )
            changed.append((instance_id, before, outcome.health.value))
    session.flush()
    unhealthy = [i for i, o in outcomes.items() if o.health is Health.UNHEALTHY]
    healthy = [i for i, o in outcomes.items() if o.health is Health.HEALTHY]
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
        for instance in session.scalars(
            select(Instance).where(Instance.id.in_([i for i in due if i not in already]))
        ):
            why = details.get(instance.id) or "no answer"
            summary = f"{instance.name} ({instance.template}) is unhealthy: {why}"
            raise_alert(
                session,
                settings,
                kind=AlertKind.INSTANCE_UNHEALTHY,
                subject_id=instance.id,
                tenant_id=instance.tenant_id,
                summary=summary,
            )


def _resolve_recovered(session: Session, settings: Settings, ids: Sequence[str]) -> None:
    for chunk in _chunks(ids):
        keys = [f"{AlertKind.INSTANCE_UNHEALTHY}:{i}" for i in chunk]
        for alert in session.scalars(select(Alert).where(Alert.open_key.in_(keys))):
            instance = session.get(Instance, alert.subject_id)
            name = instance.name if instance else alert.subject_id
            resolve_alert(
                session,
                settings,
                kind=AlertKind.INSTANCE_UNHEALTHY,
                subject_id=alert.subject_id,
                summary=f"{name} is healthy again",
            )


def recent_events(session: Session, instance_id: str, *, limit: int = 20) -> Sequence[HealthEvent]:
    query = select(HealthEvent).where(HealthEvent.instance_id == instance_id)
    return session.scalars(
        query.order_by(HealthEvent.created_at.desc(), HealthEvent.id.desc()).limit(limit)
    ).all()
