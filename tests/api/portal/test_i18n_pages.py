"""German pages hold no English: services in every state and health, jobs of every kind and outcome with the
errors the services write, alerts as the monitoring words them, seen by the lab's operator and by a member
of an association; and every message of the German catalogues is translated, none left fuzzy."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from api.portal.i18n import LOCALE_DIR
from provisioner.alerts import AlertKind
from provisioner.db import session_factory
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Alert, Instance, Job
from provisioner.notices.render import catalogue_path
from provisioner.timeutil import utcnow
from tests.support.portal import People

GERMAN = {"Accept-Language": "de"}
# What the services write into a job's error or an alert, in English; each must reach a German page German.
ERRORS = [
    "canceled before it started",
    "canceled while running",
    "worker lost: worker-1 stopped reporting while the job ran",
    "it ran longer than its time limit, or printed nothing for longer than its idle limit",
    "nothing done: the instance is failed; only deployed instances can be updated",
    "the new instance could not be deployed",
    "the backup playbook reported no snapshot",
]
ALERTS = [
    (AlertKind.SERVER_UNREACHABLE, "server s1 is unreachable: s1 did not answer within 10 s"),
    (AlertKind.DISK_FULL, "server s1: disk 93% full (threshold 90%)"),
    (
        AlertKind.INSTANCE_UNHEALTHY,
        "dienst-4 (homepage) is unhealthy: no answer in time",
    ),
]
# English words of states, health, job kinds and outcomes, and of the errors above, as they would show.
ENGLISH = re.compile(  # whole words, not parts of German compounds such as "Backup-Ziele"
    r"(?<![\w-])(waiting for approval|approved|declined|being set up|running|failed|being updated|backing up|"
    r"restoring|being removed|removed|working|not answering|not checked yet|in progress|done|canceled|"
    r"took too long|waiting|Setting up|Update|Removal|Backup|Restore|Restore drill|Move|New admin access|"
    r"reset_credentials|backing_up|timed_out|queued|succeeded|healthy|unhealthy|unknown|"
    r"worker lost|time limit|nothing done|only deployed|could not be deployed|reported no snapshot|"
    r"is unreachable|did not answer|no answer|threshold|full|open|resolved)(?![\w-])"
)


class _Text(HTMLParser):
    """The text a reader meets on a page (no attributes, scripts or styles); the language switch's own
    name ("English") left out."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "template"} or (tag == "button" and ("lang", "en") in attrs):
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "template", "button"} and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _english_on(page: str) -> list[str]:
    reader = _Text()
    reader.feed(page)
    return sorted({found.group(0) for found in ENGLISH.finditer(" ".join(reader.parts))})


def _lab_in_every_state(api, people: People) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Services of the first association in every state and health, jobs of every kind and outcome, open
    and resolved alerts; returns the services' and the jobs' ids."""
    server_id = api.server()
    model = api.homepage(people.admin_a_headers, name="vorlage")
    instances, jobs = [], []
    healths = ["healthy", "unhealthy", "unknown"]
    with session_factory(api.db_url)() as session:
        template = session.get(Instance, model)
        assert template is not None
        for number, state in enumerate(InstanceState):
            placed = state not in {InstanceState.REQUESTED, InstanceState.REJECTED}
            row = Instance(
                tenant_id=people.tenant_a,
                template=template.template,
                version=template.version,
                name=f"dienst-{number}",
                parameters=template.parameters,
                state=state.value,
                health=healths[number % 3],
                health_checked_at=utcnow() if placed else None,
                server_id=server_id if placed else None,
                subdomain=f"dienst{number}",
                domain="lab.example",
                state_reason="canceled before it started" if state is InstanceState.FAILED else None,
            )
            session.add(row)
            session.flush()
            instances.append(row.id)
        outcomes = list(JobStatus)
        for number, kind in enumerate(JobKind):
            for status in outcomes[number % 2 :: 2]:
                failed = status in {JobStatus.FAILED, JobStatus.CANCELED, JobStatus.TIMED_OUT}
                job = Job(
                    instance_id=instances[number % len(instances)],
                    kind=kind.value,
                    status=status.value,
                    started_at=utcnow(),
                    finished_at=utcnow() if failed or status is JobStatus.SUCCEEDED else None,
                    error=ERRORS[len(jobs) % len(ERRORS)] if failed else None,
                )
                session.add(job)
                session.flush()
                jobs.append(job.id)
        for number, (kind, summary) in enumerate(ALERTS):
            resolved = number == 0
            session.add(
                Alert(
                    kind=kind.value,
                    subject_id=f"subject-{number}",
                    tenant_id=people.tenant_a,
                    summary=summary,
                    status="resolved" if resolved else "open",
                    open_key=None if resolved else f"{kind.value}:subject-{number}",
                )
            )
        session.commit()
        assert {row.kind for row in session.scalars(select(Job))} == {kind.value for kind in JobKind}
    return instances, jobs


def test_german_pages_show_no_english_state_kind_or_error(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instances, jobs = _lab_in_every_state(api, people)
    lists = ["/operator/requests", "/operator/instances", "/operator/jobs", "/operator/alerts"]
    lists += ["/operator/servers", "/operator/tenants", "/services"]
    operator_pages = lists + [f"/services/{i}" for i in instances] + [f"/jobs/{j}" for j in jobs]
    member_pages = ["/services"] + [f"/services/{i}" for i in instances] + [f"/jobs/{j}" for j in jobs]
    found = {}
    for client, pages in ((people.operator, operator_pages), (people.member_a, member_pages)):
        for path in pages:
            response = client.get(path, headers=GERMAN)
            assert response.status_code == 200, path
            assert '<html lang="de">' in response.text
            english = _english_on(response.text)
            if english:
                found[path] = english
    assert found == {}


def test_the_word_list_finds_english_where_there_is_some(people: People, api) -> None:  # type: ignore[no-untyped-def]
    _, jobs = _lab_in_every_state(api, people)
    page = people.operator.get(f"/jobs/{jobs[0]}", headers={"Accept-Language": "en"}).text
    assert _english_on(page), "the same page in English trips the check"


@pytest.mark.parametrize(
    "catalogue",
    [LOCALE_DIR / "de" / "LC_MESSAGES" / "portal.po", catalogue_path("de")],
    ids=["portal", "notices"],
)
def test_every_message_of_the_german_catalogues_is_translated_and_none_is_fuzzy(catalogue: Path) -> None:
    with catalogue.open("rb") as source:
        catalog = read_po(source, locale="de")
    assert len(catalog) > 10
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert untranslated == [], "translate these (see babel.cfg, babel-notices.cfg)"
    assert fuzzy == [], "pybabel guessed these from similar texts: check each and drop its fuzzy mark"
