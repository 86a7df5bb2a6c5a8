"""Instances found by what an operator filters on: association, service, state, health, server."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioner.auth.actor import Actor
from provisioner.models import Instance
from provisioner.pagination import Page, paginate


@dataclass(frozen=True)
class InstanceFilter:
    tenant_id: str | None = None
    template: str | None = None
    state: str | None = None
    health: str | None = None
    server_id: str | None = None


def find_instances(
    session: Session, *, actor: Actor, where: InstanceFilter, limit: int, cursor: str | None
) -> Page[Instance]:
    query = select(Instance)
    if not actor.is_operator:
        query = query.where(Instance.tenant_id == actor.tenant_id)
    for column, wanted in (
        (Instance.tenant_id, where.tenant_id),
        (Instance.template, where.template),
        (Instance.state, where.state),
        (Instance.health, where.health),
        (Instance.server_id, where.server_id),
    ):
        if wanted:
            query = query.where(column == wanted)
    return paginate(session, query, Instance, limit=limit, cursor=cursor)
