"""Request and response bodies of the HTTP contract (see the API design document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.backup_schemas import BackupStatusOut
from provisioner.auth.actor import Role
from provisioner.catalog.base import NAME_PATTERN
from provisioner.health.probe import Health
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.spaces.states import SpaceState
from provisioner.tenants.rules import EMAIL, SLUG

T = TypeVar("T")

HOST = (
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
UNIX_USER = r"^[a-z_][a-z0-9_-]{0,31}$"
ABS_PATH = r"^/(?:[A-Za-z0-9._-]+/?)*$"


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # No field means a NUL character, and PostgreSQL cannot store one: refuse it as the field's fault.
        # (Template parameters are checked with the template's schema, naming each nested field.)
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = None


class TenantIn(Input):
    slug: str = Field(pattern=SLUG, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    contact_email: str = Field(pattern=EMAIL, max_length=254)
    language: Literal["de", "en"] | None = Field(
        default=None,
        description="what the association is written to in until its people choose (null: the lab's, German)",
    )


class Quota(BaseModel):
    instances: int
    memory_mb: int
    disk_gb: int


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str
    contact_email: str
    language: str | None = None
    created_at: datetime
    quota: Quota | None = None
    # What the tenant's instances (not removed or rejected) reserve; on single reads only.
    usage: Quota | None = None


class TokenIn(Input):
    role: Literal["admin", "member"]
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int = Field(default=90, ge=1, le=365, description="the token stops working then")


class TokenOut(BaseModel):
    id: str
    name: str
    role: Role
    tenant: str | None
    expires_at: datetime
    token: str = Field(description="shown once; store it now")


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


class Localized(BaseModel):
    de: str
    en: str


class TemplateOut(BaseModel):
    name: str
    title: Localized
    description: Localized
    category: str
    icon: str
    versions: list[str]
    default_version: str
    parameters: dict[str, Any]
    resources: Capacity
    offered_modes: list[str] = Field(
        default=["dedicated"], description="dedicated, shared: the ways the service can be run"
    )
    modes: list[str] = Field(
        default=["dedicated"], description="the modes the lab lets associations request (operators choose)"
    )


class ModesIn(Input):
    modes: list[Literal["dedicated", "shared"]] = Field(min_length=1, max_length=2)


class InstanceIn(Input):
    template: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN, description="short name, unique within the association")
    parameters: dict[str, Any] = Field(default_factory=dict)
    tenant: str | None = Field(default=None, max_length=32, description="operators only: for which tenant")
    subdomain: str | None = Field(
        default=None,
        max_length=63,
        description="the instance answers at <subdomain>.<domain>; <name>-<association> when left out",
    )


class InstanceOut(BaseModel):
    id: str
    tenant: str
    template: str
    version: str
    name: str
    state: InstanceState
    state_reason: str | None
    health: Health
    checked_at: datetime | None
    url: str | None
    server: str | None
    parameters: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    subdomain: str | None = None
    hostname: str | None = None
    # Shown for one instance (GET /api/v1/instances/{id}), not in lists.
    backup_status: BackupStatusOut | None = None


class CredentialsOut(BaseModel):
    url: str | None
    credentials: dict[str, str] = Field(description="shown once; store them now")


class ApproveIn(Input):
    server: str | None = Field(default=None, max_length=32, description="leave out for automatic placement")


class RejectIn(Input):
    reason: str = Field(min_length=1, max_length=1000)


class UpdateIn(Input):
    version: str = Field(min_length=1, max_length=40)


class JobOut(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    instance: str | None = Field(description="None for a server's own job (bootstrap): see target_server")
    space: str | None = Field(default=None, description="for space jobs: the space worked on")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    target_version: str | None = None
    target_server: str | None = None
    cancel_requested: bool = False


class JobAccepted(BaseModel):
    job: JobOut


class RestoreAccepted(BaseModel):
    instance: InstanceOut = Field(description="the instance the backup goes into (a new one for 'new')")
    job: JobOut | None = Field(
        description="the restore job; none while an association's copy waits for an operator's approval"
    )


class EventOut(BaseModel):
    seq: int
    time: datetime
    host: str | None
    task: str | None
    status: str
    line: str
    stdout: str


class EventPage(BaseModel):
    items: list[EventOut]


class AuditEntryOut(BaseModel):
    id: str
    created_at: datetime
    actor: str
    tenant_id: str | None
    action: str
    target_id: str | None
    client_address: str | None
    status_code: int | None
    outcome: str


class QuotaIn(Input):
    """Leave a field out to keep it; null goes back to the lab's default."""

    instances: int | None = Field(default=None, ge=0, le=100_000)
    memory_mb: int | None = Field(default=None, ge=0)
    disk_gb: int | None = Field(default=None, ge=0)


class TenantPatch(Input):
    quota: QuotaIn | None = None


class ServerPatch(Input):
    """Only the fields sent change."""

    capacity: CapacityIn | None = None
    base_domain: str | None = Field(default=None, pattern=HOST, max_length=253)
    tls_mode: Literal["acme", "internal", "off"] | None = None
    draining: bool | None = None


class MoveIn(Input):
    server: str | None = Field(
        default=None, description="the target; the open server with most room when left out"
    )


class MoveOut(BaseModel):
    instance: str
    to_server: str
    job: JobOut


class DrainOut(BaseModel):
    server: ServerOut
    moves: list[MoveOut]


# Monitoring: the latest collection from a server (GET /api/v1/servers/{id}).
class ServerMetricsOut(BaseModel):
    collected_at: datetime
    reachable: bool
    error: str | None
    disk_total_mb: int | None
    disk_used_mb: int | None
    memory_total_mb: int | None
    memory_available_mb: int | None
    instances: dict[str, Any]


class SpaceIn(Input):
    template: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN, description="short name, unique within the association")
    tenant: str | None = Field(default=None, max_length=32, description="operators only: for which tenant")
    subdomain: str | None = Field(
        default=None,
        max_length=63,
        description="the space answers at <subdomain>.<domain>; <name>-<association> when left out",
    )


class SpaceQuotaIn(Input):
    members: int | None = Field(default=None, ge=1, le=100000)
    storage_mb: int | None = Field(default=None, ge=1, le=10_000_000)


class SpaceApproveIn(Input):
    quota: SpaceQuotaIn = Field(default_factory=SpaceQuotaIn)
    server: str | None = Field(
        default=None,
        max_length=32,
        description="the shared instance on this server (a new one there when it has none with room); "
        "leave out for automatic placement",
    )


class SpaceQuotaOut(BaseModel):
    members: int | None = Field(description="null: the service's own default")
    storage_mb: int | None = Field(description="null: the service's own default")
    enforced: list[str] = Field(description="which of the limits the service itself enforces")


class SpaceShareOut(BaseModel):
    cpu: float
    memory_mb: float
    disk_gb: float
    measured: bool = Field(description="false: the shared instance's reservation, not a measurement")
    spaces: int = Field(description="the shared instance's figures are split evenly between this many spaces")


class SpaceOut(BaseModel):
    id: str
    tenant: str
    template: str
    name: str
    state: SpaceState
    state_reason: str | None
    health: Health
    checked_at: datetime | None
    url: str | None
    subdomain: str
    hostname: str
    quota: SpaceQuotaOut
    created_at: datetime
    updated_at: datetime
    # Shown for one space (GET /api/v1/spaces/{id}), not in lists.
    footprint: SpaceShareOut | None = Field(
        default=None, description="its share of the shared instance's use, split evenly between its spaces"
    )


class SpaceRemoval(BaseModel):
    space: SpaceOut
    job: JobOut | None = Field(description="the removal job; none for a request withdrawn before approval")


class SpaceAdminOut(BaseModel):
    url: str | None
    user: str
    password: str = Field(description="shown once; store it now")
