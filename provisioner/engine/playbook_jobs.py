"""Jobs of one playbook run: deploy, remove, and credential reset (a deploy with renewed secrets).

The instance goes into its working state, the playbook runs, and the outcome settles job and instance.
"""

from __future__ import annotations

from provisioner.context import Context
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec
from provisioner.engine.sink import DatabaseSink
from provisioner.engine.steps import mark_running
from provisioner.instances.credentials import renew_shown_secrets, store_secrets
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Job
from provisioner.runner.spec import RunOutcome, RunSpec

# The state an instance is in while a job of each kind works on it.
WORKING_STATE = {
    JobKind.DEPLOY: InstanceState.PROVISIONING,
    JobKind.REMOVE: InstanceState.REMOVING,
    JobKind.RESET_CREDENTIALS: InstanceState.PROVISIONING,
}

_OUTCOME_STATUS = {
    "successful": JobStatus.SUCCEEDED,
    "canceled": JobStatus.CANCELED,
    "timeout": JobStatus.TIMED_OUT,
}


def run_playbook_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    spec = _start(ctx, job_id)
    if spec is None:
        _settle(ctx, job_id, RunOutcome(status="successful", rc=0, error=None))
        return
    outcome = ctx.runner.run(spec, sink)
    sink.flush()
    _settle(ctx, job_id, outcome)


def _start(ctx: Context, job_id: str) -> RunSpec | None:
    """Move the instance into its working state and build the spec; None when there is nothing to run."""
    with transaction(ctx.database_url) as session:
        job = session.get_one(Job, job_id)
        instance = job.subject
        kind = JobKind(job.kind)
        set_state(instance, WORKING_STATE[kind])
        if instance.server is None:
            return None
        template = ctx.catalog.get(instance.template)
        if kind is JobKind.RESET_CREDENTIALS:
            renew_shown_secrets(ctx.settings, instance, template)
        elif kind is not JobKind.REMOVE:
            # A secret the template gained since the approval is made now (the others are kept).
            store_secrets(ctx.settings, instance, template)
        return build_run_spec(ctx.settings, ctx.catalog, instance, kind, version=job.target_version)


def _why(kind: JobKind, status: JobStatus, error: str | None) -> str:
    if status is JobStatus.CANCELED:
        return f"the {kind.value} was canceled while it ran; the instance may be partly changed"
    if status is JobStatus.TIMED_OUT:
        return f"the {kind.value} was stopped: {error}"
    return f"the {kind.value} failed: {error}"


def _settle(ctx: Context, job_id: str, outcome: RunOutcome) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        instance = job.subject
        kind = JobKind(job.kind)
        status = _OUTCOME_STATUS.get(outcome.status, JobStatus.FAILED)
        if status is not JobStatus.SUCCEEDED:
            set_state(instance, InstanceState.FAILED, reason=_why(kind, status, outcome.error))
            finish_job(session, job=job, status=status, error=outcome.error)
            return
        if kind is JobKind.REMOVE:
            set_state(instance, InstanceState.REMOVED)
            instance.port = None
            instance.url = None
            instance.health = "unknown"
        else:
            if job.target_version:
                instance.version = job.target_version
            if kind is JobKind.RESET_CREDENTIALS:
                # The new values apply on the server now: the admin may see them, once, again.
                instance.credentials_revealed_at = None
            mark_running(ctx, instance)
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)
