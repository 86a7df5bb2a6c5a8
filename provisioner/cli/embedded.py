"""``provisioner up``: one command that runs API, portal, worker and scheduler together."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import typer
import uvicorn

from provisioner.accounts.first_start import open_first_start_link
from provisioner.audit.log import record_cli
from provisioner.auth.actor import Actor, Role
from provisioner.backups.escrow import NO_RECIPIENT_WARNING
from provisioner.config import Settings, get_settings, read_key_file
from provisioner.crypto import DecryptionFailed
from provisioner.db import transaction
from provisioner.keys import rotate_keys
from provisioner.logs import uvicorn_logging
from provisioner.migrate import upgrade
from provisioner.runner.leftovers import descendants_of, freeze_and_kill
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
        link = open_first_start_link(session)
        if link is not None:
            path, until = link
            typer.echo(
                "\nFirst start: the lab has no operator account yet. Open this link in a browser to create "
                "the first one (it works once, until "
                f"{until:%Y-%m-%d %H:%M} UTC; starting again prints a new one):\n"
                f"  {(settings.public_url or base_url).rstrip('/')}{path}\n"
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


# How long the worker may take to stop on its own (finish a short step, let the scheduler go) before
# it and everything it started are ended. A job cut short is taken for lost and swept at the next start.
STOP_GRACE_SECONDS = 10.0
PR_SET_CHILD_SUBREAPER = 36


class _Stop(Exception):
    """SIGTERM arrived: stop everything, as on Ctrl-C."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    # uvicorn catches SIGTERM while it serves and raises it again once it has stopped; ending the
    # process right there (the default action) would skip stopping the worker.
    raise _Stop


def _adopt_orphans() -> None:
    """Become the parent of whatever the worker leaves when it ends (Linux), so it can be ended too."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    # Stopping is under way: another SIGTERM (a service manager's second) must not cut it short.
    signal.signal(signal.SIGTERM, lambda *_: None)
    if worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        typer.echo(f"The worker did not stop within {STOP_GRACE_SECONDS:.0f} s; ending it.", err=True)
    # The worker's pool, its scheduler, a job's playbook (in a session of its own): adopted by this
    # process when the worker ended, or still below a worker that hangs.
    freeze_and_kill(lambda: descendants_of(os.getpid()))
    worker.wait()


def close_data_dir(settings: Settings) -> None:
    """The data folder 0700 and the SQLite files in it 0600, also those an earlier release left open:
    they hold every encrypted secret, the tokens' digests and the job records."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.data_dir.chmod(0o700)
    for url in (settings.resolved_database_url, settings.resolved_broker_url):
        if "sqlite:///" not in url:
            continue
        database = Path(url.split("sqlite:///", 1)[1])
        # SQLite gives its -wal and -shm files the mode of the database file: made 0600 before it opens.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
        for path in (database, *database.parent.glob(f"{database.name}-*")):
            path.chmod(0o600)


def own_secret_key(settings: Settings) -> Settings:
    """On the embedded defaults, a key of this installation instead of the one published in the source.

    Values stored under the published key (an install from before) are re-encrypted with the new key
    in one transaction before the key file takes effect; a start cut short half-way uses the same new
    key next time (it waits beside the key file until the re-encryption committed).
    """
    if not settings.uses_published_key:
        return settings
    if not settings.may_generate_key:
        warn_published_key()
        return settings
    final = settings.resolved_generated_key_file
    pending = final.with_name(final.name + ".new")
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not pending.exists():
        fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    key = read_key_file(pending, forbidden=settings.backed_up_folders())
    try:
        with transaction(settings.resolved_database_url) as session:
            result = rotate_keys(session, settings, new_key=key)
            record_cli(session, "rotate_keys")
    except DecryptionFailed as exc:
        typer.echo(f"The stored secrets were not re-encrypted: {exc}", err=True)
        warn_published_key()
        return settings
    pending.rename(final)
    typer.echo(
        f"First start: a secret key for this installation was generated in {final} (mode 0600)"
        + (f"; {result.values} stored values were re-encrypted with it" if result.values else "")
        + ". Keep a copy of it apart from the data folder: without it the stored secrets are lost."
    )
    get_settings.cache_clear()
    return get_settings()


def warn_published_key() -> None:
    typer.echo(
        "WARNING: the secret key is the development key published in the source code. Anyone can "
        "decrypt the stored secrets (instance passwords, backup passwords) with it. Set "
        "PROVISIONER_SECRET_KEY_FILE, or start on the embedded defaults to get a key of your own.",
        err=True,
    )


def run(settings: Settings, *, host: str | None, port: int | None, concurrency: int) -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    _adopt_orphans()
    with contextlib.suppress(_Stop):
        _run(settings, host=host, port=port, concurrency=concurrency)


def _run(settings: Settings, *, host: str | None, port: int | None, concurrency: int) -> None:
    host, port = host or settings.api_host, port or settings.api_port
    close_data_dir(settings)
    upgrade(settings.resolved_database_url)
    settings = own_secret_key(settings)
    public_key = ensure_key(settings.resolved_ssh_key_path)
    _first_run(settings, base_url=f"http://{host}:{port}")
    declare_queue(settings.resolved_broker_url)
    typer.echo(
        f"Servers added over SSH must let this key in (authorized_keys of their user):\n  {public_key}\n"
    )
    if not settings.recovery_recipients:
        typer.echo(f"WARNING: {NO_RECIPIENT_WARNING}\n", err=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "provisioner", "worker", "--beat", f"--concurrency={concurrency}"],
        # Signals to this command's process group (a terminal's, a service manager's) reach the worker
        # through this command only, which stops it in order; a direct SIGTERM to each pool process
        # left Celery's main process waiting for ever.
        start_new_session=True,
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
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            proxy_headers=False,
            **uvicorn_logging(settings),
        )
    except _Stop:
        pass
    finally:
        stopping.set()
        _stop_worker(worker)
    if worker.returncode not in (0, -signal.SIGTERM):
        raise SystemExit(1)
