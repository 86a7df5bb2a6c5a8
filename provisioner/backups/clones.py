"""A new instance made from an existing one, for a restore into a new instance or a drill.

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
    if not approved:
        refuse_while_leaving(session, tenant_id=source.tenant_id, what="a copy of a service")
    taken = select(Instance.id).where(
        Instance.tenant_id == source.tenant_id, Instance.name == name, Instance.state != InstanceState.REMOVED
    )
    if session.scalar(taken) is not None:
        raise Conflict(
            f"this association already has an instance called {name!r}",
            errors=[{"field": "body.name", "message": "choose a name not in use"}],
        )
    check_subdomain_free(session, subdomain=subdomain, domain=settings.base_domain, instance_id=None)
    template = catalog.get(source.template)
    clone = Instance(
        tenant_id=source.tenant_id,
        template=source.template,
        version=source.version,
        name=name,
        parameters=dict(source.parameters),
        subdomain=subdomain,
        domain=settings.base_domain,
        state=InstanceState.REQUESTED.value,
    )
    session.add(clone)
    for secret in source.secrets:
        clone.secrets.append(InstanceSecret(name=secret.name, encrypted=secret.encrypted, shown=secret.shown))
    flush_live_instance(session, clone)
    if not approved:
        notice_events.request_waiting(session, instance=clone)
        return clone
    set_state(clone, InstanceState.APPROVED, reason=f"made from {source.id}")
    server = _server_with_room(session, catalog, source, template)
    clone.server_id = server.id
    clone.server = server
    assign_domain(session, settings, clone, server)
    allocate_host_ports(session, template, clone, server)
    flush_live_instance(session, clone)
    return clone


def _server_with_room(session: Session, catalog: Catalog, source: Instance, template: Template) -> Server:
    """The source's own server when it has room: it reaches the repository already, and nothing moves."""
    if source.server_id is not None:
        try:
            return choose_server(session, catalog, need=template.resources, server_id=source.server_id)
        except Conflict:
            pass
    return choose_server(session, catalog, need=template.resources, server_id=None)
