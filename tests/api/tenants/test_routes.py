"""An association's language: chosen when it is made, refused when it is not one the lab writes in, and the
one its mail is written in while none of its people has chosen."""

from __future__ import annotations

from provisioner.db import session_factory
from provisioner.instances.service import reject_instance
from provisioner.models import Tenant
from provisioner.notices.delivery import deliver_due
from tests.api.conftest import Api
from tests.support import factories
from tests.support.smtp_sink import smtp_sink


def _make(api: Api, slug: str, language: str | None) -> dict[str, object]:
    body = {"slug": slug, "name": f"{slug} e.V.", "contact_email": f"board@{slug}.org", "language": language}
    response = api.client.post("/api/v1/tenants", json=body, headers=api.operator)
    result: dict[str, object] = {"status": response.status_code, **response.json()}
    return result


def test_a_language_the_lab_does_not_write_in_is_refused_naming_the_field(api: Api) -> None:
    refused = _make(api, "verein-fr", "fr")
    assert refused["status"] == 422
    assert "language" in str(refused)


def test_an_english_association_without_people_gets_its_mail_in_english(api: Api) -> None:
    made = _make(api, "verein-en", "en")
    assert (made["status"], made["language"]) == (201, "en")
    with session_factory(api.db_url)() as session:
        instance = factories.homepage(session, session.get_one(Tenant, str(made["id"])))
        reject_instance(session, actor=factories.OPERATOR, instance_id=instance.id, reason="No room.")
        session.commit()
    app = api.client.app
    with smtp_sink() as sink:
        settings = app.state.settings.model_copy(update={"smtp_host": sink.host, "smtp_port": sink.port})
        deliver_due(settings, factories.CATALOG)
        [message] = sink.wait_for(1, to="board@verein-en.org")
    assert message["Subject"] == "Request declined: site"
