"""Jobs on one space inside a shared instance; the job holds the shared instance's lock, so the
spaces of one instance are made and removed one after another, never during its own deploy.

- ``space_create``: a shared instance approved for this space is deployed first (as any deploy); then
  the service's own command makes the space, its route goes into the proxy, and the space answers at
  its own address.
- ``space_remove``: the route goes, the service's command removes the space; when it was the last
  space of its shared instance, the instance is removed in the same job.
- ``space_quota``: the service's change command gives the running space its new limits; the space's
  row takes them when it succeeded. A failure fails the job alone: the space keeps working, with the
  limits its row still names.

A failure fails the space and the job; the shared instance fails only when its own deploy or removal
does, so one association's broken space never marks the others' as broken.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioner.catalog.model import HealthCheck
from provisioner.catalog.sharing import shared_mode
from provisioner.context import Context
from provisioner.db import transaction
from provisioner.deployments.plan import build_run_spec
from provisioner.engine.sink import DatabaseSink, note
from provisioner.engine.steps import mark_running
from provisioner.health.probe import Health
from provisioner.instances.credentials import store_secrets
from provisioner.instances.service import set_state
from provisioner.instances.states import InstanceState
from provisioner.jobs.service import finish_job, owned_job
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Job, Space, SpaceQuotaChange
from provisioner.runner.spec import RunOutcome, RunSpec
from provisioner.spaces.placement import hold_placements, live_spaces_in
from provisioner.spaces.runs import Action, Quota, space_run_spec
from provisioner.spaces.service import set_space_state
from provisioner.spaces.states import SpaceState
from provisioner.timeutil import utcnow

I = InstanceState  # noqa: E741 - read as the instance's state beside S, the space's
S = SpaceState


class SpaceStepFailed(Exception):
    """A step of a space job failed; one line for people."""


def run_space_job(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        kind = JobKind(session.get_one(Job, job_id).kind)
    # A breakdown inside the control plane goes to the engine, which settles space and instance
    # (``provisioner.engine.unfinished``); a step that failed on the server is settled here.
    try:
        if kind is JobKind.SPACE_CREATE:
            _create(ctx, job_id, sink)
        elif kind is JobKind.SPACE_QUOTA:
            _change_quota(ctx, job_id, sink)
        else:
            remove_space_now(ctx, job_id, sink)
    except SpaceStepFailed as exc:
        _fail(ctx, job_id, str(exc))


def _create(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        space, instance = space_of(job), job.subject
        set_space_state(space, S.CREATING)
        new_instance = instance.state == I.APPROVED
        if not new_instance and instance.state != I.RUNNING:
            raise SpaceStepFailed(f"the shared instance {instance.name} is {instance.state}, not running")
        if new_instance:
            set_state(instance, I.PROVISIONING)
            store_secrets(ctx.settings, instance, ctx.catalog.get(instance.template))
            deploy = build_run_spec(ctx.settings, ctx.catalog, instance, JobKind.DEPLOY)
    if new_instance:
        note(sink, "deploying the shared instance the space goes into")
        _settle_deploy(ctx, job_id, run_in_job(ctx, deploy, sink))
    _space_step(ctx, job_id, sink, "create")
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        space = space_of(job)
        check_space_health(ctx, session, space)
        set_space_state(space, S.RUNNING)
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def _change_quota(ctx: Context, job_id: str, sink: DatabaseSink) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        space = space_of(job)
        change = session.get_one(SpaceQuotaChange, job_id)
        quota = Quota(members=change.quota_members, storage_mb=change.quota_storage_mb)
        spec = space_run_spec(
            ctx.settings,
            ctx.catalog.get(space.template),
            space=space,
            instance=job.subject,
            action="change",
            quota=quota,
        )
    note(sink, "changing the space's limits with the service's own command")
    outcome = run_in_job(ctx, spec, sink)
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        if outcome.status != "successful":
            error = f"the space's limits could not be changed: {outcome.error}"
            finish_job(session, job=job, status=JobStatus.FAILED, error=error)
            return
        space = space_of(job)
        space.quota_members, space.quota_storage_mb = quota.members, quota.storage_mb
        space.updated_at = utcnow()
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def check_space_health(ctx: Context, session: Session, space: Space) -> None:
    """Ask the space's own address, through the proxy, as a visitor would."""
    template = ctx.catalog.get(space.template)
    server = space.instance.server if space.instance else None
    if space.url is None or server is None:
        raise SpaceStepFailed("the space has no address or its shared instance no server")
    said = shared_mode(template.sharing, template.name).health
    check = HealthCheck(path=said.path, expect_status=said.expect_status)
    space.health = ctx.health(session, ctx.settings, check, url=space.url, server=server).value
    space.health_checked_at = ctx.clock.now()


def _settle_deploy(ctx: Context, job_id: str, outcome: RunOutcome) -> None:
    error = (
        None if outcome.status == "successful" else f"the shared instance's deploy failed: {outcome.error}"
    )
    with transaction(ctx.database_url) as session:
        instance = owned_job(session, job_id=job_id).subject
        if error is None:
            mark_running(ctx, instance)
        else:
            set_state(instance, I.FAILED, reason=error)
    if error is not None:
        raise SpaceStepFailed(error)


def remove_space_now(ctx: Context, job_id: str, sink: DatabaseSink, *, reason: str | None = None) -> None:
    """The space's removal, in its own job or at the end of its move out (``reason``: where it went)."""
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        space = space_of(job)
        set_space_state(space, S.REMOVING)
        deployed = job.subject.state in (I.RUNNING, I.FAILED) and job.subject.server is not None
    if deployed:
        _space_step(ctx, job_id, sink, "remove")
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        set_space_state(space_of(job), S.REMOVED, reason=reason)
        instance = job.subject
        # Decided while holding the placements: no space is placed into it from now on.
        hold_placements(session, ctx.settings)
        last = live_spaces_in(session, instance.id) == 0 and instance.state in (
            I.RUNNING,
            I.FAILED,
            I.APPROVED,
        )
        if not last:
            finish_job(session, job=job, status=JobStatus.SUCCEEDED)
            return
        set_state(instance, I.REMOVING)
        removal = (
            build_run_spec(ctx.settings, ctx.catalog, instance, JobKind.REMOVE) if instance.server else None
        )
    note(sink, "that was the shared instance's last space: removing the shared instance")
    outcome = run_in_job(ctx, removal, sink) if removal is not None else RunOutcome("successful", 0, None)
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        instance = job.subject
        if outcome.status != "successful":
            error = f"the space is removed, its shared instance's removal failed: {outcome.error}"
            set_state(instance, I.FAILED, reason=error)
            finish_job(session, job=job, status=JobStatus.FAILED, error=error)
            return
        set_state(instance, I.REMOVED)
        instance.port = None
        instance.url = None
        instance.health = Health.UNKNOWN.value
        finish_job(session, job=job, status=JobStatus.SUCCEEDED)


def _space_step(ctx: Context, job_id: str, sink: DatabaseSink, action: Action) -> None:
    with transaction(ctx.database_url) as session:
        job = session.get_one(Job, job_id)
        space = space_of(job)
        template = ctx.catalog.get(space.template)
        spec = space_run_spec(ctx.settings, template, space=space, instance=job.subject, action=action)
    note(sink, f"{'making' if action == 'create' else 'removing'} the space with the service's own command")
    outcome = run_in_job(ctx, spec, sink)
    if outcome.status != "successful":
        raise SpaceStepFailed(f"the space's {action} failed: {outcome.error}")


def run_in_job(ctx: Context, spec: RunSpec, sink: DatabaseSink) -> RunOutcome:
    sink.continue_numbering()
    outcome = ctx.runner.run(spec, sink)
    sink.flush()
    return outcome


def space_of(job: Job) -> Space:
    if job.space is None:
        raise RuntimeError(f"job {job.id} is a space job without a space")
    return job.space


def _fail(ctx: Context, job_id: str, error: str) -> None:
    with transaction(ctx.database_url) as session:
        job = owned_job(session, job_id=job_id)
        space = space_of(job)
        if space.state not in (S.FAILED, S.REMOVED):
            set_space_state(space, S.FAILED, reason=error)
        finish_job(session, job=job, status=JobStatus.FAILED, error=error)
