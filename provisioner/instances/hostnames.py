"""Each instance answers at ``<subdomain>.<domain>``: a DNS label the tenant may choose, unique per domain."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioner.config import Settings
from provisioner.errors import Conflict, InvalidInput
from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Server, Space
from provisioner.proxy import caddy

DNS_LABEL = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
# Names that would confuse visitors or collide with what a lab usually runs on its own domain.
RESERVED = {"www", "mail", "smtp", "imap", "api", "admin", "portal", "proxy", "localhost"}
_GONE = (InstanceState.REMOVED.value, InstanceState.REJECTED.value)


def default_subdomain(name: str, tenant_slug: str) -> str:
    """``<name>-<tenant slug>`` cut to one DNS label; both parts are validated slugs already."""
    return f"{name}-{tenant_slug}"[:63].rstrip("-")


def check_subdomain_free(
    session: Session, *, subdomain: str, domain: str, instance_id: str | None, space_id: str | None = None
) -> None:
    """An address is taken by a live instance or a live space (of a shared instance) alike."""
    if not re.fullmatch(DNS_LABEL, subdomain) or subdomain in RESERVED:
        raise InvalidInput(
            f"{subdomain!r} cannot be used as a subdomain",
            errors=[
                {
                    "field": "body.subdomain",
                    "message": "1 to 63 lower-case letters, digits and inner hyphens; not a reserved name",
                }
            ],
        )
    taken = select(Instance.id).where(
        Instance.subdomain == subdomain,
        Instance.domain == domain,
        Instance.state.not_in(_GONE),
    )
    if instance_id is not None:
        taken = taken.where(Instance.id != instance_id)
    by_space = select(Space.id).where(
        Space.subdomain == subdomain, Space.domain == domain, Space.state.not_in(_GONE)
    )
    if space_id is not None:
        by_space = by_space.where(Space.id != space_id)
    if session.scalar(taken.limit(1)) is not None or session.scalar(by_space.limit(1)) is not None:
        raise Conflict(
            f"{subdomain}.{domain} is taken already",
            errors=[{"field": "body.subdomain", "message": f"{subdomain}.{domain} is taken; choose another"}],
        )


def flush_live_instance(session: Session, instance: Instance) -> None:
    """Write the instance; a name or hostname another request took at the same moment answers 409 with
    the field, as the check before it would have (the database's unique indexes decide)."""
    try:
        session.flush()
    except IntegrityError as exc:
        said = str(exc.orig)
        if "uq_instances_live_hostname" in said or "instances.subdomain" in said:
            hostname = f"{instance.subdomain}.{instance.domain}"
            raise Conflict(
                f"{hostname} is taken already",
                errors=[{"field": "body.subdomain", "message": f"{hostname} is taken; choose another"}],
            ) from exc
        if "uq_instances_live_name" in said or "instances.name" in said:
            raise Conflict(
                f"this association already has an instance called {instance.name!r}",
                errors=[{"field": "body.name", "message": "choose a name not in use"}],
            ) from exc
        raise


def assign_domain(session: Session, settings: Settings, instance: Instance, server: Server) -> None:
    """At placement: the server's own domain (or the lab's), checked again, and the instance's URL."""
    assert instance.subdomain is not None  # noqa: S101 - set at request time
    domain = caddy.base_domain(settings, server)
    check_subdomain_free(session, subdomain=instance.subdomain, domain=domain, instance_id=instance.id)
    instance.domain = domain
    instance.url = caddy.instance_url(caddy.tls_mode(settings, server), f"{instance.subdomain}.{domain}")
