"""Jobs on a server itself, with no instance: its bootstrap (Docker where missing, restic, git, and the
reverse proxy), run from the portal or the API as a job with live steps, like an instance's."""

from __future__ import annotations

from provisioner.context import Context
from provisioner.db import transaction
from provisioner.deployments.plan import bootstrap_run_spec
from provisioner.engine.sink import DatabaseSink
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobStatus
from provisioner.models import Job, Server

_OUTCOME_STATUS = {
    "successful": JobStatus.SUCCEEDED,
    "canceled": JobStatus.CANCELED,
    "timeout": JobStatus.TIMED_OUT,
}


def run_bootstrap_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        server = session.get_one(Server, session.get_one(Job, job_id).target_server_id)
        spec = bootstrap_run_spec(ctx.settings, server)
    outcome = ctx.runner.run(spec, sink)
    sink.flush()
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        status = _OUTCOME_STATUS.get(outcome.status, JobStatus.FAILED)
        error = None if status is JobStatus.SUCCEEDED else f"the bootstrap did not finish: {outcome.error}"
        finish_job(session, job=job, status=status, error=error)
