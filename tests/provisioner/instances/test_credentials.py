"""A credentials reset renews only the shown secrets, and its run applies them with the template's hook."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provisioner.config import Settings
from provisioner.crypto import decrypt
from provisioner.db import session_factory
from provisioner.deployments.plan import after_steps, build_run_spec
from provisioner.instances.credentials import (
    CredentialsGone,
    renew_shown_secrets,
    reveal_credentials,
    store_secrets,
)
from provisioner.jobs.states import JobKind
from provisioner.models import Instance
from tests.support import factories

WORDPRESS = factories.CATALOG.get("wordpress")


def test_renewing_changes_the_shown_secrets_and_keeps_the_others(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        instance = factories.homepage(session, factories.tenant(session))
        store_secrets(settings, instance, WORDPRESS)
        before = {s.name: decrypt(settings, s.encrypted) for s in instance.secrets}
        renew_shown_secrets(settings, instance, WORDPRESS)
        session.commit()
        after = {s.name: decrypt(settings, s.encrypted) for s in instance.secrets}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"admin_password"}


def test_the_reset_run_is_a_deploy_followed_by_the_reset_steps(db_url: str, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key; the run is only planned here")
    settings = Settings(data_dir=tmp_path, database_url=db_url, ssh_key_path=key)
    with session_factory(db_url)() as session:
        instance = factories.homepage(session, factories.tenant(session))
        instance.template = "wordpress"
        instance.version = WORDPRESS.default_version
        instance.parameters = {"language": "de_DE"}
        instance.server = factories.server(session)
        store_secrets(settings, instance, WORDPRESS)
        spec = build_run_spec(settings, factories.CATALOG, instance, JobKind.RESET_CREDENTIALS)
    web = f"prv-{instance.id}-web"
    assert spec.playbook == "deploy.yml"
    assert spec.variables["after_steps"] == [
        {"container": web, "argv": ["php", "/etc/provisioner/admin.php", "install"]},
        {"container": web, "argv": ["php", "/etc/provisioner/admin.php", "reset"]},
    ]
    password = decrypt(settings, next(s.encrypted for s in instance.secrets if s.name == "admin_password"))
    assert password in spec.files["admin/admin.php"]
    # The password is in a file copied without logging, never in a step's command line.
    assert all(password not in " ".join(step["argv"]) for step in spec.variables["after_steps"])
    assert next(f for f in spec.variables["files"] if f["dest"] == "admin/admin.php")["sensitive"]
    assert after_steps(WORDPRESS, instance.id, JobKind.DEPLOY) == spec.variables["after_steps"][:1]


def test_credentials_read_at_once_by_several_requests_are_shown_once(db_url: str, tmp_path: Path) -> None:
    """Eight reveals at the same moment: exactly one gets the password, the others 410."""
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with session_factory(db_url)() as session:
        owner = factories.tenant(session)
        instance = factories.homepage(session, owner)
        store_secrets(settings, instance, WORDPRESS)
        session.commit()
        instance_id, admin = instance.id, factories.admin_of(owner)
    start = threading.Barrier(8)

    def reveal() -> str:
        with session_factory(db_url)() as session:
            row = session.get_one(Instance, instance_id)
            assert row.secrets  # loaded before the race, as the route has it
            start.wait()
            try:
                shown = reveal_credentials(session, settings, actor=admin, instance=row, template=WORDPRESS)
                session.commit()
            except CredentialsGone:
                return "gone"
            return shown.values["admin_password"]

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: reveal(), range(8)))
    assert outcomes.count("gone") == 7
