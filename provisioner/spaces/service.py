"""Requesting, approving, rejecting and removing spaces; their work inside the shared instance is a job."""

from __future__ import annotations

import secrets
import string

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Template
from provisioner.catalog.modes import require_mode
from provisioner.catalog.sharing import shared_mode
from provisioner.config import Settings, get_settings
from provisioner.crypto import encrypt
from provisioner.errors import Conflict, InvalidInput, NotFound
from provisioner.instances.hostnames import check_subdomain_free, default_subdomain
from provisioner.instances.service import requested_for
from provisioner.jobs.service import create_job
from provisioner.jobs.states import JobKind
from provisioner.models import Job, Space, Tenant
from provisioner.pagination import Page, paginate
from provisioner.proxy import caddy
from provisioner.spaces.placement import place_space
from provisioner.spaces.states import LIVE, SpaceState, check_transition
from provisioner.tenants.leaving import refuse_while_leaving
from provisioner.tenants.quotas import hold_tenant
from provisioner.timeutil import utcnow

ADMIN_PASSWORD_LENGTH = 24


def set_space_state(space: Space, target: SpaceState, *, reason: str | None = None) -> None:
    check_transition(space.state, target)
    space.state = target.value
    space.state_reason = reason
    space.updated_at = utcnow()


def shared_template(catalog: Catalog, name: str) -> Template:
    template = catalog.get(name)
    if template.sharing is None or template.sharing.shared is None:
        raise InvalidInput(
            f"{template.name} has no shared mode",
            errors=[{"field": "body.template", "message": "this service offers dedicated instances only"}],
        )
    return template


def request_space(
    session: Session,
    *,
    actor: Actor,
    catalog: Catalog,
    template: str,
    name: str,
    tenant_id: str | None,
    subdomain: str | None = None,
    settings: Settings | None = None,
) -> Space:
    settings = settings or get_settings()
    owner = requested_for(session, actor=actor, tenant_id=tenant_id)
    found = shared_template(catalog, template)
    require_mode(session, found, "shared")
    hold_tenant(session, tenant_id=owner)
    refuse_while_leaving(session, tenant_id=owner, what="a new space")
    tenant = session.get_one(Tenant, owner)
    chosen = subdomain or default_subdomain(name, tenant.slug)
    _refuse_a_name_the_service_refuses(found, chosen, field="body.subdomain" if subdomain else "body.name")
    domain = settings.base_domain
    check_subdomain_free(session, subdomain=chosen, domain=domain, instance_id=None)
    taken = select(Space.id).where(
        Space.tenant_id == owner, Space.name == name, Space.state.in_([s.value for s in LIVE])
    )
    if session.scalar(taken) is not None:
        raise Conflict(
            f"this association already has a space called {name!r}",
            errors=[{"field": "body.name", "message": "choose a name not in use"}],
        )
    space = Space(
        tenant_id=owner,
        template=found.name,
        name=name,
        state=SpaceState.REQUESTED.value,
        subdomain=chosen,
        domain=domain,
    )
    session.add(space)
    _flush_live(session, space)
    return space


def _refuse_a_name_the_service_refuses(template: Template, chosen: str, *, field: str) -> None:
    """The space is named in the service after its subdomain: a name the service would refuse is refused
    now, naming the field it came from, rather than by the job that makes the space."""
    why = shared_mode(template.sharing, template.name).names.refusal(chosen)
    if why is not None:
        said = f"{template.name} refuses the name {chosen!r} for a space: choose {why}"
        raise InvalidInput(said, errors=[{"field": field, "message": said}])


def _flush_live(session: Session, space: Space) -> None:
    """The unique indexes decide between two requests that checked at the same moment."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        said = str(exc.orig)
        if "uq_spaces_live_hostname" in said or "spaces.subdomain" in said:
            hostname = f"{space.subdomain}.{space.domain}"
            raise Conflict(
                f"{hostname} is taken already",
                errors=[{"field": "body.subdomain", "message": f"{hostname} is taken; choose another"}],
            ) from exc
        raise Conflict(
            f"this association already has a space called {space.name!r}",
            errors=[{"field": "body.name", "message": "choose a name not in use"}],
        ) from exc


def get_space(session: Session, *, actor: Actor, space_id: str) -> Space:
    space = session.get(Space, space_id)
    if space is None or not actor.can_see_tenant(space.tenant_id):
        raise NotFound("space not found")
    return space


def list_spaces(
    session: Session, *, actor: Actor, tenant_id: str | None, limit: int, cursor: str | None
) -> Page[Space]:
    query = select(Space)
    if not actor.is_operator:
        query = query.where(Space.tenant_id == actor.tenant_id)
    if tenant_id is not None:
        query = query.where(Space.tenant_id == tenant_id)
    return paginate(session, query, Space, limit=limit, cursor=cursor)


def approve_space(
    session: Session,
    *,
    actor: Actor,
    catalog: Catalog,
    space_id: str,
    quota_members: int | None = None,
    quota_storage_mb: int | None = None,
    server_id: str | None = None,
    settings: Settings | None = None,
) -> Job:
    """Place the space into a shared instance with room (a new one when none has) and queue its making:
    one job that deploys a new shared instance first, then makes the space in it. ``server_id``: the
    shared instance on that server (made there when it has none with room)."""
    actor.require_operator()
    settings = settings or get_settings()
    space = get_space(session, actor=actor, space_id=space_id)
    hold_tenant(session, tenant_id=space.tenant_id)
    refuse_while_leaving(session, tenant_id=space.tenant_id, what="approving a space")
    template = shared_template(catalog, space.template)
    set_space_state(space, SpaceState.PLACED)
    instance = place_space(session, settings, catalog, space=space, template=template, server_id=server_id)
    assert instance.server is not None  # noqa: S101 - placed instances have their server
    domain = caddy.base_domain(settings, instance.server)
    check_subdomain_free(
        session, subdomain=space.subdomain, domain=domain, instance_id=None, space_id=space.id
    )
    space.domain = domain
    space.url = caddy.instance_url(caddy.tls_mode(settings, instance.server), f"{space.subdomain}.{domain}")
    space.instance_id = instance.id
    space.instance = instance
    space.quota_members = quota_members
    space.quota_storage_mb = quota_storage_mb
    space.admin_user = shared_mode(template.sharing, template.name).admin_user.replace(
        "{space}", space.subdomain
    )[:64]
    password = "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(ADMIN_PASSWORD_LENGTH)
    )
    space.encrypted_admin_password = encrypt(settings, password)
    _flush_live(session, space)
    return _space_job(session, space, JobKind.SPACE_CREATE, actor)


def _space_job(session: Session, space: Space, kind: JobKind, actor: Actor) -> Job:
    assert space.instance is not None  # noqa: S101 - only placed spaces get jobs
    return create_job(
        session, instance=space.instance, kind=kind, requested_by=actor.principal, space_id=space.id
    )


def reject_space(session: Session, *, actor: Actor, space_id: str, reason: str) -> Space:
    actor.require_operator()
    space = get_space(session, actor=actor, space_id=space_id)
    set_space_state(space, SpaceState.REJECTED, reason=reason)
    return space


def remove_space(session: Session, *, actor: Actor, space_id: str) -> Job | None:
    """Queue the space's removal; a space still waiting for approval goes at once (None: no job)."""
    space = get_space(session, actor=actor, space_id=space_id)
    actor.require_write(space.tenant_id, "space")
    if space.state == SpaceState.REQUESTED:
        set_space_state(space, SpaceState.REMOVED, reason="withdrawn before approval")
        return None
    if space.state in (SpaceState.REMOVED, SpaceState.REJECTED, SpaceState.REMOVING):
        raise Conflict(f"the space is {space.state} already")
    pending = select(Job.id).where(
        Job.space_id == space.id, Job.kind == JobKind.SPACE_REMOVE.value, Job.finished_at.is_(None)
    )
    if session.scalar(pending.limit(1)) is not None:
        raise Conflict("the space is about to be removed")
    return _space_job(session, space, JobKind.SPACE_REMOVE, actor)


def space_jobs(session: Session, *, space: Space) -> list[Job]:
    """The space's jobs, newest first (the space was found visible to the caller already)."""
    query = select(Job).where(Job.space_id == space.id).order_by(Job.created_at.desc(), Job.id.desc())
    return list(session.scalars(query).unique())
