"""``provisioner templates``: check the catalog, preview a deploy, and smoke-test a template on a real
server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provisioner.catalog.loader import Catalog, TemplateError
from provisioner.cli.servers import find_server
from provisioner.config import get_settings
from provisioner.deployments.check import check_all
from provisioner.deployments.preview import PreviewError, parse_parameters, preview
from provisioner.deployments.smoke import smoke
from provisioner.errors import NotFound
from provisioner.images import BuildError, build_image, load_recipe

app = typer.Typer(no_args_is_help=True, help="Service templates (the catalog).")


@app.command("check")
def check(
    name: Annotated[str | None, typer.Argument(help="one template; all when left out")] = None,
    lint: Annotated[bool, typer.Option(help="also run ansible-lint over the playbooks")] = True,
) -> None:
    """Validate every template folder: format, rendering, compose config, playbooks, ansible-lint."""
    report = check_all(get_settings(), only=name, lint=lint)
    for checked in report.checked:
        problems = report.problems.get(checked, [])
        typer.echo(f"{'FAIL' if problems else 'ok  '} {checked}")
        for problem in problems:
            typer.echo(f"     {problem}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("render")
def render(
    name: Annotated[str, typer.Argument(help="the template to render")],
    out: Annotated[Path, typer.Option(help="folder to write into (made if missing)")],
    version: Annotated[
        str | None, typer.Option(help="a version of the template (default: its default)")
    ] = None,
    params: Annotated[str | None, typer.Option(help="the parameters as a JSON object")] = None,
) -> None:
    """Write what a deploy would place on a server: every rendered file, the proxy's route, and the
    containers (image, environment, mounts, ports, limits) in containers.yaml; secrets as placeholders."""
    settings = get_settings()
    try:
        template = Catalog.from_dir(settings.resolved_templates_dir).get(name)
        files = preview(settings, template, version=version, parameters=parse_parameters(params))
    except (NotFound, PreviewError, TemplateError) as exc:
        message = exc.detail if isinstance(exc, NotFound) else str(exc)
        typer.echo(f"error: {' '.join(message.split())}", err=True)
        raise typer.Exit(2) from exc
    for relative, text in sorted(files.items()):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        typer.echo(path)


@app.command("smoke")
def smoke_test(
    name: Annotated[str, typer.Argument(help="the template to try")],
    server: Annotated[str, typer.Option(help="a registered server to try it on")],
) -> None:
    """Deploy a template on a real server, check its health, run its backup steps, remove it."""
    settings = get_settings()
    template = Catalog.from_dir(settings.resolved_templates_dir).get(name)
    results = smoke(settings, template, find_server(server), say=typer.echo)
    typer.echo(f"\nsmoke test of {name} on {server}:")
    for result in results:
        typer.echo(f"  {'PASS' if result.passed else 'FAIL'} {result.name} {result.detail}".rstrip())
    if not results or not all(r.passed for r in results):
        raise typer.Exit(1)


@app.command("build-images")
def build_images(
    registry: Annotated[
        str | None, typer.Option(help="push to this registry (default: PROVISIONER_IMAGE_REGISTRY)")
    ] = None,
) -> None:
    """Build every image made from Debian packages: the services' image/ and the shared _images/."""
    settings = get_settings()
    root = settings.resolved_templates_dir
    recipes = [(p.parent, f"provisioner/{p.parent.parent.name}") for p in root.glob("*/image/recipe.yaml")]
    recipes += [(p.parent, f"provisioner/{p.parent.name}") for p in root.glob("_images/*/recipe.yaml")]
    try:
        for recipe_dir, name in sorted(recipes):
            for version in load_recipe(recipe_dir).versions:
                typer.echo(
                    build_image(
                        recipe_dir,
                        name=name,
                        version=version,
                        registry=registry or settings.image_registry,
                        cache_dir=settings.data_dir / "image-cache",
                    )
                )
    except BuildError as exc:
        typer.echo(f"building the image failed: {exc}", err=True)
        raise typer.Exit(1) from exc
