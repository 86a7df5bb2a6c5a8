"""Every route of the application, with every method, asked by another association and by nobody.

The routes come from the application itself (the OpenAPI schema and ``app.routes``, which also holds
the routes left out of the schema such as the portal's pages), so a route added later is covered
without touching this file, unless its path has a parameter this file does not know: then the test
fails and says which table to extend. Two associations are made: the victim owns an instance with a
job, events, generated credentials and a token; the attacker owns the same. The attacker's admin and
member tokens and an anonymous client then call each route:

- with the victim's resource in every path parameter: refused (404 exactly like a missing resource,
  or 403 for operator-only routes);
- with the victim's ids in every query parameter and body field that references a resource, once with
  the victim's and once with the attacker's own resources in the path (a restore of one's own
  instance from another's backup, say);
- routes that stream (Server-Sent Events) are asked once more as a stream;
- the portal's form POSTs are sent as forms, with the caller's own CSRF token, so that a refusal comes
  from the resource's owner check and not from a missing token; the portal's pages of another
  association's instance or job must answer 404 exactly like a missing one;
- the files of a ``StaticFiles`` mount (the portal's stylesheet and script) are public by design and are
  asked one by one like any public route.

Backups, drills and alerts of the victim are made directly through the service layer and the models:
a real backup job (restic over SSH) or health sweep would take far longer than this test needs, and
what is tested here is who may see and change those rows, not how they come to be.

After every request the answer must hold nothing of the victim's (ids, names, markers, generated
secrets) that the request did not itself carry, and every database row that refers to the victim must
be unchanged.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine, event, select
from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from provisioner.accounts.service import create_user
from provisioner.accounts.sessions import SESSION_COOKIE, start_session
from provisioner.alerts.service import AlertKind, raise_alert
from provisioner.auth.actor import Role
from provisioner.backups.repository import repository_for
from provisioner.crypto import decrypt, encrypt
from provisioner.db import Base, session_factory
from provisioner.jobs.service import EventRecord, add_events
from provisioner.models import Backup, BackupTarget, DrillResult, Export, InstanceSecret, Space
from tests.api.conftest import Api
from tests.support.factories import HOST_KEY


@dataclass
class Association:
    """One tenant's resources, made through the API as an association and the operators would."""

    tenant_id: str
    admin: dict[str, str]
    member: dict[str, str]
    portal: dict[str, str]  # an admin's session of the portal: cookie and CSRF token
    token_id: str
    instance_id: str
    job_id: str
    server_id: str
    user_id: str
    schedule_id: str
    backup_id: str
    export_id: str
    space_id: str
    name: str  # the instance's name (and its space's), which the portal's removal form asks to type again
    # Text only this association's resources contain: it must never show in another's answers.
    markers: set[str] = field(default_factory=set)


# Path parameters -> which of the victim's resources fills them. A new route whose path has another
# parameter fails the test until its resource is added here (make it in `_associate` below).
OWNED_PATH: dict[str, Callable[[Association], str]] = {
    "instance_id": lambda a: a.instance_id,
    "job_id": lambda a: a.job_id,
    "tenant_id": lambda a: a.tenant_id,
    "token_id": lambda a: a.token_id,
    "user_id": lambda a: a.user_id,
    "schedule_id": lambda a: a.schedule_id,
    "backup_id": lambda a: a.backup_id,
    "space_id": lambda a: a.space_id,
    "export_id": lambda a: a.export_id,
    "server_id": lambda a: a.server_id,  # the operators' resource: a tenant gets 403
}
# Path parameters that name nothing a tenant owns, with a value that exists.
# ``token`` is the secret of a link from a mail (an invitation, a password reset): whoever holds it may use
# it, so nobody but its recipient can name another's; an unknown one stands for it.
# A backup target is the lab's, not an association's: operators only, whichever one is named.
SHARED_PATH: dict[str, str] = {"name": "homepage", "token": "unknown-link-token", "target_id": "bkt_unknown"}
# Query parameters and body fields that reference a resource -> the victim's resource.
REFERENCES: dict[str, Callable[[Association], str]] = {
    "tenant": lambda a: a.tenant_id,
    "instance": lambda a: a.instance_id,
    "job": lambda a: a.job_id,
    "token": lambda a: a.token_id,
    "server": lambda a: a.server_id,
    "backup": lambda a: a.backup_id,
}
# Names that look like a reference to a resource: one missing from REFERENCES fails the test.
LOOKS_LIKE_REFERENCE = re.compile(r"\w+_ids?|backups?|schedules?|snapshots?|accounts?|users?_?ids?")
# Names that look like one but name nothing here: an S3 access key's id is a credential the operators type.
NOT_REFERENCES = {"s3_access_key_id"}
# Answered without credentials on purpose. Anything else must refuse an anonymous caller.
PUBLIC = {
    *("/", "/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"),
    # Logging in, and what a person holding a link from a mail does before having a session.
    *("/api/v1/session", "/api/v1/oidc/login", "/api/v1/oidc/callback", "/api/v1/invitations/accept"),
    *("/api/v1/password-reset", "/api/v1/password-reset/confirm"),
    # The portal's own pages for the same, and the choice of language (a cookie, before signing in).
    *("/login", "/password-reset", "/password-reset/{token}", "/invitations/{token}", "/language"),
    "/first-start/{token}",  # the first operator's one-time link, printed by the first start
}
# Tables whose rows record requests themselves (and may name what was asked for), not resources.
REQUEST_RECORDS = {"idempotency_keys", "audit_entries"}
# Routes that show the caller's own earlier requests (the audit log): ids the caller sent may come back.
ECHOES_REQUESTS = {"/api/v1/audit", "/api/v1/audit.csv"}
# Bodies the generator below cannot guess, by "METHOD path".
BODIES: dict[str, dict[str, Any]] = {"PATCH /api/v1/users/{user_id}": {"disabled": True}}
# The portal's forms, read by the pages themselves (so absent from the schema), by "METHOD path": the
# fields each sends. Reference fields get the victim's (REFERENCES), ``csrf_token`` the caller's own.
FORMS: dict[str, tuple[str, ...]] = {
    "POST /login": ("email", "password", "csrf_token", "next"),
    "POST /logout": ("csrf_token",),
    "POST /language": ("language", "next"),
    "POST /invitations/{token}": ("name", "password", "csrf_token"),
    "POST /password-reset": ("email", "csrf_token"),
    "POST /password-reset/{token}": ("password", "csrf_token"),
    "POST /catalog/{name}/request": ("name", "tenant", "csrf_token"),
    "POST /catalog/{name}/space": ("name", "tenant", "csrf_token"),
    "POST /spaces/{space_id}/credentials": ("csrf_token",),
    "POST /spaces/{space_id}/moderator-links": ("days", "csrf_token"),
    "POST /spaces/{space_id}/remove": ("confirm_name", "csrf_token"),
    "POST /spaces/{space_id}/backups": ("csrf_token",),
    "POST /spaces/{space_id}/restores": ("backup", "csrf_token"),
    "POST /spaces/{space_id}/move-to-dedicated": ("subdomain", "csrf_token"),
    "POST /spaces/{space_id}/quota": ("storage_mb", "csrf_token"),
    "POST /spaces/{space_id}/exports": ("csrf_token",),
    "POST /operator/spaces/modes/{name}": ("mode-dedicated", "mode-shared", "csrf_token"),
    "POST /operator/spaces/{space_id}/approve": ("storage_mb", "csrf_token"),
    "POST /operator/spaces/{space_id}/reject": ("reason", "csrf_token"),
    "POST /services/{instance_id}/credentials": ("csrf_token",),
    "POST /services/{instance_id}/remove": ("confirm_name", "csrf_token"),
    "POST /jobs/{job_id}/cancel": ("csrf_token",),
    "POST /operator/requests/{instance_id}/approve": ("server", "csrf_token"),
    "POST /operator/requests/{instance_id}/reject": ("reason", "csrf_token"),
    "POST /team/invite": ("email", "role", "tenant", "csrf_token"),
    "POST /team/{user_id}/role": ("role", "tenant", "csrf_token"),
    "POST /team/{user_id}/remove": ("tenant", "csrf_token"),
    "POST /team/{user_id}/password-reset": ("tenant", "csrf_token"),
    "POST /services/{instance_id}/backups": ("csrf_token",),
    "POST /services/{instance_id}/exports": ("csrf_token",),
    "POST /team/exports": ("tenant", "csrf_token"),
    "POST /associations/{tenant_id}/offboarding": ("confirm", "delete_backups_now", "csrf_token"),
    "POST /associations/{tenant_id}/offboarding/cancel": ("csrf_token",),
    "POST /associations/{tenant_id}/offboarding/resume": ("csrf_token",),
    "POST /associations/{tenant_id}/offboarding/delete-backups-now": ("csrf_token",),
    "POST /services/{instance_id}/backups/{backup_id}/restore": ("into", "name", "confirm", "csrf_token"),
    "POST /operator/tenants/{tenant_id}/quota": ("instances", "memory_mb", "disk_gb", "csrf_token"),
    "POST /operator/schedules": ("kind", "instance", "cron", "enabled", "csrf_token"),
    "POST /operator/schedules/{schedule_id}": ("cron", "interval", "enabled", "csrf_token"),
    "POST /operator/schedules/{schedule_id}/remove": ("csrf_token",),
    "POST /services/{instance_id}/backup-schedule": ("choice", "time", "weekday", "hours", "csrf_token"),
    "POST /first-start/{token}": ("email", "name", "password", "csrf_token"),
    "POST /operator/servers/new": (
        *("name", "address", "port", "user", "cpu", "memory_mb", "disk_gb", "base_domain", "host_key"),
        "csrf_token",
    ),
    "POST /operator/servers/{server_id}/drain": ("csrf_token",),
    "POST /operator/servers/{server_id}/check": ("csrf_token",),
    "POST /operator/servers/{server_id}/undrain": ("csrf_token",),
    "POST /operator/servers/{server_id}/remove": ("csrf_token",),
    "POST /operator/backup-targets/{target_id}/remove": ("csrf_token",),
    "POST /operator/tenants/new": ("slug", "name", "contact_email", "language", "csrf_token"),
    "POST /operator/tenants/{tenant_id}/tokens": ("name", "role", "expires_in_days", "csrf_token"),
    "POST /operator/tenants/{tenant_id}/tokens/{token_id}/revoke": ("csrf_token",),
    "POST /services/{instance_id}/redeploy": ("csrf_token",),
    "POST /services/{instance_id}/update": ("version", "csrf_token"),
    "POST /services/{instance_id}/move": ("server", "csrf_token"),
    "POST /services/{instance_id}/credentials/reset": ("csrf_token",),
    "POST /operator/settings/mail": (
        "host",
        "port",
        "starttls",
        "username",
        "password",
        "from_address",
        "csrf_token",
    ),
    "POST /operator/settings/mail/test": ("csrf_token",),
    "POST /operator/settings/webhook": ("url", "secret", "drop_secret", "csrf_token"),
    "POST /operator/settings/webhook/remove": ("csrf_token",),
    "POST /operator/settings/webhook/test": ("csrf_token",),
    "POST /operator/backup-targets/{target_id}/check": ("csrf_token",),
    "POST /operator/servers/{server_id}/bootstrap": ("csrf_token",),
    "POST /operator/backup-targets/new": (
        *("name", "kind", "path", "address", "port", "user", "host_key"),
        *("s3_endpoint", "s3_access_key_id", "s3_secret_access_key", "csrf_token"),
    ),
}
# Plain values for the form fields that reference nothing.
FORM_VALUES: dict[str, Callable[[Association], str]] = {
    "email": lambda a: "someone@example.org",
    "password": lambda a: "a long enough password 1",
    "next": lambda a: "/",
    "language": lambda a: "en",
    "name": lambda a: "x",
    "reason": lambda a: "x",
    "subdomain": lambda a: "x-site",
    "role": lambda a: "admin",
    "into": lambda a: "place",
    "confirm": lambda a: "yes",
    "delete_backups_now": lambda a: "",
    "instances": lambda a: "100",
    "memory_mb": lambda a: "100000",
    "disk_gb": lambda a: "1000",
    "kind": lambda a: "backup",
    "cron": lambda a: "0 3 * * *",
    "interval": lambda a: "",
    "enabled": lambda a: "on",
    "choice": lambda a: "daily",
    "time": lambda a: "03:00",
    "weekday": lambda a: "1",
    "hours": lambda a: "6",
    "address": lambda a: "192.0.2.99",
    "port": lambda a: "22",
    "user": lambda a: "root",
    "cpu": lambda a: "2",
    "base_domain": lambda a: "",
    "host_key": lambda a: HOST_KEY,
    "slug": lambda a: "someone-else",
    "contact_email": lambda a: "someone@example.org",
    "expires_in_days": lambda a: "30",
    "version": lambda a: "1.1",
    "path": lambda a: "/srv/backups",
    "host": lambda a: "smtp.example.org",
    "starttls": lambda a: "",
    "username": lambda a: "",
    "from_address": lambda a: "lab@example.org",
    "s3_endpoint": lambda a: "",
    "s3_access_key_id": lambda a: "",
    "s3_secret_access_key": lambda a: "",
    "url": lambda a: "http://192.0.2.99/hooks/x",
    "secret": lambda a: "",
    "drop_secret": lambda a: "",
    # The attacker is assumed to know the victim's instance name: the check must be the owner's.
    "confirm_name": lambda a: a.name,
    "mode-dedicated": lambda a: "on",
    "mode-shared": lambda a: "on",
    "storage_mb": lambda a: "100",
    "days": lambda a: "3",
}
# Logging out ends the portal session: asked last, so the session asks every other route first.
LOGS_OUT = {"DELETE /api/v1/session", "POST /logout"}
# Answers that refuse without telling anything: redirects to a login page count for HTML routes.
REFUSED = {401, 403, 404}
# Every request sent so far, for the routes in ECHOES_REQUESTS.
SENT: list[str] = []
# Values tried, in order, for a string field with a pattern.
CANDIDATES = ["x", "victim", "a1", "board@example.org", "/srv/x", "192.0.2.1", "root", "1.0"]


def _associate(api: Api, slug: str, server_name: str) -> Association:
    server_id = api.server(server_name)  # the operators' own, with room for this association's instance
    marker = f"site-{secrets.token_hex(4)}"
    tenant_id, admin = api.tenant(slug)
    member = api.token(role=Role.MEMBER, tenant_id=tenant_id)
    issued = api.client.post(
        f"/api/v1/tenants/{tenant_id}/tokens", json={"role": "member", "name": marker}, headers=api.operator
    )
    assert issued.status_code == 201, issued.text
    # Nextcloud: its generated admin password is shown once, so the credentials route has one to guard.
    body = {"template": "nextcloud", "name": marker, "parameters": {}}
    requested = api.client.post("/api/v1/instances", json=body, headers=admin)
    assert requested.status_code == 201, requested.text
    instance_id = requested.json()["id"]
    approved = api.client.post(
        f"/api/v1/instances/{instance_id}/approve", json={"server": server_id}, headers=api.operator
    )
    assert approved.status_code == 202, approved.text
    job_id = approved.json()["job"]["id"]
    # A space in the shared WordPress, with its first admin's password to guard.
    offered = api.client.put(
        "/api/v1/catalog/wordpress/modes", json={"modes": ["dedicated", "shared"]}, headers=api.operator
    )
    assert offered.status_code == 200, offered.text
    wanted = {"template": "wordpress", "name": marker, "subdomain": f"{marker}-web"}
    space = api.client.post("/api/v1/spaces", json=wanted, headers=admin)
    assert space.status_code == 201, space.text
    space_id = space.json()["id"]
    placed = api.client.post(f"/api/v1/spaces/{space_id}/approve", headers=api.operator)
    assert placed.status_code == 202, placed.text
    scheduled = api.client.post(
        "/api/v1/schedules",
        json={"kind": "backup", "instance": instance_id, "interval_seconds": 86400},
        headers=admin,
    )
    assert scheduled.status_code == 201, scheduled.text
    with session_factory(api.db_url)() as session:
        event = EventRecord(
            seq=1,
            created_at=datetime.now(UTC),
            host="s1",
            task="Step",
            status="ok",
            line=f"line {marker}",
            stdout=f"stdout {marker}",
        )
        add_events(session, job_id=job_id, events=[event])
        person = create_user(
            session,
            email=f"{marker}@example.org",
            name=marker,
            password=None,
            role=Role.ADMIN,
            tenant_id=tenant_id,
        )
        # A second person, whose portal session is not ended when routes act on the first.
        browsing = create_user(
            session,
            email=f"{marker}-portal@example.org",
            name=marker,
            password=None,
            role=Role.ADMIN,
            tenant_id=tenant_id,
        )
        web, cookie = start_session(session, user=browsing, client_address=None, idle_minutes=60)
        portal = {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": web.csrf_token}
        settings = api.client.app.state.settings  # type: ignore[attr-defined]
        # Rows a backup job, a drill and a health sweep would leave (see the module's docstring).
        if session.scalar(select(BackupTarget.id)) is None:
            target = BackupTarget(
                name="lab", kind="s3", path="bucket", encrypted_credentials=encrypt(settings, "{}")
            )
            target.is_default = True
            session.add(target)
            session.flush()
        repository = repository_for(session, settings, tenant_id=tenant_id)
        backup = Backup(
            instance_id=instance_id,
            repository_id=repository.id,
            job_id=job_id,
            status="succeeded",
            version="1",
            snapshot_id=secrets.token_hex(32),
            paths={"data": f"/srv/{marker}"},
        )
        session.add(backup)
        session.flush()
        drill = DrillResult(
            instance_id=instance_id, job_id=job_id, backup_id=backup.id, status="passed", detail=marker
        )
        session.add(drill)
        # A ready export whose archive is there: a download by anyone else must not reach it.
        export = Export(
            tenant_id=tenant_id,
            instance_id=instance_id,
            job_id=job_id,
            state="ready",
            sha256=secrets.token_hex(32),
            size_bytes=6,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        session.add(export)
        session.flush()
        export.file = f"{export.id}.tar.gz.sealed"
        settings.resolved_exports_dir.mkdir(parents=True, exist_ok=True)
        (settings.resolved_exports_dir / export.file).write_bytes(marker.encode())
        alert = raise_alert(
            session,
            settings,
            kind=AlertKind.INSTANCE_UNHEALTHY,
            subject_id=instance_id,
            tenant_id=tenant_id,
            summary=f"{marker} does not answer",
        )
        session.flush()
        generated = session.scalars(select(InstanceSecret).where(InstanceSecret.instance_id == instance_id))
        secret_values = {decrypt(settings, s.encrypted) for s in generated}
        space_row = session.get_one(Space, space_id)
        assert space_row.encrypted_admin_password is not None
        secret_values.add(decrypt(settings, space_row.encrypted_admin_password))
        session.commit()
    assert secret_values, "the approved instance has generated credentials to protect"
    return Association(
        tenant_id=tenant_id,
        admin=admin,
        member=member,
        portal=portal,
        token_id=issued.json()["id"],
        instance_id=instance_id,
        job_id=job_id,
        server_id=server_id,
        user_id=person.id,
        schedule_id=scheduled.json()["id"],
        backup_id=backup.id,
        space_id=space_id,
        export_id=export.id,
        name=marker,
        markers={
            tenant_id,
            instance_id,
            job_id,
            space_id,
            placed.json()["job"]["id"],
            issued.json()["id"],
            issued.json()["token"],
            admin["Authorization"].split()[1],
            member["Authorization"].split()[1],
            marker,
            slug,
            person.id,
            scheduled.json()["id"],
            cookie,
            web.csrf_token,
            backup.id,
            str(backup.snapshot_id),
            drill.id,
            export.id,
            str(export.sha256),
            alert.id,
            *secret_values,
        },
    )


def _rows_about(db_url: str, victim: Association) -> dict[str, list[str]]:
    """Every row in every table that names one of the victim's ids, as text."""
    ids = (victim.tenant_id, victim.instance_id, victim.job_id, victim.token_id, victim.backup_id)
    found: dict[str, list[str]] = {}
    with session_factory(db_url)() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in REQUEST_RECORDS:
                continue
            rows = [repr(tuple(row)) for row in session.execute(select(table)).all()]
            found[table.name] = sorted(r for r in rows if any(i in r for i in ids))
    return found


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    params: tuple[str, ...]
    operation: dict[str, Any] | None  # None for routes left out of the schema
    query: tuple[str, ...] = ()  # its query parameters, from the route itself (the schema lacks some)
    public: bool = False  # a static file

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def streams(self) -> bool:
        responses = (self.operation or {}).get("responses", {})
        return any("text/event-stream" in r.get("content", {}) for r in responses.values())

    def query_refs(self) -> list[str]:
        return [name for name in self.query if _is_reference(name, self.key)]

    def form(self) -> tuple[str, ...] | None:
        """The fields of a portal form this endpoint reads, None for an endpoint that reads none."""
        if self.operation is not None or self.method in ("GET", "DELETE"):
            return None
        if self.key not in FORMS:
            pytest.fail(
                f"{self.key}: a route outside the schema that takes a body; add its form fields to "
                "FORMS in tests/api/test_isolation_every_route.py"
            )
        return FORMS[self.key]


def _is_reference(name: str, where: str) -> bool:
    if name not in REFERENCES.keys() | NOT_REFERENCES and LOOKS_LIKE_REFERENCE.fullmatch(name):
        pytest.fail(
            f"{where}: {name!r} looks like a reference to a resource; add it to REFERENCES in "
            "tests/api/test_isolation_every_route.py (with the victim's resource it names)"
        )
    return name in REFERENCES


def _query_params(dependant: Dependant) -> Iterator[str]:
    yield from (p.alias for p in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_params(sub)


def _endpoints(routes: list[BaseRoute], schema: dict[str, Any]) -> Iterator[Endpoint]:
    for route in iter_route_contexts(routes):
        mounted = route.original_route
        if isinstance(mounted, Mount) and isinstance(mounted.app, StaticFiles) and mounted.app.directory:
            for file in sorted(Path(mounted.app.directory).rglob("*")):
                if file.is_file():
                    relative = file.relative_to(mounted.app.directory).as_posix()
                    yield Endpoint("GET", f"{route.path}/{relative}", (), None, public=True)
            continue
        if isinstance(mounted, Mount | WebSocketRoute) or route.methods is None:
            pytest.fail(
                f"{type(route.original_route).__name__} {route.path!r} is not covered: "
                "teach tests/api/test_isolation_every_route.py how to ask it"
            )
        path = str(route.path)
        params = tuple(re.findall(r"{(\w+)(?::\w+)?}", path))
        query: tuple[str, ...] = ()
        if isinstance(mounted, APIRoute):
            query = tuple(_query_params(mounted.dependant))
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
            operation = schema["paths"].get(path, {}).get(method.lower())
            yield Endpoint(method, path, params, operation, query)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = schema["components"]["schemas"][name]
    return node


def _example(schema: dict[str, Any], node: dict[str, Any], name: str, victim: Association) -> Any:
    """A value that fits ``node``; fields that reference a resource get the victim's."""
    node = _resolve(schema, node)
    if name in REFERENCES:
        return REFERENCES[name](victim)
    options = [o for o in node.get("anyOf", node.get("oneOf", [])) if o.get("type") != "null"]
    if options:
        return _example(schema, options[0], name, victim)
    if "enum" in node or "const" in node:
        return node.get("enum", [node.get("const")])[0]
    if node.get("type") == "object":
        properties = node.get("properties", {})
        references = {key for key in properties if _is_reference(key, f"body field of {name or 'a request'}")}
        wanted = set(node.get("required", [])) | references
        return {key: _example(schema, properties[key], key, victim) for key in sorted(wanted)}
    if node.get("type") == "array":
        return [_example(schema, node.get("items", {}), name, victim)]
    return _scalar(node)


def _scalar(node: dict[str, Any]) -> Any:
    if node.get("type") in ("integer", "number"):
        return max(1, int(node.get("minimum", node.get("exclusiveMinimum", 0)) + 1))
    if node.get("type") == "boolean":
        return True
    pattern = node.get("pattern")
    fits = [c for c in CANDIDATES if pattern is None or re.search(pattern, c)]
    return (fits[0] if fits else "x").ljust(node.get("minLength", 0), "x")


def _body(endpoint: Endpoint, schema: dict[str, Any], victim: Association) -> Any:
    if endpoint.key in BODIES:
        return BODIES[endpoint.key]
    content = ((endpoint.operation or {}).get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        return None
    return _example(schema, content["application/json"]["schema"], "", victim)


def _missing(value: str) -> str:
    prefix, _, rest = value.rpartition("_")
    return f"{prefix}_{'0' * len(rest)}" if prefix else "0" * len(value)


def _form(fields: tuple[str, ...], victim: Association) -> dict[str, str]:
    """A portal form's fields; ``csrf_token`` is left empty for the caller's own (see `_check`)."""
    values = {}
    for name in fields:
        if _is_reference(name, "a portal form's field"):
            values[name] = REFERENCES[name](victim)
        elif name == "csrf_token":
            values[name] = ""
        else:
            values[name] = FORM_VALUES[name](victim)
    return values


@dataclass
class Request:
    method: str
    url: str
    json: Any
    headers: dict[str, str]
    form: dict[str, str] | None = None

    def carries(self) -> str:
        return self.url + json.dumps(self.json) + json.dumps(self.form)

    def send(self, api: Api, url: str, headers: dict[str, str]) -> Any:
        form = self.form
        if form is not None and "csrf_token" in form:
            form = {**form, "csrf_token": headers.get("X-CSRF-Token", "")}
        return api.client.request(
            self.method,
            url,
            json=self.json if form is None else None,
            data=form,
            headers={**headers, **self.headers},
            follow_redirects=False,
        )


def _requests(
    endpoint: Endpoint, schema: dict[str, Any], victim: Association, own: Association, path_owner: str
) -> Iterator[tuple[str, Request]]:
    """The requests an attacker sends to one endpoint: (what they test, request) pairs."""
    owner = victim if path_owner == "victim" else own
    values = {}
    for name in endpoint.params:
        if name in OWNED_PATH:
            values[name] = OWNED_PATH[name](owner)
        elif name in SHARED_PATH:
            values[name] = SHARED_PATH[name]
        else:
            pytest.fail(
                f"{endpoint.key}: path parameter {name!r} is unknown to the isolation test; add it to "
                "OWNED_PATH (and make the resource in _associate) or SHARED_PATH in "
                "tests/api/test_isolation_every_route.py"
            )
    query = "&".join(f"{name}={REFERENCES[name](victim)}" for name in endpoint.query_refs())
    url = re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m[1]], endpoint.path) + (f"?{query}" if query else "")
    body = _body(endpoint, schema, victim)
    fields = endpoint.form()
    form = None if fields is None else _form(fields, victim)
    yield path_owner, Request(endpoint.method, url, body, {}, form)
    if endpoint.streams() and path_owner == "victim":
        yield "stream", Request(endpoint.method, url, body, {"Accept": "text/event-stream"}, form)


@dataclass
class Outcome:
    seen: Counter[str] = field(default_factory=Counter)
    table: dict[str, dict[str, str]] = field(default_factory=dict)

    def record(self, endpoint: Endpoint, role: str, status: int) -> None:
        self.seen[endpoint.key] += 1
        cell = self.table.setdefault(endpoint.key, {})
        cell[role] = ",".join(sorted({*cell.get(role, "").split(","), str(status)} - {""}))


def _answers_like_missing(
    api: Api, request: Request, headers: dict[str, str], asked: list[str], response: Any, where: str
) -> None:
    """Ask again with each of ``asked`` replaced by an id that exists nowhere: the answer must not change."""
    missing = Request(request.method, request.url, request.json, request.headers, request.form)
    for value in asked:
        gone = _missing(value)
        missing.url = missing.url.replace(value, gone)
        missing.json = json.loads(json.dumps(missing.json).replace(value, gone))
        if missing.form is not None:
            missing.form = {k: v.replace(value, gone) for k, v in missing.form.items()}
    answer = missing.send(api, missing.url, headers)
    # A page repeats its own address (in its language form): the missing ids back to the asked ones.
    content = answer.content
    for value in asked:
        content = content.replace(_missing(value).encode(), value.encode())
    assert (answer.status_code, content) == (response.status_code, response.content), (
        f"{where}: answers unlike a missing resource: {response.text} vs {answer.text}"
    )


def _check(
    api: Api,
    endpoint: Endpoint,
    role: str,
    headers: dict[str, str],
    what: str,
    request: Request,
    victim: Association,
    before: dict[str, list[str]],
    writes: Writes,
) -> int:
    response = request.send(api, request.url, headers)
    where = f"{role} {request.method} {request.url} ({what})"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
    carried = request.carries() + (" ".join(SENT) if endpoint.path in ECHOES_REQUESTS else "")
    SENT.append(request.carries())
    leaked = {m for m in victim.markers if m in response.text and m not in carried}
    assert not leaked, f"{where} answered {response.status_code} with the victim's {leaked}"
    if role == "anonymous" and not endpoint.public and endpoint.path not in PUBLIC:
        assert response.status_code in REFUSED | {303, 307}, f"{where} answered without credentials"
    if what in ("victim", "stream") and any(p in OWNED_PATH for p in endpoint.params):
        assert response.status_code in REFUSED or response.is_redirect, (
            f"{where}: another association's resource must answer 404 (or 403), got "
            f"{response.status_code} {response.text}"
        )
        if response.status_code in REFUSED:
            asked = [OWNED_PATH[name](victim) for name in endpoint.params if name in OWNED_PATH]
            _answers_like_missing(api, request, headers, asked, response, where)
    elif what != "stream" and response.status_code >= 400:
        # The victim's ids in the query or body: refused exactly as unknown ids are (a success changed
        # nothing of the victim's, and held nothing of theirs: see the checks around).
        asked = [ref(victim) for ref in REFERENCES.values() if ref(victim) in request.carries()]
        if asked:
            _answers_like_missing(api, request, headers, asked, response, where)
    if writes.since_last_look():
        after = _rows_about(api.db_url, victim)
        changed = {t for t in before if before[t] != after[t]}
        assert not changed, f"{where} changed the victim's rows in {changed}"
    return response.status_code


@dataclass
class Writes:
    """Counts the statements sent to any database that may have changed a row: every one but a SELECT
    and a record of the request itself. Reading every table again after each request took a third of
    this test's time; after a request that sent no such statement the victim's rows are as they were."""

    count: int = 0
    looked_at: int = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split(maxsplit=3)
        if words[0].upper() == "SELECT":
            return
        if words[0].upper() == "INSERT" and words[2].strip('"') in REQUEST_RECORDS:
            return
        self.count += 1

    def since_last_look(self) -> bool:
        changed, self.looked_at = self.count != self.looked_at, self.count
        return changed


@pytest.fixture
def writes() -> Iterator[Writes]:
    counter = Writes()
    event.listen(Engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(Engine, "before_cursor_execute", counter)


def test_no_route_reaches_another_associations_resources(
    api: Api, writes: Writes, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = _associate(api, "victim-assoc", "s1")
    own = _associate(api, "attacker-assoc", "s2")
    app = api.client.app
    schema = app.openapi()  # type: ignore[attr-defined]
    endpoints = list(_endpoints(app.routes, schema))  # type: ignore[attr-defined]
    callers = {
        "tenant admin": own.admin,
        "tenant member": own.member,
        "portal session": own.portal,
        "anonymous": {},
    }
    endpoints.sort(key=lambda e: e.key in LOGS_OUT)
    before = _rows_about(api.db_url, victim)
    SENT.clear()
    outcome = Outcome()
    for role, headers in callers.items():
        for endpoint in endpoints:
            owners = ["victim"]
            sends = endpoint.query_refs() or _body(endpoint, schema, victim) or endpoint.form()
            if endpoint.params and sends:
                owners.append("own")
            for owner in owners:
                for what, request in _requests(endpoint, schema, victim, own, owner):
                    status = _check(api, endpoint, role, headers, what, request, victim, before, writes)
                    outcome.record(endpoint, role, status)
    assert {e.key for e in endpoints} == set(outcome.table)
    assert _rows_about(api.db_url, victim) == before
    with capsys.disabled():
        width = max(len(k) for k in outcome.table)
        print(f"\nisolation coverage: {len(outcome.table)} routes x {len(callers)} callers")
        print(" " * width + "  " + " | ".join(f"{r:>13}" for r in callers))
        for key, cells in sorted(outcome.table.items()):
            print(f"{key:<{width}}  " + " | ".join(f"{cells[r]:>13}" for r in callers))
