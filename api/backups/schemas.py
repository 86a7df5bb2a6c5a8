"""Request and response bodies of the backup, restore and drill endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from provisioner.backups.reach import Finding

BackupState = Literal["running", "succeeded", "failed"]
DrillState = Literal["running", "passed", "failed"]
TargetKind = Literal["sftp", "s3", "rest"]


class BackupStatusOut(BaseModel):
    last_backup_at: datetime | None
    last_backup_status: BackupState | None
    last_drill_at: datetime | None
    last_drill_status: DrillState | None
    flag: str | None = Field(description="why the instance's backups need attention; null when they do not")


class BackupOut(BaseModel):
    id: str
    instance: str
    job: str | None
    status: BackupState
    version: str
    created_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    snapshot_id: str | None
    size_bytes: int | None = Field(description="bytes of the instance's data the snapshot holds")
    added_bytes: int | None = Field(description="bytes this backup added to the repository")
    error: str | None


class BackupList(BaseModel):
    items: list[BackupOut]


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backup: str = Field(max_length=32)
    into: Literal["place", "new"] = Field(
        default="place", description="'place': back into this instance; 'new': into a new instance"
    )
    name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{0,39}$", description="for 'new'")
    subdomain: str | None = Field(default=None, max_length=63, description="for 'new'; else <name>-<tenant>")


class DrillOut(BaseModel):
    id: str
    instance: str
    job: str
    backup: str | None
    status: DrillState
    detail: str | None
    created_at: datetime
    finished_at: datetime | None


class DrillList(BaseModel):
    items: list[DrillOut]


class BackupTargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    kind: TargetKind
    path: str = Field(
        min_length=1,
        max_length=500,
        description="sftp: absolute folder; s3: bucket[/prefix]; rest: the folder the REST server serves",
    )
    address: str | None = Field(default=None, max_length=253)
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    host_key: str | None = Field(default=None, max_length=2000)
    s3_endpoint: str | None = Field(default=None, max_length=500)
    s3_access_key_id: str | None = Field(default=None, max_length=200)
    s3_secret_access_key: str | None = Field(default=None, max_length=200)
    rest_url: str | None = Field(default=None, max_length=500, description="rest: the servers' listener")
    rest_admin_url: str | None = Field(
        default=None,
        max_length=500,
        description="rest: the control plane's listener",
    )
    htpasswd_file: str | None = Field(
        default=None, max_length=500, description="rest: the append-only listener's htpasswd file"
    )
    rest_admin_user: str | None = Field(default=None, max_length=100)
    rest_admin_password: str | None = Field(default=None, max_length=200)
    default: bool = False


class BackupTargetOut(BaseModel):
    id: str
    name: str
    kind: TargetKind
    path: str
    address: str | None
    port: int
    user: str | None
    s3_endpoint: str | None
    rest_url: str | None
    public_key: str | None = Field(description="add it to the backup server's authorized_keys")
    isolation: str = Field(description="what a server that runs a backup can reach on this target")
    default: bool


class TargetReachOut(BaseModel):
    reached: bool
    finding: Finding = Field(description="why not, when it was not reached")
    detail: str = Field(description="the finding in words; never a credential or what the target printed")
