"""Instances in the running state, for tests of what watches running instances."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.instances.states import InstanceState
from provisioner.models import Instance, Server, Tenant
from tests.support.factories import homepage


def running_homepage(session: Session, owner: Tenant, server: Server, name: str = "site") -> Instance:
    """A homepage as a finished deploy leaves it: placed, with a URL, running."""
    instance = homepage(session, owner, name)
    instance.state = InstanceState.RUNNING.value
    instance.server_id = server.id
    instance.subdomain = f"{name}-{owner.slug}"
    instance.domain = "example.test"
    scheme = "http" if server.tls_mode == "off" else "https"
    instance.url = f"{scheme}://{instance.subdomain}.example.test/"
    session.flush()
    return instance
