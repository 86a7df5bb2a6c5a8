"""A job's steps in the viewer's language: the page as first shown and its live stream alike.

The job is a real deploy approved in the portal; its events go the worker's way (ansible-runner's event
dictionaries through the runner's conversion into the worker's database sink, and a worker's note
between runs). The playbook itself is not run here: what is tested is how its events are shown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient

from api.portal.i18n import Texts
from api.portal.playbook_steps import STEP_CONTEXT, task_names
from provisioner.db import session_factory
from provisioner.engine.sink import DatabaseSink, note
from provisioner.jobs.service import claim_job, finish_job
from provisioner.jobs.states import JobStatus
from provisioner.models import Job
from provisioner.runner.events import to_event
from tests.support.portal import People, csrf_of

ROOT = Path(__file__).parents[3]
PLAYBOOKS = ROOT / "playbooks"
GERMAN = {"Accept-Language": "de"}
OURS = [
    "Start the instance behind the server's proxy",
    "Place the instance's route in the proxy",
    "Wait until the service answers through the proxy",
]
THEIRS = "Prime the wiki's search index"  # a template's own task: no translation


def _task_start(counter: int, task: str) -> dict[str, Any]:
    return {"event": "playbook_on_task_start", "counter": counter, "event_data": {"task": task}}


def _failed(counter: int, task: str) -> dict[str, Any]:
    data = {"task": task, "host": "s1", "res": {"msg": "timed out after 300 s"}}
    return {"event": "runner_on_failed", "counter": counter, "event_data": data}


def _deploy_with_events(people: People, api) -> str:  # type: ignore[no-untyped-def]
    server_id = api.server()
    form = people.admin_a.get("/catalog/homepage/request").text
    requested = people.admin_a.post(
        "/catalog/homepage/request",
        data={"csrf_token": csrf_of(form), "name": "site", "param-title": "T", "param-language": "de"},
        follow_redirects=False,
    )
    instance_id = requested.headers["location"].rsplit("/", 1)[1]
    approved = people.operator.post(
        f"/operator/requests/{instance_id}/approve",
        data={"csrf_token": csrf_of(people.operator.get("/operator/requests").text), "server": server_id},
        follow_redirects=False,
    )
    assert approved.status_code == 303, approved.text
    (job_id,) = api.dispatcher.sent
    with session_factory(api.db_url)() as session:
        claim_job(session, job_id=job_id, worker="test")
        session.commit()
    sink = DatabaseSink(api.db_url, job_id)
    note(sink, "taking a backup first")
    raw = [_task_start(n + 1, task) for n, task in enumerate([*OURS, THEIRS])]
    for event in [*raw, _failed(len(raw) + 1, OURS[-1])]:
        converted = to_event(event)
        assert converted is not None
        sink.emit(converted)
    sink.flush()
    with session_factory(api.db_url)() as session:
        finish_job(session, job=session.get_one(Job, job_id), status=JobStatus.FAILED, error="x")
        session.commit()
    return job_id


def _steps(page: str) -> list[tuple[str, str]]:
    listed = re.search(r'<ol id="job-steps".*?</ol>', page, re.S)
    assert listed
    return re.findall(r'<li lang="(\w+)">([^<]*)</li>', listed.group(0))


def _streamed(client: TestClient, job_id: str, **headers: str) -> list[dict[str, Any]]:
    response = client.get(f"/jobs/{job_id}/stream", headers=headers)
    assert response.status_code == 200
    return [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith('data: {"seq"')
    ]


FAILURE = f"failed on s1: {OURS[-1]}: timed out after 300 s"


def test_the_german_job_page_and_its_stream_name_our_steps_in_german(people: People, api) -> None:  # type: ignore[no-untyped-def]
    job_id = _deploy_with_events(people, api)
    german = [
        ("de", "Zuerst wird gesichert"),
        ("de", "Den Dienst hinter dem Proxy des Servers starten"),
        ("de", "Weg zum Dienst im Proxy eintragen"),
        ("de", "Warten, bis der Dienst über den Proxy antwortet"),
        ("en", THEIRS),
        ("en", FAILURE),
    ]
    page = people.admin_a.get(f"/jobs/{job_id}", headers=GERMAN).text
    assert [(lang, text.replace("&#39;", "'")) for lang, text in _steps(page)] == german
    streamed = _streamed(people.admin_a, job_id, **GERMAN)
    assert [(s["lang"], s["text"]) for s in streamed if "text" in s] == german
    assert [s["seq"] for s in streamed] == list(range(1, 7)), "every event is sent, read or not"


def test_in_english_the_same_steps_read_as_written(people: People, api) -> None:  # type: ignore[no-untyped-def]
    job_id = _deploy_with_events(people, api)
    english = [("en", "Taking a backup first"), *[("en", task) for task in [*OURS, THEIRS]], ("en", FAILURE)]
    page = people.member_a.get(f"/jobs/{job_id}").text
    assert [(lang, text.replace("&#39;", "'")) for lang, text in _steps(page)] == english
    streamed = _streamed(people.member_a, job_id)
    assert [(s["lang"], s["text"]) for s in streamed if "text" in s] == english


def test_a_reconnecting_stream_goes_on_after_the_last_event_it_got(people: People, api) -> None:  # type: ignore[no-untyped-def]
    job_id = _deploy_with_events(people, api)
    streamed = _streamed(people.admin_a, job_id, **{"Last-Event-ID": "4"}, **GERMAN)
    assert [s["seq"] for s in streamed] == [5, 6]
    assert streamed[0]["text"] == THEIRS


def _our_steps() -> set[str]:
    return {
        name for path in PLAYBOOKS.rglob("*.yml") for name in task_names(yaml.safe_load(path.read_text()))
    }


def test_every_step_of_our_playbooks_has_its_german_name() -> None:
    steps = _our_steps()
    assert len(steps) > 30, "the playbooks' task names were found"
    german = Texts("de")
    untranslated = sorted(name for name in steps if german.pgettext(STEP_CONTEXT, name) == name)
    assert untranslated == [], 'add these to the German catalogue with msgctxt "job step"'


def test_pybabel_finds_the_steps_through_the_packages_extractor() -> None:
    found = extract_from_dir(ROOT, method_map=[("playbooks/**.yml", "provisioner_steps")])
    steps = {(context, message) for _path, _line, message, _comments, context in found}
    assert (STEP_CONTEXT, "Start the instance behind the server's proxy") in steps
    assert {(STEP_CONTEXT, name) for name in _our_steps()} == steps
