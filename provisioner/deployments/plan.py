"""Turns an instance and its template into a run spec. Docker names come from the instance id only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import object_session

from provisioner.catalog.images import resolve_image
from provisioner.catalog.loader import Catalog
from provisioner.catalog.model import Step, Template, Timeouts, volume_names
from provisioner.catalog.render import render_files, sensitive_targets
from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.deployments.backup_leftovers import removal_leftovers
from provisioner.jobs.states import JobKind
from provisioner.labels import LABEL_INSTANCE, LABEL_TENANT
from provisioner.mail_config import mail_settings_for
from provisioner.models import Instance, Server
from provisioner.proxy import caddy
from provisioner.runner.spec import HostSpec, RunSpec

# Where the proxy's files travel inside the run's private folder; never a target of a template file.
PROXY_FILES = "_proxy"


def docker_name(instance_id: str, suffix: str | None = None) -> str:
    return f"prv-{instance_id}" + (f"-{suffix}" if suffix else "")


@dataclass(frozen=True)
class Placement:
    """What an instance needs from the control plane besides its template: everything made at approval."""

    instance_id: str
    tenant_id: str
    name: str
    hostname: str
    params: dict[str, Any]
    secrets: dict[str, str]
    host_ports: dict[str, int]
    # A shared instance holds the spaces of several associations (the template's sharing.shared).
    shared: bool = False


def placement_of(settings: Settings, instance: Instance) -> Placement:
    return Placement(
        instance_id=instance.id,
        tenant_id=instance.tenant_id,
        name=instance.name,
        hostname=f"{instance.subdomain}.{instance.domain}",
        params=instance.parameters,
        secrets={s.name: decrypt(settings, s.encrypted) for s in instance.secrets},
        host_ports={p.name: p.port for p in instance.host_ports},
        shared=instance.shared,
    )


def lab_mail(settings: Settings) -> dict[str, Any]:
    """The lab's SMTP account as files see it (``mail.*``), for services that send mail themselves.
    ``host`` is empty when the lab has none; ``from_local``/``from_domain`` split the sender address."""
    local, _, domain = settings.smtp_from.partition("@")
    return {
        "host": settings.smtp_host,
        "port": settings.smtp_port,
        "starttls": settings.smtp_starttls,
        "username": settings.smtp_username,
        "password": settings.smtp_password,
        "from": settings.smtp_from,
        "from_local": local,
        "from_domain": domain,
    }


def render_context(
    template: Template,
    placement: Placement,
    server: Server,
    mode: caddy.TlsMode,
    version: str,
    *,
    mail: dict[str, Any],
) -> dict[str, Any]:
    """What template files may use: instance facts, the tenant's parameters, secrets, ports, lab mail."""
    return {
        "server": {"address": server.public_address},
        "instance": {
            "id": placement.instance_id,
            "name": placement.name,
            "hostname": placement.hostname,
            "url": caddy.instance_url(mode, placement.hostname),
            "version": version,
            "dir": f"{server.root_dir}/instances/{placement.instance_id}",
            "network": docker_name(placement.instance_id),
            "shared": placement.shared,
        },
        "params": placement.params,
        "secrets": placement.secrets,
        "ports": placement.host_ports,
        "mail": mail,
        "containers": {c.name: docker_name(placement.instance_id, c.name) for c in template.containers},
    }


def step_variables(instance_id: str, steps: list[Step]) -> list[dict[str, Any]]:
    """Steps as the playbooks run them: in the instance's container of that name."""
    return [{"container": docker_name(instance_id, s.container), "argv": s.run} for s in steps]


def credential_steps(template: Template) -> list[Step]:
    """What makes new values of the shown secrets the valid ones once the files hold them, as a
    credentials reset runs it: the steps after every deploy, then the template's reset steps. None
    when the template has no reset steps."""
    if template.hooks.reset_credentials is None:
        return []
    return after_hooks_steps(template, JobKind.RESET_CREDENTIALS)


def after_hooks_steps(template: Template, kind: JobKind) -> list[Step]:
    hooks = [template.hooks.deploy]
    if kind is JobKind.UPDATE:
        hooks.insert(0, template.hooks.update)
    if kind is JobKind.RESET_CREDENTIALS:
        hooks.append(template.hooks.reset_credentials)
    return [step for hook in hooks if hook is not None for step in hook.after]


def after_steps(template: Template, instance_id: str, kind: JobKind) -> list[dict[str, Any]]:
    """The template's steps once the service answers: an update's own steps (finishing a schema
    migration, say) first, then those after every deploy, and, resetting credentials, those that
    apply the new values."""
    return step_variables(instance_id, after_hooks_steps(template, kind))


def container_variables(
    settings: Settings, template: Template, placement: Placement, server: Server, version_name: str
) -> list[dict[str, Any]]:
    """Every container of the instance at ``version_name`` as the playbooks start it."""
    version = template.versions[version_name]
    instance_id = placement.instance_id
    instance_dir = f"{server.root_dir}/instances/{instance_id}"
    containers = []
    for container in template.containers:
        mounts: list[dict[str, Any]] = [
            {"type": "volume", "source": docker_name(instance_id, volume), "target": target}
            for volume, target in sorted(container.volumes.items())
        ]
        mounts += [
            {"type": "bind", "source": f"{instance_dir}/{rendered}", "target": target, "read_only": True}
            for rendered, target in sorted(container.files.items())
        ]
        published = [
            f"{server.public_address}:{placement.host_ports[p.name]}:{placement.host_ports[p.name]}/{p.protocol}"
            for p in template.host_ports
            if p.name in container.host_ports
        ]
        containers.append(
            {
                "name": docker_name(instance_id, container.name),
                "alias": container.name,
                "image": resolve_image(version.images[container.image], mirror=settings.image_registry),
                "command": container.command,
                "mounts": mounts,
                "env": dict(container.environment),
                "env_file": f"{instance_dir}/{container.env_file}" if container.env_file else None,
                "memory": f"{container.memory_mb}M",
                "cpus": container.cpu,
                "published_ports": published,
            }
        )
    return containers


def deploy_variables(
    settings: Settings,
    template: Template,
    placement: Placement,
    server: Server,
    version_name: str,
    *,
    kind: JobKind = JobKind.DEPLOY,
) -> dict[str, Any]:
    instance_id = placement.instance_id
    instance_dir = f"{server.root_dir}/instances/{instance_id}"
    mode = caddy.tls_mode(settings, server)
    containers = container_variables(settings, template, placement, server, version_name)
    web = template.published_container
    sensitive = sensitive_targets(template)
    return {
        "instance_id": instance_id,
        "instance_dir": instance_dir,
        "network": docker_name(instance_id),
        "labels": {LABEL_INSTANCE: instance_id, LABEL_TENANT: placement.tenant_id},
        "volumes": [docker_name(instance_id, v) for v in volume_names(template)],
        "containers": containers,
        "files": [
            {
                "src": f.target,
                "dest": f.target,
                "mode": f.mode,
                "group": f.group,
                "sensitive": f.target in sensitive,
            }
            for f in template.files
        ],
        "proxy": caddy.proxy_variables(settings, server),
        "site": {
            "src": f"{PROXY_FILES}/site.caddy",
            "file": f"{instance_id}.caddy",
            "hostname": placement.hostname,
            "upstream": f"{docker_name(instance_id, web.name)}:{web.port}",
        },
        "health_argv": caddy.health_argv(mode, hostname=placement.hostname, path=template.health.path),
        # A number: Ansible 2.19 never finds an unsafe-tagged string equal to a plain one.
        "health_status": template.health.expect_status,
        # A first start may take long (the template's health.start_seconds); an update gets its window.
        "health_retries": -(-template.health.start_seconds // HEALTH_DELAY),
        "health_delay": HEALTH_DELAY,
        "internal_probes": [
            _curl(f"http://{docker_name(instance_id, p.container)}:{p.port}{p.path}")
            for p in template.health.internal
        ],
        "after_steps": after_steps(template, instance_id, kind),
        "launcher": launcher_variables(template, instance_id, instance_dir, kind=kind),
    }


def launcher_variables(
    template: Template, instance_id: str, instance_dir: str, *, kind: JobKind
) -> dict[str, Any] | None:
    """For a template deployed by its upstream launcher: where it lives and what it builds; else None."""
    launcher = template.launcher
    if launcher is None:
        return None
    return {
        "tasks": str(template.folder.resolve() / launcher.playbook),
        "repository": launcher.repository,
        "ref": launcher.ref,
        "dir": f"{instance_dir}/{launcher.kind}",
        "definition": f"{instance_dir}/{launcher.definition}",
        # The launcher names the container after the definition file: the proxy's upstream name.
        "container": docker_name(instance_id, template.published_container.name),
        "rebuild": kind is JobKind.UPDATE,
    }


def _curl(url: str) -> list[str]:
    return ["curl", "-fsS", "-o", "/dev/null", "--max-time", "10", url]


def deploy_files(
    settings: Settings, template: Template, placement: Placement, server: Server, version: str
) -> dict[str, str]:
    """Rendered files, plus the proxy's main file and this instance's site block."""
    mode = caddy.tls_mode(settings, server)
    context = render_context(template, placement, server, mode, version, mail=lab_mail(settings))
    files = render_files(template, context=context)
    web = template.published_container
    files[f"{PROXY_FILES}/Caddyfile"] = caddy.caddyfile(mode, acme_email=settings.acme_email)
    files[f"{PROXY_FILES}/site.caddy"] = caddy.site_block(
        mode,
        hostname=placement.hostname,
        upstream=f"{docker_name(placement.instance_id, web.name)}:{web.port}",
        instance_id=placement.instance_id,
    )
    return files


def host_spec(server: Server) -> HostSpec:
    return HostSpec(
        name=server.name,
        address=server.address,
        port=server.port,
        user=server.user,
        connection=server.connection,
        host_key=server.host_key,
    )


def ssh_key(settings: Settings, server: Server) -> str | None:
    if server.connection != "ssh":
        return None
    return settings.resolved_ssh_key_path.read_text()


PLAYBOOKS = {
    JobKind.DEPLOY: "deploy.yml",
    JobKind.UPDATE: "deploy.yml",
    # A deploy with the new secrets in the files, then the template's steps that apply them.
    JobKind.RESET_CREDENTIALS: "deploy.yml",
    JobKind.REMOVE: "remove.yml",
}


# Which of the template's timeouts a job kind runs under.
TIMED_AS: dict[JobKind, Literal["deploy", "update", "remove"]] = {
    JobKind.DEPLOY: "deploy",
    JobKind.UPDATE: "update",
    JobKind.RESET_CREDENTIALS: "deploy",
    JobKind.REMOVE: "remove",
}
# Seconds between two health probes in deploy.yml.
HEALTH_DELAY = 2


def removal_variables(
    settings: Settings, instance_id: str, server: Server, template: Template | None = None
) -> dict[str, Any]:
    instance_dir = f"{server.root_dir}/instances/{instance_id}"
    return {
        "instance_id": instance_id,
        "instance_dir": instance_dir,
        "label": f"{LABEL_INSTANCE}={instance_id}",
        "proxy": caddy.proxy_variables(settings, server),
        "site_file": f"{instance_id}.caddy",
        # What backups left on the server beside it (build_run_spec says what, knowing the database).
        "backup_leftovers": [],
        "launcher": (
            launcher_variables(template, instance_id, instance_dir, kind=JobKind.REMOVE) if template else None
        ),
    }


def build_run_spec(
    settings: Settings,
    catalog: Catalog,
    instance: Instance,
    kind: JobKind,
    *,
    version: str | None = None,
    server: Server | None = None,
) -> RunSpec:
    """The run for one job; ``version`` is the one to deploy (an update's target), else the instance's;
    ``server`` is where (a move's target or source), else the instance's server."""
    server = server or instance.server
    if server is None:
        raise ValueError("the instance has no server yet")
    template = catalog.get(instance.template)
    files: dict[str, str] = {}
    if PLAYBOOKS[kind] == "deploy.yml":
        target = version or instance.version
        placement = placement_of(settings, instance)
        variables = deploy_variables(settings, template, placement, server, target, kind=kind)
        if kind is JobKind.UPDATE:
            # An update that does not answer within the template's window is rolled back.
            variables["health_retries"] = -(-template.updates.health_window_seconds // HEALTH_DELAY)
        # The lab's SMTP account as the operator stored it (else the environment's), for mail.* in files.
        session = object_session(instance)
        mail = mail_settings_for(session, settings) if session is not None else settings
        files = deploy_files(mail, template, placement, server, target)
    else:
        variables = removal_variables(settings, instance.id, server, template)
        session = object_session(instance)
        if session is not None:
            variables["backup_leftovers"] = removal_leftovers(
                session, server=server, tenant_id=instance.tenant_id, instance_id=instance.id
            )
    limits = template.timeouts.get(TIMED_AS[kind]) or Timeouts()
    return RunSpec(
        playbook=PLAYBOOKS[kind],
        playbooks_dir=Path(settings.resolved_playbooks_dir),
        host=host_spec(server),
        variables=variables,
        files=files,
        ssh_private_key=ssh_key(settings, server),
        timeout_seconds=limits.job_seconds or settings.job_timeout_seconds,
        idle_timeout_seconds=limits.idle_seconds or settings.idle_timeout_seconds,
        ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
        mitogen=settings.ansible_mitogen,
    )


def steps_run_spec(
    settings: Settings,
    catalog: Catalog,
    instance: Instance,
    steps: list[Step],
    *,
    timed_as: Literal["deploy", "update", "remove"],
) -> RunSpec:
    """A run of some of the template's steps in the instance's containers, on its server."""
    server = instance.server
    if server is None:
        raise ValueError("the instance has no server yet")
    limits = catalog.get(instance.template).timeouts.get(timed_as) or Timeouts()
    return RunSpec(
        playbook="hooks.yml",
        playbooks_dir=Path(settings.resolved_playbooks_dir),
        host=host_spec(server),
        variables={"steps": step_variables(instance.id, steps)},
        ssh_private_key=ssh_key(settings, server),
        timeout_seconds=limits.job_seconds or settings.job_timeout_seconds,
        idle_timeout_seconds=limits.idle_seconds or settings.idle_timeout_seconds,
        ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
        mitogen=settings.ansible_mitogen,
    )


def bootstrap_run_spec(settings: Settings, server: Server) -> RunSpec:
    """Makes a server ready (Docker where missing, the proxy); deploys also start the proxy themselves."""
    mode = caddy.tls_mode(settings, server)
    return RunSpec(
        playbook="server-bootstrap.yml",
        playbooks_dir=Path(settings.resolved_playbooks_dir),
        host=host_spec(server),
        variables={"proxy": caddy.proxy_variables(settings, server)},
        files={f"{PROXY_FILES}/Caddyfile": caddy.caddyfile(mode, acme_email=settings.acme_email)},
        ssh_private_key=ssh_key(settings, server),
        timeout_seconds=settings.job_timeout_seconds,
        ssh_connect_timeout_seconds=settings.ssh_connect_timeout_seconds,
        mitogen=settings.ansible_mitogen,
    )
