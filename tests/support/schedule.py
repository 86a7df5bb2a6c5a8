"""How scripts/test shares the suite out between its two xdist workers.

The end-to-end tests (real deploys over SSH into Docker) run one after another on one worker, as they
would in a single process, while the other worker runs everything else. Two deploys at once on two
cores have not yet run often enough to be called safe from the tests' timeouts; ``E2E_PARALLEL=1``
tries it, keeping only the tests of one module together (some share the module's stack).

xdist's own ``--dist loadgroup`` would say the same with markers, but it renames test ids to do it,
which pytest 9 no longer allows: its groups are silently ignored. The scheduler below groups by path.
"""

from __future__ import annotations

import os

from xdist.scheduler import LoadScopeScheduling

# Every test marked e2e lies below one of these (tests/conftest.py checks it at collection).
END_TO_END = ("tests/e2e/", "tests/playbooks/", "tests/provisioner/cli/test_smoke.py")


def scope(nodeid: str) -> str:
    """The unit a worker takes at once: every end-to-end test together, any other test on its own."""
    if not nodeid.startswith(END_TO_END):
        return nodeid
    if os.environ.get("E2E_PARALLEL") == "1":
        return nodeid.split("::", maxsplit=1)[0]
    return "e2e"


class EndToEndOnOneWorker(LoadScopeScheduling):
    """xdist's scope scheduling with the scopes above, in the order the tests were collected."""

    def _split_scope(self, nodeid: str) -> str:
        return scope(nodeid)
