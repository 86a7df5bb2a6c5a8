"""Instances in the running state, for tests of what watches running instances."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.instances.service import request_instance
from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Server, Tenant
from tests.support.factories import CATALOG, admin_of, homepage


def running_homepage(session: Session, owner: Tenant, server: Server, name: str = "site") -> Instance:
    """A homepage as a finished deploy leaves it: placed, with a URL, running."""
    return _running(session, homepage(session, owner, name), server, name)


def running_blog(session: Session, owner: Tenant, server: Server, name: str = "blog") -> Instance:
    """A WordPress (a service with data to back up) as a finished deploy leaves it."""
    instance = request_instance(
        session,
        actor=admin_of(owner),
        catalog=CATALOG,
        template="wordpress",
        name=name,
        parameters={},
        tenant_id=None,
    )
    return _running(session, instance, server, name)


def _running(session: Session, instance: Instance, server: Server, name: str) -> Instance:
    owner = instance.tenant
    instance.state = InstanceState.RUNNING.value
    instance.server_id = server.id
    instance.subdomain = f"{name}-{owner.slug}"
    instance.domain = "example.test"
    scheme = "http" if server.tls_mode == "off" else "https"
    instance.url = f"{scheme}://{instance.subdomain}.example.test/"
    session.flush()
    return instance
