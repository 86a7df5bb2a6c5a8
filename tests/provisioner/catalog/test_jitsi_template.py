"""What a Jitsi deploy writes, checked against the upstream facts in service_templates/jitsi/UPSTREAM.md."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.catalog.loader import load_template
from provisioner.config import Settings
from provisioner.deployments.check import SAMPLE_SERVER, sample_placement
from provisioner.deployments.plan import deploy_files, deploy_variables

JITSI = load_template(Settings().resolved_templates_dir / "jitsi")
PLACEMENT = sample_placement(JITSI, instance_id="ins_j", tenant_id="ten_j", subdomain="treffen")
PASSWORDS = {"JICOFO_AUTH_PASSWORD", "JVB_AUTH_PASSWORD"}
# Each upstream Dockerfile's VOLUME lines (stable-11146-2): none may become an anonymous volume.
DECLARED_VOLUMES = {
    "prosody": {"/config", "/prosody-plugins-custom"},
    "web": {"/config", "/usr/share/jitsi-meet/transcripts"},
    "jicofo": {"/config"},
    "jvb": {"/config"},
}


def _env(files: dict[str, str], name: str) -> dict[str, str]:
    lines = (line for line in files[f"{name}.env"].splitlines() if line and not line.startswith("#"))
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module", params=list(JITSI.versions))
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, str], dict[str, Any]]:
    settings = Settings()
    return (
        deploy_files(settings, JITSI, PLACEMENT, SAMPLE_SERVER, request.param),
        deploy_variables(settings, JITSI, PLACEMENT, SAMPLE_SERVER, request.param),
    )


def test_java_heaps_stay_below_the_containers_memory_limits(rendered: tuple[dict[str, str], Any]) -> None:
    files, _ = rendered
    limits = {c.name: c.memory_mb for c in JITSI.containers}
    for part, variable in [("jicofo", "JICOFO_MAX_MEMORY"), ("jvb", "VIDEOBRIDGE_MAX_MEMORY")]:
        heap = _env(files, part)[variable]
        assert heap.endswith("m")
        # The JVM needs memory beside its heap: at least a quarter of the limit stays free.
        assert int(heap[:-1]) <= limits[part] * 3 // 4


def test_only_accounts_open_meetings_and_guests_join(rendered: tuple[dict[str, str], Any]) -> None:
    files, _ = rendered
    for part in ("prosody", "jicofo", "web"):
        env = _env(files, part)
        assert (env["ENABLE_AUTH"], env["AUTH_TYPE"], env["ENABLE_GUESTS"]) == ("1", "internal", "1")


def test_web_sits_behind_the_proxy_on_plain_http(rendered: tuple[dict[str, str], Any]) -> None:
    files, variables = rendered
    web = _env(files, "web")
    assert web["PUBLIC_URL"] == "https://treffen.lab.example"
    # Only "1" switches HTTPS off: the start script compares it as a number.
    assert (web["DISABLE_HTTPS"], web["ENABLE_LETSENCRYPT"], web["ENABLE_HTTP_REDIRECT"]) == ("1", "0", "0")
    assert web["ENABLE_XMPP_WEBSOCKET"] == "1"
    assert web["XMPP_BOSH_URL_BASE"] == "http://prv-ins_j-prosody:5280"
    assert variables["site"]["upstream"] == "prv-ins_j-web:8000"


def test_each_container_gets_only_the_passwords_it_reads(rendered: tuple[dict[str, str], Any]) -> None:
    files, variables = rendered
    assert set(_env(files, "prosody")) >= PASSWORDS
    assert PASSWORDS & set(_env(files, "jicofo")) == {"JICOFO_AUTH_PASSWORD"}
    assert PASSWORDS & set(_env(files, "jvb")) == {"JVB_AUTH_PASSWORD"}
    assert not PASSWORDS & set(_env(files, "web"))
    assert all(not c["env"] for c in variables["containers"])  # no secret in a logged environment


def test_the_media_port_is_published_and_advertised_on_the_servers_address(
    rendered: tuple[dict[str, str], Any],
) -> None:
    files, variables = rendered
    port = PLACEMENT.host_ports["media"]
    jvb = _env(files, "jvb")
    assert (jvb["JVB_PORT"], jvb["JVB_ADVERTISE_IPS"]) == (str(port), SAMPLE_SERVER.public_address)
    published = {c["alias"]: c["published_ports"] for c in variables["containers"]}
    assert published == {
        "prosody": [],
        "jicofo": [],
        "jvb": [f"{SAMPLE_SERVER.public_address}:{port}:{port}/udp"],
        "web": [],
    }


def test_the_first_moderator_is_registered_from_a_file_not_a_command_line(
    rendered: tuple[dict[str, str], Any],
) -> None:
    files, variables = rendered
    password = PLACEMENT.secrets["moderator_password"]
    assert files["moderator/password"].strip() == password
    [step] = variables["after_steps"]
    assert step["container"] == "prv-ins_j-prosody"
    assert password not in " ".join(step["argv"])
    assert 'register moderator meet.jitsi "$(cat /etc/provisioner/password)"' in step["argv"][-1]
    shown = {name: spec for name, spec in JITSI.secrets.items() if spec.show}
    assert [(name, spec.user) for name, spec in shown.items()] == [("moderator_password", "moderator")]


def test_every_volume_an_upstream_image_declares_is_a_named_volume() -> None:
    for container in JITSI.containers:
        assert DECLARED_VOLUMES[container.name] <= set(container.volumes.values()), container.name
    prosody = next(c for c in JITSI.containers if c.name == "prosody")
    assert prosody.volumes["prosody-data"] == "/var/lib/prosody"
    assert JITSI.hooks.backup is not None
    assert JITSI.hooks.restore is not None
    assert "prosody-data" in JITSI.hooks.backup.volumes
    assert "prosody-data" in JITSI.hooks.restore.volumes


def test_versions_are_upstream_releases_from_ghcr_with_one_tag_per_version() -> None:
    assert JITSI.default_version == list(JITSI.versions)[-1]
    for name, version in JITSI.versions.items():
        assert {ref.rsplit(":", 1)[1] for ref in version.images.values()} == {name}
        assert all(ref.startswith("ghcr.io/jitsi/") for ref in version.images.values())


def test_a_shared_jitsi_takes_signed_tokens_for_its_tenants_and_makes_no_accounts() -> None:
    """conf.d/jitsi-meet.cfg.lua: AUTH_TYPE=jwt gives the main host token auth; with domain
    verification a token opens its own tenant's rooms only (token/util.lib.lua, verify_room)."""
    placement = sample_placement(
        JITSI, instance_id="ins_s", tenant_id="ten_lab", subdomain="meet", shared=True
    )
    files = deploy_files(Settings(), JITSI, placement, SAMPLE_SERVER, JITSI.default_version)
    xmpp = _env(files, "web")
    assert {
        k: xmpp[k] for k in ("ENABLE_AUTH", "AUTH_TYPE", "JWT_APP_ID", "JWT_ENABLE_DOMAIN_VERIFICATION")
    } == {
        "ENABLE_AUTH": "1",
        "AUTH_TYPE": "jwt",
        "JWT_APP_ID": "provisioner",
        "JWT_ENABLE_DOMAIN_VERIFICATION": "true",
    }
    assert (xmpp["JWT_ALLOW_EMPTY"], xmpp["BOSH_RELATIVE"]) == ("0", "true")
    # The signing secret reaches prosody alone.
    assert _env(files, "prosody")["JWT_APP_SECRET"] == placement.secrets["jwt_app_secret"]
    assert all("JWT_APP_SECRET" not in _env(files, part) for part in ("web", "jicofo", "jvb"))
    # No account to register: the deploy step finds the password file empty and stops there.
    assert files["moderator/password"] == ""
    assert "test -s /etc/provisioner/password || exit 0;" in JITSI.hooks.deploy.after[0].run[-1]  # type: ignore[union-attr]
    dedicated = deploy_files(Settings(), JITSI, PLACEMENT, SAMPLE_SERVER, JITSI.default_version)
    assert _env(dedicated, "web")["AUTH_TYPE"] == "internal"
    assert "JWT_APP_SECRET" not in _env(dedicated, "prosody")
    assert dedicated["moderator/password"] == PLACEMENT.secrets["moderator_password"]
    shared = JITSI.sharing.shared  # type: ignore[union-attr]
    assert shared is not None
    assert shared.signed_links is not None
    assert (shared.signed_links.secret, shared.signed_links.issuer) == ("jwt_app_secret", "provisioner")
