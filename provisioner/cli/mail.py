"""``provisioner mail``: the lab's SMTP account and its webhook, kept in the database encrypted."""

from __future__ import annotations

import sys
from typing import Annotated
from urllib.parse import urlsplit

import typer

from provisioner.audit.log import record_cli
from provisioner.config import get_settings
from provisioner.db import transaction
from provisioner.errors import DomainError
from provisioner.mail_config import configure_mail, configure_webhook
from provisioner.notices.channels import send_test_mail, send_test_webhook, shown_webhook

app = typer.Typer(no_args_is_help=True, help="Outgoing mail and the webhook.")


def read_secret(prompt: str) -> str:
    """From the terminal without echo, or the first line of stdin when it is not a terminal."""
    if sys.stdin.isatty():
        value: str = typer.prompt(prompt, hide_input=True, default="", show_default=False)
        return value
    return sys.stdin.readline().rstrip("\r\n")


@app.command("configure")
def configure(
    host: Annotated[str, typer.Option(help="SMTP server")],
    sender: Annotated[str, typer.Option("--from", help="the From address of the lab's mail")],
    port: Annotated[int, typer.Option(min=1, max=65535)] = 587,
    starttls: Annotated[bool, typer.Option(help="upgrade the connection with STARTTLS")] = True,
    username: Annotated[str, typer.Option(help="log in as; the password is read from stdin")] = "",
) -> None:
    """Store the SMTP account (overrides PROVISIONER_SMTP_*). The password is never an argument."""
    password = read_secret("SMTP password") if username else None
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        configure_mail(
            session,
            settings,
            host=host,
            port=port,
            starttls=starttls,
            username=username,
            password=password,
            from_address=sender,
        )
        record_cli(session, "configure_mail")
    typer.echo(f"mail goes through {host}:{port} from {sender}")


@app.command("test")
def send_test(
    to: Annotated[str, typer.Option(help="the address to send the test message to")],
    language: Annotated[str, typer.Option(help="de or en")] = "de",
) -> None:
    """Send a test message now through the lab's account, to see that mail leaves the lab."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        try:
            send_test_mail(session, settings, to=to, language=language)
        except DomainError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"a test message went to {to}")


@app.command("webhook")
def webhook(
    url: Annotated[str, typer.Argument(help="the chat's incoming-webhook address (http:// or https://)")],
    signed: Annotated[bool, typer.Option(help="sign each post; the secret is read from stdin")] = False,
) -> None:
    """Store the webhook operators' notices are posted to (overrides PROVISIONER_ALERT_WEBHOOK_*)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise typer.BadParameter("an http:// or https:// address", param_hint="URL")
    secret = read_secret("Signing secret") if signed else ""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        configure_webhook(session, settings, url=url, secret=secret)
        record_cli(session, "configure_webhook")
    typer.echo(f"notices for the operators are posted to {shown_webhook(url)}")


@app.command("webhook-test")
def send_webhook_test(language: Annotated[str, typer.Option(help="de or en")] = "de") -> None:
    """Post a test notice to the webhook now."""
    settings = get_settings()
    with transaction(settings.resolved_database_url) as session:
        try:
            send_test_webhook(session, settings, language=language)
        except DomainError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
    typer.echo("the webhook took a test notice")
