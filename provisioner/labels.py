"""The Docker labels on every instance's containers and volumes: what is whose on a server."""

from __future__ import annotations

LABEL_INSTANCE = "org.provisioner.instance"
LABEL_TENANT = "org.provisioner.tenant"
