"""Space jobs over the scripted runner: a new shared instance deployed before its first space, the
next space placed into it, a failing space that leaves the others alone, and the shared instance
removed with its last space."""

from __future__ import annotations

import json

from provisioner.catalog.loader import Catalog
from provisioner.db import transaction
from provisioner.engine.execute import execute_job
from provisioner.models import Instance, Space, Tenant
from provisioner.runner.scripted import ScriptedRunner, fails
from provisioner.spaces.quota import change_space_quota
from provisioner.spaces.service import remove_space
from tests.support import factories
from tests.support.engine import scripted_context
from tests.support.engine_lab import EngineLab
from tests.support.spaces import approved_space, offer_shared


def _approved(lab: EngineLab, slug: str, catalog: Catalog = factories.CATALOG) -> tuple[str, str]:
    with transaction(lab.url) as session:
        offer_shared(session, catalog)
        owner = session.get(Tenant, lab.tenant_id) if slug == "verein-a" else factories.tenant(session, slug)
        assert owner is not None
        space, job = approved_space(session, lab.settings, owner, catalog=catalog)
        return space.id, job.id


def _space(lab: EngineLab, space_id: str) -> Space:
    with transaction(lab.url) as session:
        space = session.get_one(Space, space_id)
        session.expunge(space)
        return space


def _instance(lab: EngineLab, instance_id: str | None) -> Instance:
    assert instance_id is not None
    with transaction(lab.url) as session:
        instance = session.get_one(Instance, instance_id)
        session.expunge(instance)
        return instance


def _removal(lab: EngineLab, space_id: str) -> str:
    with transaction(lab.url) as session:
        owner = session.get_one(Space, space_id).tenant
        job = remove_space(session, actor=factories.admin_of(owner), space_id=space_id)
        assert job is not None
        return job.id


def test_the_first_space_deploys_its_shared_instance_and_the_second_goes_into_it(lab: EngineLab) -> None:
    first, first_job = _approved(lab, "verein-a")
    runner = lab.run(first_job)
    assert runner.playbooks == ["deploy.yml", "space.yml"]
    assert lab.ended(first_job) == ("succeeded", None, "running")

    second, second_job = _approved(lab, "verein-b")
    runner = lab.run(second_job)
    assert runner.playbooks == ["space.yml"]

    a, b = _space(lab, first), _space(lab, second)
    assert (a.state, a.health, b.state) == ("running", "healthy", "running")
    assert a.instance_id == b.instance_id
    shared = _instance(lab, a.instance_id)
    assert shared.shared
    assert shared.state == "running"
    with transaction(lab.url) as session:
        assert session.get_one(Tenant, shared.tenant_id).kind == "lab"
    # Each space answers at its own address, routed to the shared instance's web container.
    site = runner.ran[0].variables["site"]
    assert site["hostname"] == f"{b.subdomain}.{b.domain}"
    assert site["upstream"] == f"prv-{shared.id}-web:80"


def test_the_space_facts_go_on_standard_input_never_on_the_command_line(lab: EngineLab) -> None:
    space_id, job = _approved(lab, "verein-a")
    spec = lab.run(job).ran[-1]
    facts = json.loads(spec.variables["space_input"])
    password = facts["space"]["admin_password"]
    assert len(password) == 24
    assert facts["action"] == "create"
    assert facts["space"]["quota"] == {"members": None, "storage_mb": 200}
    assert password not in " ".join(spec.variables["step"]["argv"])
    assert password not in json.dumps({k: v for k, v in spec.variables.items() if k != "space_input"})
    assert facts["space"]["admin_user"] == _space(lab, space_id).admin_user


def test_a_space_whose_command_fails_fails_alone(lab: EngineLab) -> None:
    first, first_job = _approved(lab, "verein-a")
    lab.run(first_job)
    second, second_job = _approved(lab, "verein-b")

    lab.run(second_job, ScriptedRunner(fails("php exited 1: the site could not be made")))

    status, error, instance_state = lab.ended(second_job)
    assert (status, instance_state) == ("failed", "running")
    assert error == "the space's create failed: php exited 1: the site could not be made"
    assert _space(lab, second).state == "failed"
    assert _space(lab, first).state == "running"


def test_a_shared_instance_that_does_not_deploy_fails_with_its_space(lab: EngineLab) -> None:
    space_id, job = _approved(lab, "verein-a")

    runner = lab.run(job, ScriptedRunner(fails("image not found")))

    assert runner.playbooks == ["deploy.yml"]
    assert lab.ended(job) == ("failed", "the shared instance's deploy failed: image not found", "failed")
    assert _space(lab, space_id).state == "failed"


def test_removing_a_space_keeps_the_shared_instance_until_its_last_space_goes(lab: EngineLab) -> None:
    first, first_job = _approved(lab, "verein-a")
    lab.run(first_job)
    second, second_job = _approved(lab, "verein-b")
    lab.run(second_job)

    runner = lab.run(_removal(lab, first))
    assert runner.playbooks == ["space.yml"]
    assert runner.ran[0].variables["action"] == "remove"
    assert _space(lab, first).state == "removed"
    shared = _space(lab, second).instance_id
    assert _instance(lab, shared).state == "running"

    last = _removal(lab, second)
    runner = lab.run(last)
    assert runner.playbooks == ["space.yml", "remove.yml"]
    assert lab.ended(last) == ("succeeded", None, "removed")
    assert _space(lab, second).state == "removed"


def test_a_full_shared_instance_gets_a_sibling_on_another_server(lab: EngineLab) -> None:
    wordpress = factories.CATALOG.get("wordpress")
    assert wordpress.sharing is not None
    assert wordpress.sharing.shared is not None
    one_each = wordpress.sharing.shared.model_copy(update={"spaces_per_instance": 1})
    small = wordpress.model_copy(
        update={"sharing": wordpress.sharing.model_copy(update={"shared": one_each})}
    )
    catalog = Catalog({**{t.name: t for t in factories.CATALOG.all()}, "wordpress": small})
    lab.second_server()
    first, _ = _approved(lab, "verein-a", catalog)
    second, _ = _approved(lab, "verein-b", catalog)

    a, b = _space(lab, first), _space(lab, second)
    assert a.instance_id != b.instance_id
    assert _instance(lab, a.instance_id).server_id != _instance(lab, b.instance_id).server_id


class _Broken:
    def run(self, spec: object, sink: object) -> object:
        raise RuntimeError("a bug inside the control plane")


def test_a_space_job_that_breaks_down_fails_its_space_and_leaves_a_running_shared_instance(
    lab: EngineLab,
) -> None:
    first, first_job = _approved(lab, "verein-a")
    lab.run(first_job)
    second, second_job = _approved(lab, "verein-b")

    execute_job(scripted_context(lab.settings, _Broken()), second_job, worker="w1")  # type: ignore[arg-type]

    status, error, instance_state = lab.ended(second_job)
    assert (status, instance_state) == ("failed", "running")
    assert error == "the space_create broke down inside the control plane: RuntimeError"
    assert _space(lab, second).state == "failed"
    assert _space(lab, first).state == "running"


def _quota_change(lab: EngineLab, space_id: str, given: dict[str, int | None]) -> str:
    with transaction(lab.url) as session:
        return change_space_quota(
            session, actor=factories.OPERATOR, catalog=factories.CATALOG, space_id=space_id, given=given
        ).job.id


def test_a_quota_change_runs_the_services_change_command_and_the_space_takes_it(lab: EngineLab) -> None:
    space_id, job = _approved(lab, "verein-a")
    lab.run(job)
    change = _quota_change(lab, space_id, {"storage_mb": 500})

    runner = lab.run(change)

    assert runner.playbooks == ["space.yml"]
    assert lab.ended(change) == ("succeeded", None, "running")
    spec = runner.ran[0].variables
    assert spec["action"] == "change"
    assert spec["step"]["argv"] == ["php", "/etc/provisioner/space.php"]
    facts = json.loads(spec["space_input"])
    assert (facts["action"], facts["space"]["quota"]) == ("change", {"members": None, "storage_mb": 500})
    space = _space(lab, space_id)
    assert (space.state, space.quota_storage_mb) == ("running", 500)
    assert "changing the space's limits with the service's own command" in lab.lines(change)

    # Back to the service's own default.
    lab.run(_quota_change(lab, space_id, {"storage_mb": None}))
    assert _space(lab, space_id).quota_storage_mb is None


def test_a_quota_change_that_fails_keeps_the_old_limit_and_the_space_working(lab: EngineLab) -> None:
    space_id, job = _approved(lab, "verein-a")
    lab.run(job)
    change = _quota_change(lab, space_id, {"storage_mb": 50})

    lab.run(change, ScriptedRunner(fails("php exited 1: the space x.example.test is not a site")))

    status, error, instance_state = lab.ended(change)
    assert (status, instance_state) == ("failed", "running")
    assert (
        error
        == "the space's limits could not be changed: php exited 1: the space x.example.test is not a site"
    )
    space = _space(lab, space_id)
    assert (space.state, space.quota_storage_mb) == ("running", 200)  # what the service still enforces
