"""German pages hold no English: services in every state and health, jobs of every kind and outcome with the
errors the services write, alerts as the monitoring words them, seen by the lab's operator and by a member
of an association; and every message of the German catalogues is translated, none left fuzzy."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.portal.audit_words import ACTIONS, BY_TARGET, OUTCOMES
from api.portal.i18n import LOCALE_DIR
from provisioner.alerts import AlertKind
from provisioner.db import session_factory
from provisioner.instances.states import InstanceState
from provisioner.jobs.states import JobKind, JobStatus
from provisioner.models import Alert, AuditEntry, BackupTarget, Instance, Job, Space
from provisioner.notices.render import catalogue_path
from provisioner.timeutil import utcnow
from tests.support.portal import People
from tests.support.running import unused_backup_target

GERMAN = {"Accept-Language": "de"}
# What the services write into a job's error or an alert, in English; each must reach a German page German.
ERRORS = [
    "verein-a e.V. would go beyond its quota with this homepage — instances: 3 in use, 1 more asked, "
    "quota 3; memory: 900 MB in use, 256 MB more asked, quota 1024 MB. Remove an instance, or ask the "
    "lab's operators to raise the quota.",
    "the bootstrap did not finish: fatal: [s1]: FAILED! => no apt source",
    "the backup broke down inside the control plane: RuntimeError",
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


# English function words: German prose has none of them, so one on a German page is a text left
# untranslated (names, addresses and identifiers are not prose: they are left out below).
FUNCTION_WORDS = re.compile(
    r"(?<![\w./@'-])(the|and|of|is|are|with|this|that|from|has|have|your|its|been|there|could|would|"
    r"please|here|yet|not|to|for|on|at|by|or|be|it|were|can|no)(?![\w./@'-])"
)
# What the portal serves that is not a page to read: the API, files, streams and downloads.
NOT_PAGES = ("/api/", "/static", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")
NOT_PAGE_ENDINGS = ("/stream", ".csv", "/archive")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# CLI commands write audit entries too (provisioner.audit.log.record_cli).
CLI_ACTIONS = [
    "bootstrap_server", "configure_mail", "configure_server", "configure_webhook", "create_operator_token",
    "create_operator_user", "create_tenant", "open_first_start_link", "remove_backup_target", "remove_server",
    "rotate_keys",
]  # fmt: skip


class _Prose(HTMLParser):
    """A page's prose: its text without scripts, code, logs and whatever is marked English (lang="en")."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        marked_english = ("lang", "en") in attrs and tag != "html"
        if self._open or marked_english or tag in {"code", "pre", "script", "style", "template"}:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if not self._open:
            self.parts.append(data)


def _english_lines(page: str) -> list[str]:
    reader = _Prose()
    reader.feed(page)
    lines = [" ".join(part.split()) for part in reader.parts]
    return sorted({line[:200] for line in lines if ENGLISH.search(line) or FUNCTION_WORDS.search(line)})


def _pages(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Every page the portal serves (GET), as its route's path with its parameters."""
    found = []
    for route in iter_route_contexts(app.routes):
        if not route.methods or "GET" not in route.methods:
            continue
        if route.path.startswith(NOT_PAGES) or route.path.endswith(NOT_PAGE_ENDINGS):
            continue
        found.append(route.path)
    return sorted(set(found))


def _audit_entries(session: Session) -> None:
    """An entry of every action the log knows, each outcome among them."""
    outcomes = ["success", "Not found", "Conflict", "Invalid input", "Service unavailable", "Internal error"]
    actions = [*sorted(ACTIONS), *sorted({action for action, _kind in BY_TARGET})]
    for number, action in enumerate(actions):
        outcome = outcomes[number % len(outcomes)]
        session.add(AuditEntry(actor="op@lab.example", action=action, outcome=outcome, status_code=200))


def test_every_portal_page_in_german_holds_no_english(people: People, api) -> None:  # type: ignore[no-untyped-def]
    instances, jobs = _lab_in_every_state(api, people)
    with session_factory(api.db_url)() as session:
        unused_backup_target(session, api.client.app.state.settings)
        space = Space(
            tenant_id=people.tenant_a, template="wordpress", name="raum", state="running", health="healthy",
            subdomain="raum", domain="lab.example", url="https://raum.lab.example/",
        )  # fmt: skip
        session.add(space)
        _audit_entries(session)
        session.commit()
        running = session.scalars(
            select(Instance).where(Instance.id.in_(instances), Instance.state == "running")
        ).first()
        assert running is not None
        values = {
            "instance_id": running.id, "job_id": jobs[0], "server_id": running.server_id,
            "tenant_id": people.tenant_a, "target_id": session.scalar(select(BackupTarget.id)),
            "space_id": space.id, "name": "wordpress", "backup_id": "bak_missing", "token": "no-such-token",
        }  # fmt: skip
    pages = _pages(api.client.app)
    unknown = sorted({p for p in pages for name in re.findall(r"{(\w+)}", p) if name not in values})
    assert unknown == [], "teach this test a value for these pages' parameters"
    found = {}
    for who, client in (("operator", people.operator), ("admin", people.admin_a)):
        for page in pages:
            path = re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), page)
            response = client.get(path, headers=GERMAN)
            assert response.status_code < 500, path
            if "text/html" in response.headers.get("content-type", "") and (
                lines := _english_lines(response.text)
            ):
                found[f"{who} {path}"] = lines
    assert found == {}, "\n".join(f"{page}: {lines}" for page, lines in found.items())


def test_the_check_finds_english_prose(people: People, api) -> None:  # type: ignore[no-untyped-def]
    page = people.operator.get("/operator/servers", headers={"Accept-Language": "en"}).text
    assert _english_lines(page), "the same page in English trips the check"
    assert _english_lines("<p>Verein <code>the_action</code> <pre lang=en>ok: the log</pre></p>") == []


def test_every_action_the_audit_log_records_has_its_description(api) -> None:  # type: ignore[no-untyped-def]
    """Each route that changes something (its name is the entry's action) and each command of the CLI."""
    recorded = set(CLI_ACTIONS)
    for route in iter_route_contexts(api.client.app.routes):
        changes = set(route.methods or ()) & {"POST", "PUT", "PATCH", "DELETE"}
        endpoint = getattr(route.original_route, "endpoint", None)
        if (changes or route.path.endswith("/credentials")) and endpoint is not None:
            recorded.add(endpoint.__name__)
    shared = {action for action, _kind in BY_TARGET}
    assert sorted(recorded - set(ACTIONS) - shared) == [], "describe these in api/portal/audit_words.py"
    assert set(OUTCOMES) >= {"success", "Not found", "Conflict", "Invalid input", "Forbidden"}
