"""Live event streams over real HTTP (uvicorn on loopback): what many of them cost the others, and
what ends them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import anyio
import httpx
import pytest
from anyio import to_thread
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.jobs import event_streams
from api.jobs import watch as job_watch
from provisioner.accounts.sessions import end_sessions_of, start_session
from provisioner.auth.tokens import revoke_token
from provisioner.config import Settings
from provisioner.db import engine_for, session_factory
from provisioner.jobs.service import EventRecord, add_events, finish_job
from provisioner.jobs.states import JobStatus
from provisioner.models import Job, User
from provisioner.timeutil import utcnow
from tests.support.browser import serving
from tests.support.factories import OPERATOR
from tests.support.portal import make_user
from tests.support.streams import member_tokens, open_streams, queued_job

# The threads the server may use for sync routes in these tests; uvicorn's default is 40.
THREADS = 6


def _small_thread_pool(app: ASGIApp) -> ASGIApp:
    """The application with its sync routes limited to THREADS threads, set when the server starts."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            to_thread.current_default_thread_limiter().total_tokens = THREADS
        await app(scope, receive, send)

    return wrapped


@dataclass
class Served:
    url: str
    db_url: str
    tenant_id: str
    job_id: str
    slots: event_streams.StreamSlots

    @property
    def events(self) -> str:
        return f"{self.url}/api/v1/jobs/{self.job_id}/events"


@pytest.fixture
def served(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setattr(job_watch, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(event_streams, "RECHECK_SECONDS", 0.2)
    tenant_id, job_id = queued_job(db_url)
    settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url="memory://", streams_per_caller=4)
    app = create_app(settings)
    with serving(_small_thread_pool(app)) as url:  # type: ignore[arg-type]
        yield Served(url, db_url, tenant_id, job_id, app.state.stream_slots)


def test_open_streams_hold_no_thread_and_no_database_connection(served: Served) -> None:
    """Four times as many streams as threads, more than the connection pool holds: others are served."""
    tokens = member_tokens(served.db_url, served.tenant_id, THREADS)
    pool = engine_for(served.db_url).pool
    with (
        httpx.Client(timeout=30, limits=httpx.Limits(max_connections=None)) as client,
        open_streams(client, served.events, [headers for _, headers in tokens for _ in range(4)]) as streams,
    ):
        assert {s.status_code for s in streams} == {200}
        checked_out = []
        for _ in range(20):
            answer = client.get(f"{served.url}/api/v1/jobs/{served.job_id}", headers=tokens[0][1])
            assert answer.status_code == 200
            checked_out.append(pool.checkedout())  # type: ignore[attr-defined]
        # Each request holds one while it is answered; the streams' reads share a few of their own.
        assert max(checked_out) <= job_watch.READER_THREADS + 1


def test_a_caller_past_its_streams_gets_a_clear_429_and_a_closed_stream_frees_its_place(
    served: Served,
) -> None:
    (member_id, member), (_, other) = member_tokens(served.db_url, served.tenant_id, 2)
    with httpx.Client(timeout=30) as client, open_streams(client, served.events, [member] * 4) as streams:
        refused = client.get(served.events, headers={**member, "Accept": "text/event-stream"})
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == str(event_streams.KEEPALIVE_SECONDS)
        assert "4 live streams" in refused.json()["detail"]
        # another caller is not counted with this one, and JSON reads are not limited
        with open_streams(client, served.events, [other]) as (own,):
            assert own.status_code == 200
        assert client.get(served.events, headers=member).status_code == 200
        streams[0].close()
        # The server gives the place back once it has seen the connection end.
        for _ in range(600):
            if served.slots.held(member_id) < 4:
                break
            time.sleep(0.05)
        with open_streams(client, served.events, [member]) as (again,):
            assert again.status_code == 200


def _until_end(stream: httpx.Response) -> list[str]:
    events = []
    for line in stream.iter_lines():
        if line.startswith("event: "):
            events.append(line.removeprefix("event: "))
    return events


def test_a_revoked_token_ends_its_stream(served: Served) -> None:
    ((token_id, member),) = member_tokens(served.db_url, served.tenant_id, 1)
    with httpx.Client(timeout=30) as client, open_streams(client, served.events, [member]) as (stream,):
        with session_factory(served.db_url)() as session:
            revoke_token(session, actor=OPERATOR, token_id=token_id)
            session.commit()
        assert _until_end(stream) == ["revoked"]


def test_an_ended_portal_session_ends_its_stream(served: Served) -> None:
    user_id = make_user(served.db_url, email="kim@verein.org", role="member", tenant_id=served.tenant_id)
    with session_factory(served.db_url)() as session:
        _, cookie = start_session(session, user=session.get_one(User, user_id), client_address=None)
        session.commit()
    url = f"{served.url}/jobs/{served.job_id}/stream"
    with (
        httpx.Client(timeout=30, cookies={"provisioner_session": cookie}) as client,
        open_streams(client, url, [{}]) as (stream,),
    ):
        assert stream.status_code == 200
        with session_factory(served.db_url)() as session:
            end_sessions_of(session, user_id=user_id)
            session.commit()
        assert _until_end(stream) == ["revoked"]


def test_a_waiting_stream_sends_each_new_event_and_ends_with_the_job(served: Served) -> None:
    ((_, member),) = member_tokens(served.db_url, served.tenant_id, 1)
    with httpx.Client(timeout=30) as client, open_streams(client, served.events, [member]) as (stream,):
        lines = stream.iter_lines()
        with session_factory(served.db_url)() as worker:
            add_events(worker, job_id=served.job_id, events=[_event(1)])
            worker.commit()
        assert next(line for line in lines if line.startswith("id: ")) == "id: 1"
        with session_factory(served.db_url)() as worker:
            add_events(worker, job_id=served.job_id, events=[_event(2)])
            finish_job(worker, job=worker.get_one(Job, served.job_id), status=JobStatus.SUCCEEDED)
            worker.commit()
        rest = list(lines)
    assert "id: 2" in rest
    assert [line for line in rest if line.startswith("event: ")][-1] == "event: end"


def _event(seq: int) -> EventRecord:
    return EventRecord(
        seq=seq, created_at=utcnow(), host=None, task=None, status="info", line=f"{seq}", stdout=""
    )


class _BusyOnce:
    """A followed job whose first read finds no database connection free in time, then the job ended."""

    database_url, job_id = "postgresql://unused", "job_busy"

    def __init__(self) -> None:
        self.reads = 0

    def read(self, after: int) -> event_streams._Read:
        self.reads += 1
        if self.reads == 1:
            raise PoolTimeout("QueuePool limit reached, connection timed out")
        return event_streams._Read(finished=True, events=())


class _NoNews:
    async def news(self, job_id: str, *, after: int, timeout: float) -> None:
        return None


def test_a_busy_database_makes_a_stream_wait_for_its_next_read_not_break_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_streams, "job_watch", lambda _url: _NoNews())
    follow = _BusyOnce()

    async def sent() -> list[str]:
        stream = event_streams._events(cast(event_streams._Follow, follow), 0, lambda _row: "")
        return [part async for part in stream]

    assert anyio.run(sent) == ['event: end\ndata: {"job": "job_busy"}\n\n']
    assert follow.reads == 2
