"""The ``provisioner`` command: run the service, its workers, and the operator's chores."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from provisioner import __version__
from provisioner.audit.log import record_cli
from provisioner.auth.actor import Role
from provisioner.auth.tokens import create_token
from provisioner.cli import (
    audit,
    backups,
    dbdump,
    embedded,
    healthcheck,
    keys,
    mail,
    offboarding,
    schedules,
    servers,
    templates,
    tenants,
    users,
)
from provisioner.cli import jobs as jobs_cli
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.logs import uvicorn_logging
from provisioner.migrate import new_revision, upgrade

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False)
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
db_app = typer.Typer(no_args_is_help=True, help="The control plane's database.")
app.add_typer(token_app, name="token")
images_app = typer.Typer(no_args_is_help=True, help="Container images built from Debian packages.")
app.add_typer(db_app, name="db")
app.add_typer(images_app, name="images")
app.add_typer(jobs_cli.app, name="jobs")
app.add_typer(templates.app, name="templates")
app.add_typer(servers.app, name="servers")
app.add_typer(audit.app, name="audit")
app.add_typer(mail.app, name="mail")
app.add_typer(keys.app, name="keys")
app.add_typer(backups.app, name="backups")
app.add_typer(schedules.app, name="schedules")
app.add_typer(users.app, name="users")
app.add_typer(healthcheck.app, name="healthcheck")
app.add_typer(tenants.app, name="tenants")
app.add_typer(offboarding.app, name="offboarding")


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"provisioner {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """The control plane of a city lab's services for associations."""


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    concurrency: Annotated[int, typer.Option(help="jobs that may run at once")] = 2,
) -> None:
    """Run everything in one command: API, portal, worker and scheduler (embedded mode by default)."""
    embedded.run(get_settings(), host=host, port=port, concurrency=concurrency)


@app.command()
def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Run the HTTP API and portal only (production: several of these behind a proxy)."""
    import uvicorn

    settings = get_settings()
    if settings.uses_published_key:
        embedded.warn_published_key()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
        proxy_headers=False,  # the application trusts only PROVISIONER_TRUSTED_PROXIES (see api/app.py)
        **uvicorn_logging(settings),
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="jobs that may run at once")] = 2,
    beat: Annotated[bool, typer.Option(help="also run the scheduler in this process")] = False,
) -> None:
    """Run a worker that executes jobs."""
    from provisioner.worker.celery_app import QUEUE, RUN_JOB
    from provisioner.worker.celery_app import app as celery
    from provisioner.worker.logs import use_for_celery

    options = use_for_celery(get_settings(), job_task=RUN_JOB)
    if get_settings().uses_published_key:
        embedded.warn_published_key()
    argv = [
        *options,
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "-Q",
        QUEUE,
        "--without-gossip",
    ]
    if beat:
        argv.append("--beat")
    celery.worker_main(argv)


@app.command()
def beat() -> None:
    """Run the scheduler. Exactly one should run."""
    from provisioner.worker.celery_app import RUN_JOB
    from provisioner.worker.celery_app import app as celery
    from provisioner.worker.logs import use_for_celery

    options = use_for_celery(get_settings(), job_task=RUN_JOB)
    celery.start([*options, "beat", "--loglevel=INFO"])


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option(help="what changed, in a few words")]) -> None:
    """Write a migration for changed models (compares them with an up-to-date database)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    new_revision(settings.resolved_database_url, message=message)


db_app.command("dump")(dbdump.dump)
db_app.command("restore")(dbdump.restore)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="what the token is for")],
    operator: Annotated[bool, typer.Option("--operator", help="an operator token (all tenants)")] = False,
    days: Annotated[int, typer.Option(min=1, max=365, help="days until the token stops working")] = 90,
) -> None:
    """Create an operator token and print it (only it) on stdout."""
    if not operator:
        raise typer.BadParameter("only --operator tokens are made here; tenant tokens come from the API")
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    with transaction(settings.resolved_database_url) as session:
        row, plain = create_token(
            session,
            name=name,
            role=Role.OPERATOR,
            tenant_id=None,
            lifetime=timedelta(days=days),
            created_by="cli",
        )
        record_cli(session, "create_operator_token", target_id=row.id)
    typer.echo(plain)


@images_app.command("build")
def images_build(
    template: Annotated[str, typer.Argument(help="a service template that has an image/ recipe")],
    registry: Annotated[
        str | None, typer.Option(help="push to this registry (default: PROVISIONER_IMAGE_REGISTRY)")
    ] = None,
) -> None:
    """Build every version of a template's image from Debian packages (and push it to the registry)."""
    from provisioner.images import BuildError, build_image, load_recipe

    settings = get_settings()
    recipe_dir = settings.resolved_templates_dir / template / "image"
    if not (recipe_dir / "recipe.yaml").is_file():
        raise typer.BadParameter(f"{template} has no image recipe (image/recipe.yaml)")
    try:
        for version in load_recipe(recipe_dir).versions:
            reference = build_image(
                recipe_dir,
                name=f"provisioner/{template}",
                version=version,
                registry=registry or settings.image_registry,
                cache_dir=settings.data_dir / "image-cache",
            )
            typer.echo(reference)
    except BuildError as exc:
        typer.echo(f"building the image failed: {exc}", err=True)
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
