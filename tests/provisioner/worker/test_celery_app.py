"""What a worker loads before its first job: the heavy clients wait until a job needs them."""

from __future__ import annotations

import subprocess
import sys

# The HTTP clients (pycurl is the health sweep's) and ansible-runner: about 40 MiB in each process of the
# worker's pool while idle.
LOADED_WHEN_USED = ("ansible_runner", "aiohttp", "httpx", "pycurl")


def test_an_idle_worker_has_not_loaded_the_clients_its_jobs_use() -> None:
    script = (
        "import sys; from provisioner.worker.celery_app import app; app.loader.import_default_modules(); "
        f"print(','.join(m for m in {LOADED_WHEN_USED!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
