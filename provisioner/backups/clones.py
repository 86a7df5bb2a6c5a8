"""A new instance made from an existing one, for a restore into a new instance or a drill, or for the
data of a space moved out of its shared instance.

The clone has the same tenant, template, version and parameters, a name and subdomain of its own, and
a server with room (the source's own when it has some). It takes over the source's generated secrets:
the restored data was made with them (WordPress's database user and its password live inside the
restored database volume), so new ones would lock the service out of its own data.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Template
from provisioner.config import Settings
from provisioner.errors import Conflict
from provisioner.instances.hostnames import assign_domain, check_subdomain_free, flush_live_instance
from provisioner.instances.placement import allocate_host_ports, choose_server
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.models import Instance, InstanceSecret, Server
from provisioner.notices import events as notice_events
from provisioner.tenants.leaving import refuse_while_leaving


def new_instance_like(
    session: Session,
    settings: Settings,
    catalog: Catalog,
    source: Instance,
    *,
    name: str,
    subdomain: str,
    approved: bool = True,
) -> Instance:
    """The clone, approved and placed; or (``approved=False``) a request waiting for an operator."""
    return new_instance(
        session,
        settings,
        catalog,
        tenant_id=source.tenant_id,
        template=source.template,
        version=source.version,
        parameters=dict(source.parameters),
        name=name,
        subdomain=subdomain,
        near=source,
        secrets_of=source,
        approved=approved,
        reason=f"made from {source.id}",
    )


def new_instance(
    session: Session,
    settings: Settings,
    catalog: Catalog,
    *,
    tenant_id: str,
    template: str,
    version: str,
    parameters: dict[str, object],
    name: str,
    subdomain: str,
    near: Instance,
    reason: str,
    secrets_of: Instance | None = None,
    approved: bool = True,
) -> Instance:
    """A new instance of ``tenant_id`` made for data of another (a backup's copy, a space moved out):
    approved and placed on ``near``'s server when it has room, or (``approved=False``) a request."""
    if not approved:
        refuse_while_leaving(session, tenant_id=tenant_id, what="a copy of a service")
    taken = select(Instance.id).where(
        Instance.tenant_id == tenant_id, Instance.name == name, Instance.state != InstanceState.REMOVED
    )
    if session.scalar(taken) is not None:
        raise Conflict(
            f"this association already has an instance called {name!r}",
            errors=[{"field": "body.name", "message": "choose a name not in use"}],
        )
    check_subdomain_free(session, subdomain=subdomain, domain=settings.base_domain, instance_id=None)
    found = catalog.get(template)
    made = Instance(
        tenant_id=tenant_id,
        template=template,
        version=version,
        name=name,
        parameters=parameters,
        subdomain=subdomain,
        domain=settings.base_domain,
        state=InstanceState.REQUESTED.value,
    )
    session.add(made)
    for secret in secrets_of.secrets if secrets_of is not None else []:
        made.secrets.append(InstanceSecret(name=secret.name, encrypted=secret.encrypted, shown=secret.shown))
    flush_live_instance(session, made)
    if not approved:
        notice_events.request_waiting(session, instance=made)
        return made
    set_state(made, InstanceState.APPROVED, reason=reason)
    server = _server_with_room(session, catalog, near, found)
    made.server_id = server.id
    made.server = server
    assign_domain(session, settings, made, server)
    allocate_host_ports(session, found, made, server)
    flush_live_instance(session, made)
    return made


def _server_with_room(session: Session, catalog: Catalog, source: Instance, template: Template) -> Server:
    """The source's own server when it has room: it reaches the repository already, and nothing moves."""
    if source.server_id is not None:
        try:
            return choose_server(session, catalog, need=template.resources, server_id=source.server_id)
        except Conflict:
            pass
    return choose_server(session, catalog, need=template.resources, server_id=None)
