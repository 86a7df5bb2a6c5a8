"""What a restore run is told to do: databases rebuilt from their dumps before the service starts, and
a rolled-back update's containers started at the old version only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from provisioner.backups import targets
from provisioner.backups.reported import backup_paths
from provisioner.backups.repository import repository_for
from provisioner.backups.runs import restore_spec
from provisioner.catalog.model import Step
from provisioner.config import Settings
from provisioner.db import session_factory
from provisioner.instances.credentials import store_secrets
from provisioner.models import Backup, Instance
from provisioner.runner.spec import RunSpec
from tests.support import factories
from tests.support.factories import HOST_KEY

WORDPRESS = factories.CATALOG.get("wordpress")
_RESTORE = WORDPRESS.hooks.restore
assert _RESTORE is not None
# WordPress with a step before its restore (a maintenance switch, say).
GUARDED = WORDPRESS.model_copy(
    update={
        "hooks": WORDPRESS.hooks.model_copy(
            update={"restore": _RESTORE.model_copy(update={"before": [Step(container="web", run=["true"])]})}
        )
    }
)


def _blog(session: Session, settings: Settings, version: str) -> Instance:
    targets.add_target(
        session, actor=factories.OPERATOR, settings=settings, name="lab", kind="sftp",
        path="/srv/restic/", address="192.0.2.20", port=2222, user="restic", host_key=HOST_KEY,
    )  # fmt: skip
    instance = factories.homepage(session, factories.tenant(session))
    instance.template, instance.version, instance.parameters = "wordpress", version, {"language": "de_DE"}
    instance.server = factories.server(session)
    store_secrets(settings, instance, WORDPRESS)
    session.flush()
    return instance


def _specs(
    db_url: str, tmp_path: Path, *, deployed: str, versions: list[str | None]
) -> tuple[str, list[RunSpec]]:
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key; the run is only planned here")
    settings = Settings(data_dir=tmp_path, database_url=db_url, ssh_key_path=key)
    with session_factory(db_url)() as session:
        instance = _blog(session, settings, deployed)
        repository = repository_for(session, settings, tenant_id=instance.tenant_id)
        backup = Backup(
            instance_id=instance.id, repository_id=repository.id, status="succeeded", version=deployed,
            snapshot_id="0123abcd" * 8, paths=backup_paths(instance.id, ["content", "db"]),
        )  # fmt: skip
        session.add(backup)
        session.flush()
        specs = [
            restore_spec(settings, GUARDED, instance, backup, job_id="job_1", version=version)
            for version in versions
        ]
        return instance.id, specs


def _images(containers: list[dict[str, Any]]) -> dict[str, str]:
    return {c["alias"]: c["image"].rsplit(":", 1)[1] for c in containers}


def test_the_database_volume_is_emptied_and_loaded_from_its_dump_never_copied(
    db_url: str, tmp_path: Path
) -> None:
    instance_id, [spec] = _specs(db_url, tmp_path, deployed="6.1", versions=[None])
    variables = spec.variables
    db, web = f"prv-{instance_id}-db", f"prv-{instance_id}-web"
    assert [v["docker"] for v in variables["volumes"]] == [f"prv-{instance_id}-content", db]
    assert [v["copied"] for v in variables["volumes"]] == [True, False]
    [database] = variables["databases"]
    assert database["dump"] == "backup.sql"
    assert database["in_snapshot"] == f"/{db}/_data"
    assert database["load_argv"][-3:] == [db, "mariadb", "wordpress"]
    # The database starts alone on its empty volume; WordPress only once the dump is in.
    assert [c["name"] for c in variables["start_first"]] == [db]
    assert [c["name"] for c in variables["start_then"]] == [web]
    # The instance's own files go with it (a restore into a copy keeps the copy's passwords).
    assert "db.env" in spec.files


def test_a_rollback_starts_the_old_version_and_skips_the_failed_versions_steps(
    db_url: str, tmp_path: Path
) -> None:
    _, [in_place, rollback] = _specs(db_url, tmp_path, deployed="6.1-r2", versions=[None, "6.1"])
    assert _images(in_place.variables["start_then"]) == {"web": "6.1-r2"}
    assert [step["argv"] for step in in_place.variables["before_steps"]] == [["true"]]
    assert _images(rollback.variables["start_then"]) == {"web": "6.1"}
    assert rollback.variables["before_steps"] == []
