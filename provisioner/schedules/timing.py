"""When a schedule runs next: a cron expression in the lab's time zone, or a fixed interval.

A schedule that missed runs (the scheduler was down) runs once and then at its next time from now,
never once per missed slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from provisioner.errors import InvalidInput

MIN_INTERVAL_SECONDS = 15  # the scheduler looks every 15 s; anything shorter would be a lie


def lab_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r} (PROVISIONER_TIMEZONE)") from exc


def validate(cron: str | None, interval_seconds: int | None) -> None:
    if (cron is None) == (interval_seconds is None):
        raise InvalidInput(
            "give either a cron expression or an interval",
            errors=[{"field": "body.cron", "message": "exactly one of cron and interval_seconds"}],
        )
    if cron is not None and not croniter.is_valid(cron):
        raise InvalidInput(
            f"{cron!r} is not a cron expression",
            errors=[{"field": "body.cron", "message": "five fields: minute hour day-of-month month weekday"}],
        )
    if cron is not None and len(cron.split()) != 5:
        raise InvalidInput(
            f"{cron!r} is not a five-field cron expression",
            errors=[{"field": "body.cron", "message": "five fields: minute hour day-of-month month weekday"}],
        )
    if interval_seconds is not None and interval_seconds < MIN_INTERVAL_SECONDS:
        raise InvalidInput(
            f"an interval must be at least {MIN_INTERVAL_SECONDS} seconds",
            errors=[{"field": "body.interval_seconds", "message": f"at least {MIN_INTERVAL_SECONDS}"}],
        )


def next_run(
    *,
    cron: str | None,
    interval_seconds: int | None,
    after: datetime,
    zone: ZoneInfo,
    last_due: datetime | None = None,
) -> datetime:
    """The first run time strictly after ``after``.

    Intervals keep their phase from ``last_due`` (a schedule every hour stays on its minute), skipping
    every slot already past; cron expressions are read as wall-clock time in ``zone``.
    """
    if interval_seconds is not None:
        step = timedelta(seconds=interval_seconds)
        if last_due is None or last_due > after:
            return after + step
        missed = (after - last_due) // step
        return last_due + step * (missed + 1)
    assert cron is not None  # noqa: S101 - validate() allows only one of the two
    following: datetime = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return following.astimezone(after.tzinfo)
