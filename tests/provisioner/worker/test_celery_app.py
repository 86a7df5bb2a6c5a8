"""What a worker loads before its first job: the heavy clients wait until a job needs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from kombu import Connection

from provisioner.config import Settings
from provisioner.worker.celery_app import (
    SQL_BROKER_POLL_SECONDS,
    TICK_GRACE_SECONDS,
    QuickSqlPolling,
    make_celery,
)

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


def test_the_worker_asks_the_embedded_broker_again_within_a_tenth_of_a_second(tmp_path: Path) -> None:
    """kombu's SQL transport only polls; at its default of a second per poll a job waited behind the
    scheduler's ticks that piled up while two jobs ran (celery_app.SQL_BROKER_POLL_SECONDS)."""
    app = make_celery(Settings(data_dir=tmp_path))
    assert QuickSqlPolling in app.steps["consumer"]
    with app.connection_for_read() as connection:
        QuickSqlPolling(SimpleNamespace()).start(SimpleNamespace(connection=connection))
        assert connection.transport.polling_interval == SQL_BROKER_POLL_SECONDS <= 0.1
    with Connection("redis://127.0.0.1:6399/0") as redis:
        QuickSqlPolling(SimpleNamespace()).start(SimpleNamespace(connection=redis))
        assert redis.transport.polling_interval is None  # Redis hands messages over as they come


def test_a_periodic_tick_that_waited_behind_a_backlog_is_dropped(tmp_path: Path) -> None:
    """Each tick is a whole sweep: one that waited longer than its interval (and a minute) behind jobs
    is superseded by the next, so the worker discards it on arrival (Celery's ``expires``) rather than
    running it late with the others that waited."""
    settings = Settings(data_dir=tmp_path, health_sweep_seconds=45, backup_prune_interval_seconds=7200)
    schedule = make_celery(settings).conf.beat_schedule
    assert schedule["health-sweep"]["options"] == {"expires": 60}
    assert schedule["prune-backups"]["options"] == {"expires": 7200}
    for entry in schedule.values():
        assert entry["options"]["expires"] == max(entry["schedule"], TICK_GRACE_SECONDS)
