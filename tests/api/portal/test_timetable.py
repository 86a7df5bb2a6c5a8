"""Timings in plain words, and the form's simple choices as the schedule service's cron or interval."""

from __future__ import annotations

import pytest

from api.portal.i18n import Texts
from api.portal.timetable import Chosen, chosen, describe, read


@pytest.mark.parametrize(
    ("cron", "interval", "english", "german"),
    [
        ("30 2 * * *", None, "every day at 02:30", "jeden Tag um 02:30 Uhr"),
        ("0 4 * * 0", None, "every Sunday at 04:00", "jeden Sonntag um 04:00 Uhr"),
        ("5 23 * * 7", None, "every Sunday at 23:05", "jeden Sonntag um 23:05 Uhr"),
        (None, 3600, "every hour", "jede Stunde"),
        (None, 6 * 3600, "every 6 hours", "alle 6 Stunden"),
        ("0 */4 * * *", None, "every 4 hours", "alle 4 Stunden"),
        ("15 * * * *", None, "every hour", "jede Stunde"),
        (None, 90 * 60, "every 90 minutes", "alle 90 Minuten"),
        (None, 45, "every 45 seconds", "alle 45 Sekunden"),
        (
            "0 3 1 * *",
            None,
            "on a timetable of its own (0 3 1 * *)",
            "nach einem eigenen Zeitplan (0 3 1 * *)",
        ),
    ],
)
def test_timings_in_plain_words(cron: str | None, interval: int | None, english: str, german: str) -> None:
    assert describe(Texts("en"), cron, interval) == english
    assert describe(Texts("de"), cron, interval) == german


@pytest.mark.parametrize(
    ("form", "wanted"),
    [
        ({"choice": "daily", "time": "2:30"}, Chosen("daily", cron="30 2 * * *")),
        ({"choice": "weekly", "time": "23:05", "weekday": "3"}, Chosen("weekly", cron="5 23 * * 3")),
        ({"choice": "hours", "hours": "12"}, Chosen("hours", interval_seconds=12 * 3600)),
        ({"choice": "off", "time": "nonsense"}, Chosen("off")),
        ({"choice": "default"}, Chosen("default")),
    ],
)
def test_choices_become_the_services_timing(form: dict[str, str], wanted: Chosen) -> None:
    assert chosen(form) == (wanted, {})
    if wanted.choice in ("daily", "weekly", "hours"):
        assert read(wanted.cron, wanted.interval_seconds).choice == wanted.choice, "the form shows it again"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({}, "choice"),
        ({"choice": "monthly"}, "choice"),
        ({"choice": "daily", "time": "24:00"}, "time"),
        ({"choice": "daily", "time": "03:60"}, "time"),
        ({"choice": "weekly", "time": "03:00", "weekday": "7"}, "weekday"),
        ({"choice": "hours", "hours": "25"}, "hours"),
        ({"choice": "hours", "hours": "-1"}, "hours"),
    ],
)
def test_wrong_choices_name_their_field(form: dict[str, str], field: str) -> None:
    wanted, errors = chosen(form)
    assert wanted is None
    assert set(errors) == {field}
