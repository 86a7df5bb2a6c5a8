"""The charts of the portal's pages: a service's health and footprint, each server's use, over
the days the lab keeps its measurements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from api.portal.charts import Chart, Window, health_chart, line_chart
from api.portal.i18n import Texts
from provisioner.models import Instance, Server
from provisioner.monitoring.history import health_spans, instance_history, server_histories
from provisioner.monitoring.metrics import KEEP


def service_charts(session: Session, texts: Texts, *, instance: Instance, now: datetime) -> list[Chart]:
    start = now - KEEP
    history = instance_history(session, instance=instance, since=start)
    spans = health_spans(session, instance=instance, since=start, until=now)
    window = Window(texts, start, now)
    return [
        health_chart(spans, chart_id="chart-health", title=texts.gettext("Health"), window=window),
        line_chart(
            history.cpu,
            chart_id="chart-cpu",
            title=texts.gettext("Processor cores in use"),
            value_heading=texts.gettext("Processor cores"),
            shown=lambda value: texts.number(value, 2),
            window=window,
        ),
        line_chart(
            history.memory_mb,
            chart_id="chart-memory",
            title=texts.gettext("Memory in use"),
            value_heading=texts.gettext("Memory (MB)"),
            shown=lambda value: texts.gettext("%(size)s MB", size=texts.number(value, 0)),
            window=window,
        ),
        line_chart(
            history.disk_mb,
            chart_id="chart-disk",
            title=texts.gettext("Disk in use"),
            value_heading=texts.gettext("Disk (GB)"),
            shown=lambda value: texts.gettext("%(size)s GB", size=texts.number(value / 1024, 2)),
            window=window,
        ),
    ]


def server_charts(
    session: Session, texts: Texts, *, servers: Sequence[Server], now: datetime
) -> dict[str, list[Chart]]:
    """Server id -> its services' processor use, its memory and disk in use, the latter two drawn against
    the capacity the server reports."""
    start = now - KEEP
    histories = server_histories(session, [server.id for server in servers], since=start)
    found: dict[str, list[Chart]] = {}
    for server in servers:
        history = histories[server.id]
        window = Window(texts, start, now)
        found[server.id] = [
            line_chart(
                history.services_cpu,
                chart_id=f"chart-{server.id}-cpu",
                title=texts.gettext("Processor cores used by the services on %(name)s", name=server.name),
                value_heading=texts.gettext("Processor cores"),
                shown=lambda value: texts.number(value, 2),
                ceiling=server.cpu or None,
                window=window,
            ),
            line_chart(
                history.memory_used_mb,
                chart_id=f"chart-{server.id}-memory",
                title=texts.gettext("Memory in use on %(name)s", name=server.name),
                value_heading=texts.gettext("Memory (MB)"),
                shown=lambda value: texts.gettext("%(size)s MB", size=texts.number(value, 0)),
                ceiling=history.memory_total_mb,
                window=window,
            ),
            line_chart(
                history.disk_used_mb,
                chart_id=f"chart-{server.id}-disk",
                title=texts.gettext("Disk in use on %(name)s", name=server.name),
                value_heading=texts.gettext("Disk (GB)"),
                shown=lambda value: texts.gettext("%(size)s GB", size=texts.number(value / 1024, 1)),
                ceiling=history.disk_total_mb,
                window=window,
            ),
        ]
    return found
