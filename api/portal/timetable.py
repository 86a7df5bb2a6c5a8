"""A backup schedule in the words of a volunteer, and the few simple choices the portal offers for one.

The choices map onto the schedule service's timing: "every day at" and "once a week at" become cron
expressions (read in the lab's time zone), "every few hours" an interval. Timings that the lab set by
other means are described as far as they have plain words, else shown as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.portal.i18n import N_, Texts

HOUR = 3600
MAX_HOURS = 24


# Cron's numbering: 0 is Sunday.
WEEKDAYS = (
    N_("Sunday"),
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
)
CHOICES = ("daily", "weekly", "hours", "default", "off")
DEFAULT_TIME = "02:30"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_AT = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* (\*|[0-7])$")
_HOURLY = re.compile(r"^(\d{1,2}) (\*|\*/\d{1,2}) \* \* \*$")


@dataclass(frozen=True)
class Timing:
    """The form's view of a timing: which choice, and its time of day, weekday or hours."""

    choice: str  # daily, weekly, hours, or custom when no simple choice says it
    time: str = DEFAULT_TIME
    weekday: int = 1
    hours: int = 6


def read(cron: str | None, interval_seconds: int | None) -> Timing:
    if interval_seconds is not None:
        if interval_seconds % HOUR == 0 and 1 <= interval_seconds // HOUR <= MAX_HOURS:
            return Timing("hours", hours=interval_seconds // HOUR)
        return Timing("custom")
    hourly = _HOURLY.match(cron or "")
    if hourly and int(hourly.group(1)) < 60:
        return Timing("hours", hours=int(hourly.group(2).removeprefix("*").removeprefix("/") or 1))
    found = _AT.match(cron or "")
    if found and int(found.group(1)) < 60 and int(found.group(2)) < 24:
        time = f"{int(found.group(2)):02d}:{int(found.group(1)):02d}"
        if found.group(3) == "*":
            return Timing("daily", time=time)
        return Timing("weekly", time=time, weekday=int(found.group(3)) % 7)
    return Timing("custom")


def describe(texts: Texts, cron: str | None, interval_seconds: int | None) -> str:
    _ = texts.gettext
    timing = read(cron, interval_seconds)
    if timing.choice == "daily":
        return _("every day at %(time)s", time=timing.time)
    if timing.choice == "weekly":
        return _("every %(day)s at %(time)s", day=_(WEEKDAYS[timing.weekday]), time=timing.time)
    if timing.choice == "hours":
        return texts.ngettext("every hour", "every %(num)s hours", timing.hours)
    if interval_seconds is not None and interval_seconds % 60 == 0:
        return texts.ngettext("every minute", "every %(num)s minutes", interval_seconds // 60)
    if interval_seconds is not None:
        return texts.ngettext("every second", "every %(num)s seconds", interval_seconds)
    return _("on a timetable of its own (%(cron)s)", cron=cron or "")


@dataclass(frozen=True)
class Chosen:
    """What the form asks for: a timing, pausing, or going back to the lab's default."""

    choice: str
    cron: str | None = None
    interval_seconds: int | None = None


def chosen(form: dict[str, str]) -> tuple[Chosen | None, dict[str, str]]:
    """The form's choice as a timing, or the fields that need a change (keys are the form's fields)."""
    choice = form.get("choice", "")
    if choice not in CHOICES:
        return None, {"choice": "choose"}
    if choice in ("default", "off"):
        return Chosen(choice), {}
    if choice == "hours":
        raw = form.get("hours", "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_HOURS:
            return None, {"hours": "hours"}
        return Chosen(choice, interval_seconds=int(raw) * HOUR), {}
    errors = {}
    time = _TIME.match(form.get("time", "").strip())
    if time is None:
        errors["time"] = "time"
    weekday = form.get("weekday", "")
    if choice == "weekly" and weekday not in {str(day) for day in range(len(WEEKDAYS))}:
        errors["weekday"] = "weekday"
    if errors or time is None:
        return None, errors
    day = weekday if choice == "weekly" else "*"
    return Chosen(choice, cron=f"{int(time.group(2))} {int(time.group(1))} * * {day}"), {}
