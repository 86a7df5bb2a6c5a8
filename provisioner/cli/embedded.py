"""``provisioner up``: one command that runs API, portal, worker and scheduler together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import typer
import uvicorn
from sqlalchemy import select

from provisioner.auth.actor import Actor, Role
from provisioner.auth.tokens import create_token
from provisioner.config import Settings
from provisioner.db import transaction
from provisioner.migrate import upgrade
from provisioner.models import ApiToken
from provisioner.servers.local import docker_available, register_local_server
from provisioner.servers.sshkey import ensure_key
from provisioner.worker.dispatch import declare_queue

SYSTEM = Actor(
    token_id="system",  # noqa: S106 - names the actor in records, no secret
    role=Role.OPERATOR,
    tenant_id=None,
)


def _first_run(settings: Settings, *, base_url: str) -> None:
    url = settings.resolved_database_url
    with transaction(url) as session:
        has_operator = session.scalar(
            select(ApiToken.id).where(ApiToken.role == Role.OPERATOR.value).limit(1)
        )
        if has_operator is None:
            _, plain = create_token(session, name="first operator", role=Role.OPERATOR, tenant_id=None)
            typer.echo(
                "\nFirst start: an operator token was created. It is shown only now; keep it safe.\n"
                f"  export PROVISIONER_TOKEN={plain}\n"
                '  curl -H "Authorization: Bearer $PROVISIONER_TOKEN" '
                f"{base_url}/api/v1/catalog\n"
            )
        if docker_available():
            server = register_local_server(
                session, actor=SYSTEM, root_dir=settings.data_dir / "servers" / "local"
            )
            if server is not None:
                typer.echo(f"This machine serves instances as server '{server.name}' (Docker answered).")
        else:
            typer.echo(
                "Docker does not answer here, so this machine is not used as a server; add one over SSH."
            )


def run(settings: Settings, *, host: str | None, port: int | None, concurrency: int) -> None:
    host, port = host or settings.api_host, port or settings.api_port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    public_key = ensure_key(settings.resolved_ssh_key_path)
    _first_run(settings, base_url=f"http://{host}:{port}")
    declare_queue(settings.resolved_broker_url)
    typer.echo(
        f"Servers added over SSH must let this key in (authorized_keys of their user):\n  {public_key}\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "provisioner", "worker", "--beat", f"--concurrency={concurrency}"]
    )
    stopping = threading.Event()

    def watch_worker() -> None:
        worker.wait()
        if not stopping.is_set():
            typer.echo(
                "The worker stopped unexpectedly; shutting down so nothing looks alive that is not.", err=True
            )
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM

    threading.Thread(target=watch_worker, daemon=True).start()
    try:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, proxy_headers=False)
    finally:
        stopping.set()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    if worker.returncode not in (0, -signal.SIGTERM):
        raise SystemExit(1)
