from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from provisioner.errors import InvalidInput
from provisioner.schedules.timing import next_run, validate

BERLIN = ZoneInfo("Europe/Berlin")


def test_cron_is_read_in_the_labs_time_zone() -> None:
    after = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # 13:00 in Berlin (winter)
    following = next_run(cron="0 3 * * *", interval_seconds=None, after=after, zone=BERLIN)
    assert following == datetime(2026, 1, 11, 2, 0, tzinfo=UTC)
    summer = next_run(cron="0 3 * * *", interval_seconds=None, after=after.replace(month=7), zone=BERLIN)
    assert summer == datetime(2026, 7, 11, 1, 0, tzinfo=UTC)


def test_a_missed_cron_slot_is_followed_by_the_next_one_from_now_not_by_each_missed_one() -> None:
    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    following = next_run(
        cron="*/5 * * * *", interval_seconds=None, after=now, zone=BERLIN, last_due=now - timedelta(hours=3)
    )
    assert following == datetime(2026, 1, 10, 12, 5, tzinfo=UTC)


def test_intervals_keep_their_phase_and_skip_every_missed_slot() -> None:
    last_due = datetime(2026, 1, 10, 12, 0, 7, tzinfo=UTC)
    now = last_due + timedelta(minutes=10, seconds=30)
    following = next_run(cron=None, interval_seconds=60, after=now, zone=BERLIN, last_due=last_due)
    assert following == last_due + timedelta(minutes=11)
    assert next_run(cron=None, interval_seconds=60, after=now, zone=BERLIN) == now + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("cron", "interval", "field"),
    [
        (None, None, "body.cron"),
        ("0 3 * * *", 60, "body.cron"),
        ("every night", None, "body.cron"),
        ("0 3 * * * *", None, "body.cron"),
        (None, 5, "body.interval_seconds"),
    ],
)
def test_bad_timing_names_the_field(cron: str | None, interval: int | None, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate(cron, interval)
    assert raised.value.errors is not None
    assert raised.value.errors[0]["field"] == field
