"""Generates the per-instance secrets a template declares."""

from __future__ import annotations

import secrets
import string

from provisioner.catalog.model import Template

_CHARSETS = {"alnum": string.ascii_letters + string.digits, "hex": "0123456789abcdef"}


def generate_secrets(template: Template) -> dict[str, str]:
    return {
        name: "".join(secrets.choice(_CHARSETS[spec.charset]) for _ in range(spec.length))
        for name, spec in template.secrets.items()
    }
