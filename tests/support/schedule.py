"""How scripts/test shares the suite out between its two xdist workers.

The end-to-end tests (real deploys over SSH into Docker) take most of the suite's time. The first worker
(the lead) runs the end-to-end modules one after another, the longest first; the other runs every other
test (each a unit of its own), then takes the longest end-to-end module left, until none are left. Both
end on the shortest modules, so at about the same time (a worker that took the shortest module left
would leave the other alone on a long one at the end), and two deploys run at once only for the last
stretch. Each worker has test servers on addresses of its own and a Redis of its own, each test a
database of its own; the tests of one module stay together (some share the module's stack).
``E2E_ONE_WORKER=1`` keeps every end-to-end test on the lead.

xdist's own ``--dist loadgroup`` would say the same with markers, but it renames test ids to do it,
which pytest 9 no longer allows: its groups are silently ignored. The scheduler below groups by path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

# Every test marked e2e lies below one of these (tests/conftest.py checks it at collection).
END_TO_END = ("tests/e2e/", "tests/playbooks/", "tests/provisioner/cli/test_smoke.py")

# Seconds each end-to-end module took on a 2-core machine with the other worker busy, from a whole run
# on a quiet machine (each run prints these at its end): only the order of the list above, never a
# limit. A module not listed yet sorts as UNMEASURED, among the long ones, so that a new module does not
# start last.
SECONDS = {
    "tests/e2e/test_catalog_mattermost_hedgedoc_standins.py": 164,
    "tests/e2e/test_catalog_nextcloud_standin.py": 158,
    "tests/e2e/test_backups_wordpress.py": 132,
    "tests/e2e/test_updates_and_moves.py": 117,
    "tests/e2e/test_catalog_jitsi_standin.py": 117,
    "tests/e2e/test_portal_accessibility.py": 94,
    "tests/e2e/test_spaces_wordpress.py": 94,
    "tests/e2e/test_job_engine.py": 88,
    "tests/e2e/test_catalog_discourse_launcher.py": 88,
    "tests/e2e/test_portal_story.py": 80,
    "tests/e2e/test_monitoring.py": 74,
    "tests/e2e/test_disaster_recovery.py": 63,
    "tests/e2e/test_backups_s3.py": 59,
    "tests/playbooks/test_backup_playbooks.py": 44,
    "tests/e2e/test_no_secret_anywhere.py": 33,
    "tests/e2e/test_request_to_removal.py": 18,
    "tests/playbooks/library/test_provisioner_restic.py": 16,
    "tests/provisioner/cli/test_smoke.py": 14,
    "tests/playbooks/test_idempotent.py": 10,
    "tests/e2e/test_portal_job_steps_live.py": 6,
    "tests/playbooks/test_image_volumes.py": 5,
    "tests/playbooks/library/test_provisioner_step.py": 3,
    "tests/playbooks/test_instance_files.py": 2,
    "tests/playbooks/test_identity_removal.py": 1,
}
UNMEASURED = 200.0


def scope(nodeid: str) -> str:
    """The unit a worker takes at once: an end-to-end module, or any other test on its own."""
    if nodeid.startswith(END_TO_END):
        return nodeid.split("::", maxsplit=1)[0]
    return nodeid


def is_end_to_end(unit: str) -> bool:
    return unit.startswith(END_TO_END)


def pick(units: Sequence[str], *, lead: bool, e2e_on_lead_only: bool = False) -> str | None:
    """The unit a worker takes next: the lead the longest end-to-end module, any other worker the
    first other test, then the longest end-to-end module left. None when nothing is left for it."""
    e2e = sorted((u for u in units if is_end_to_end(u)), key=lambda u: SECONDS.get(u, UNMEASURED))
    if lead and e2e:
        return e2e[-1]
    rest = next((u for u in units if not is_end_to_end(u)), None)
    if rest is not None or lead:
        return rest
    return e2e[-1] if e2e and not e2e_on_lead_only else None


class LongestEndToEndFirst(LoadScopeScheduling):
    """xdist's scope scheduling with the scopes and the choice of the next unit above."""

    def _split_scope(self, nodeid: str) -> str:
        return scope(nodeid)

    def _assign_work_unit(self, node: WorkerController) -> None:
        lead = node is self.nodes[0]
        chosen = pick(
            list(self.workqueue), lead=lead, e2e_on_lead_only=os.environ.get("E2E_ONE_WORKER") == "1"
        )
        if chosen is None:  # only end-to-end modules are left, and they are the lead's
            return
        self.workqueue.move_to_end(chosen, last=False)
        super()._assign_work_unit(node)
