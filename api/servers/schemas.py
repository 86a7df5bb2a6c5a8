"""Bodies of the servers endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.base_schemas import Input
from api.jobs.schemas import JobOut
from api.monitoring.schemas import ServerMetricsOut
from provisioner.catalog.base import NAME_PATTERN

HOST = (
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


UNIX_USER = r"^[a-z_][a-z0-9_-]{0,31}$"


ABS_PATH = r"^/(?:[A-Za-z0-9._-]+/?)*$"


class Capacity(BaseModel):
    cpu: float = Field(ge=0)
    memory_mb: int = Field(ge=0)
    disk_gb: int = Field(ge=0)


class CapacityIn(Input):
    cpu: int = Field(gt=0, le=1024)
    memory_mb: int = Field(gt=0)
    disk_gb: int = Field(gt=0)


class ServerIn(Input):
    name: str = Field(pattern=NAME_PATTERN)
    address: str = Field(pattern=HOST, max_length=253)
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(default="root", pattern=UNIX_USER)
    capacity: CapacityIn
    public_address: str | None = Field(default=None, pattern=HOST, max_length=253)
    root_dir: str = Field(default="/srv/provisioner", pattern=ABS_PATH, max_length=255)
    host_key: str | None = Field(
        default=None,
        max_length=2000,
        description="OpenSSH public host key; read from the server when left out",
    )
    base_domain: str | None = Field(
        default=None, pattern=HOST, max_length=253, description="instances get <subdomain>.<this>"
    )
    tls_mode: Literal["acme", "internal", "off"] | None = None


class ServerOut(BaseModel):
    id: str
    name: str
    address: str
    port: int
    user: str
    connection: str
    public_address: str
    root_dir: str
    host_key: str | None
    host_key_fingerprint: str | None
    capacity: Capacity
    used: Capacity
    free: Capacity
    base_domain: str | None
    tls_mode: str | None
    draining: bool
    reachable: bool | None
    checked_at: datetime | None
    created_at: datetime
    metrics: ServerMetricsOut | None = None


class ServerPatch(Input):
    """Only the fields sent change."""

    capacity: CapacityIn | None = None
    base_domain: str | None = Field(default=None, pattern=HOST, max_length=253)
    tls_mode: Literal["acme", "internal", "off"] | None = None
    draining: bool | None = None


class MoveOut(BaseModel):
    instance: str
    to_server: str
    job: JobOut


class DrainOut(BaseModel):
    server: ServerOut
    moves: list[MoveOut]
