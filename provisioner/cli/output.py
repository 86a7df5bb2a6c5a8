"""``--json`` for list and show commands: one JSON document on standard output, for scripts and jq."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON document instead of text")]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, default=_encode, ensure_ascii=False, indent=2))
