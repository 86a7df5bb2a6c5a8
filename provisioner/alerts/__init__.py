"""Alerts: one per condition while it lasts, told to operators and the tenant once when it opens and once
when it clears. Other parts of the provisioner call ``raise_alert`` and ``resolve_alert``."""

from provisioner.alerts.service import AlertKind, list_alerts, raise_alert, resolve_alert

__all__ = ["AlertKind", "list_alerts", "raise_alert", "resolve_alert"]
