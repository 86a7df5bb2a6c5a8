"""/metrics' figures, read from a real database (SQLite and PostgreSQL) and parsed as Prometheus would."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.orm import Session

from provisioner.db import session_factory
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Backup, BackupRepository, BackupTarget, DrillResult, Instance, Job
from provisioner.observability.metrics import render
from provisioner.timeutil import utcnow
from tests.support import factories

NOW = utcnow().replace(microsecond=0)
DOCS = Path(__file__).resolve().parents[3] / "docs"


def _samples(session: Session) -> list[Sample]:
    text = render(session, factories.CATALOG).decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0]


def _job(
    session: Session, instance: Instance, kind: JobKind, status: JobStatus, seconds: float | None
) -> None:
    started = NOW - timedelta(hours=1)
    session.add(
        Job(
            instance_id=instance.id,
            kind=kind.value,
            status=status.value,
            started_at=started if seconds is not None else None,
            finished_at=started + timedelta(seconds=seconds) if seconds is not None else None,
        )
    )


def _backup(
    session: Session, instance: Instance, repository: BackupRepository, status: str, hours_ago: int
) -> Backup:
    backup = Backup(
        instance_id=instance.id,
        repository_id=repository.id,
        status=status,
        version=instance.version,
        finished_at=NOW - timedelta(hours=hours_ago),
    )
    session.add(backup)
    return backup


def test_the_lab_in_figures(db_url: str) -> None:
    with session_factory(db_url)() as session:
        owner = factories.tenant(session, "verein-a")
        server = factories.server(session, "s1", memory_mb=4096)
        site = factories.homepage(session, owner, "site")
        blog = factories.homepage(session, owner, "blog")
        for instance, health in ((site, "healthy"), (blog, "unhealthy")):
            instance.state, instance.health, instance.server_id = (
                InstanceState.RUNNING.value,
                health,
                server.id,
            )
        server.reachable = False
        session.flush()
        _job(session, site, JobKind.DEPLOY, JobStatus.SUCCEEDED, 12)
        _job(session, site, JobKind.DEPLOY, JobStatus.FAILED, 400)
        _job(session, blog, JobKind.DEPLOY, JobStatus.SUCCEEDED, 20)
        _job(session, blog, JobKind.BACKUP, JobStatus.QUEUED, None)
        target = BackupTarget(name="t", kind="sftp", path="/b", encrypted_credentials="x")
        session.add(target)
        session.flush()
        repository = BackupRepository(tenant_id=owner.id, target_id=target.id, encrypted_password="x")
        session.add(repository)
        session.flush()
        _backup(session, site, repository, "succeeded", 30)
        newest = _backup(session, site, repository, "succeeded", 6)
        _backup(session, site, repository, "failed", 1)  # a failed one is no "good backup"
        session.flush()
        for status, hours_ago in (("passed", 48), ("failed", 2)):
            session.add(
                DrillResult(
                    instance_id=site.id,
                    job_id="job_x",
                    backup_id=newest.id,
                    status=status,
                    finished_at=NOW - timedelta(hours=hours_ago),
                )
            )
        session.commit()

        samples = _samples(session)

    assert _value(samples, "provisioner_jobs_finished_total", kind="deploy", outcome="succeeded") == 2
    assert _value(samples, "provisioner_jobs_finished_total", kind="deploy", outcome="failed") == 1
    assert _value(samples, "provisioner_jobs", kind="backup", status="queued") == 1
    # Durations 12 s, 20 s and 400 s: one by 15 s, two by 30 s, all three by 600 s.
    assert _value(samples, "provisioner_job_duration_seconds_bucket", kind="deploy", le="15.0") == 1
    assert _value(samples, "provisioner_job_duration_seconds_bucket", kind="deploy", le="30.0") == 2
    assert _value(samples, "provisioner_job_duration_seconds_bucket", kind="deploy", le="300.0") == 2
    assert _value(samples, "provisioner_job_duration_seconds_bucket", kind="deploy", le="600.0") == 3
    assert _value(samples, "provisioner_job_duration_seconds_bucket", kind="deploy", le="+Inf") == 3
    assert _value(samples, "provisioner_job_duration_seconds_count", kind="deploy") == 3
    assert _value(samples, "provisioner_job_duration_seconds_sum", kind="deploy") == 432

    assert _value(samples, "provisioner_instances", state="running", health="healthy") == 1
    assert _value(samples, "provisioner_instances", state="running", health="unhealthy") == 1

    labels = {"instance": site.id, "tenant": "verein-a", "template": "homepage"}
    last_backup = _value(samples, "provisioner_instance_last_backup_timestamp_seconds", **labels)
    assert last_backup == (NOW - timedelta(hours=6)).timestamp()
    last_drill = _value(samples, "provisioner_instance_last_drill_timestamp_seconds", **labels)
    assert last_drill == (NOW - timedelta(hours=48)).timestamp()
    assert _value(samples, "provisioner_instance_last_drill_failed", **labels) == 1
    # Never backed up: no timestamp at all, which the example alert rule looks for with absent().
    assert not [
        s
        for s in samples
        if s.name.startswith("provisioner_instance_last_backup") and s.labels["instance"] == blog.id
    ]
    assert _value(samples, "provisioner_instance_last_drill_failed", instance=blog.id) == 0

    assert _value(samples, "provisioner_server_up", server="s1") == 0
    # Two homepages reserve their template's resources.
    need = factories.CATALOG.get("homepage").resources
    assert (
        _value(samples, "provisioner_server_free_memory_bytes", server="s1")
        == (4096 - 2 * need.memory_mb) * 2**20
    )
    assert _value(samples, "provisioner_server_free_cpus", server="s1") == 4 - 2 * need.cpu

    # The example alert rules and dashboard in docs/ read only series that exist.
    emitted = {sample.name for sample in samples}
    rules = yaml.safe_load((DOCS / "prometheus" / "provisioner-alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((DOCS / "grafana" / "provisioner-dashboard.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    read = {name for expression in expressions for name in re.findall(r"provisioner_[a-z_]+", expression)}
    assert read
    assert read <= emitted, read - emitted
