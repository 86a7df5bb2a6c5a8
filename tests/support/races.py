"""Requests at the same moment: threads with a session each, released together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from provisioner.db import session_factory
from provisioner.errors import Conflict

Request = Callable[[int, Any], object]


def at_once(db_url: str, count: int, request: Request) -> list[object]:
    """Run ``request(n, session)`` in ``count`` threads released together; each outcome or ``Conflict``."""
    start = threading.Barrier(count)
    outcomes: list[object] = [None] * count

    def one(n: int) -> None:
        with session_factory(db_url)() as session:
            start.wait()
            try:
                outcomes[n] = request(n, session)
                session.commit()
            except Conflict as exc:
                session.rollback()
                outcomes[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
