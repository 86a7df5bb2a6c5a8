"""Small charts drawn on the server as inline SVG: no script, a sentence that says what they show, and the
numbers in a table for anyone who cannot see the picture.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>`` (the same
sentence the page shows under it). Dates and numbers are written as the viewer's language writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from api.portal.i18n import Texts
from provisioner.monitoring.history import Sample, Span

WIDTH, HEIGHT = 320, 120
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 8, 20
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
# A week of collections every five minutes is 2,016 of them: drawn as this many averages.
BUCKETS = 84
LINE = "#1f4e9c"
HEALTH_COLOURS = {"healthy": "#1b7f3b", "unhealthy": "#b3261e"}
FRAME = Markup(
    '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
    'width="{width}" height="{height}" aria-labelledby="{id}-title {id}-desc">'
    '<title id="{id}-title">{title}</title><desc id="{id}-desc">{summary}</desc>{body}</svg>'
)
TEXT = Markup('<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}">{text}</text>')
AXIS = Markup('<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#555"/>')
LINE_PLOT = Markup(
    '<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
    '<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}"/>'
)
BAND = Markup(
    '<rect x="{x}" y="{y}" width="{width}" height="{height}" fill="{colour}" data-health="{health}"/>'
)


@dataclass(frozen=True)
class Window:
    """The stretch of time a chart covers, and the texts of who looks at it."""

    texts: Texts
    start: datetime
    end: datetime

    def x(self, at: datetime) -> float:
        return LEFT + PLOT_WIDTH * ((at - self.start) / (self.end - self.start))


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    summary: str  # the text alternative: what a reader would take from the picture
    svg: Markup
    value_heading: str
    rows: list[tuple[str, str]]  # time and value, as the viewer reads them


def averaged(
    samples: Sequence[Sample], *, start: datetime, end: datetime, buckets: int = BUCKETS
) -> list[Sample]:
    """The samples as averages over equal stretches of [start, end], each at its newest sample's time."""
    width = (end - start) / buckets
    groups: dict[int, list[Sample]] = {}
    for sample in samples:
        if start <= sample.at <= end:
            groups.setdefault(min(int((sample.at - start) / width), buckets - 1), []).append(sample)
    return [
        Sample(group[-1].at, sum(s.value for s in group) / len(group)) for _, group in sorted(groups.items())
    ]


def _y(value: float, ceiling: float) -> float:
    return TOP + PLOT_HEIGHT * (1 - min(value, ceiling) / ceiling)


def _frame(chart_id: str, title: str, summary: str, body: Markup) -> Markup:
    return FRAME.format(width=WIDTH, height=HEIGHT, id=chart_id, title=title, summary=summary, body=body)


def _label(x: float, y: float, text: str, *, anchor: str = "start", size: int = 10) -> Markup:
    return TEXT.format(x=f"{x:.1f}", y=f"{y:.1f}", size=size, anchor=anchor, text=text)


def _time_axis(window: Window) -> Markup:
    y = HEIGHT - 5
    texts = window.texts
    return (
        AXIS.format(x1=LEFT, x2=WIDTH - RIGHT, y=TOP + PLOT_HEIGHT)
        + _label(LEFT, y, texts.day(window.start))
        + _label(WIDTH - RIGHT, y, texts.day(window.end), anchor="end")
    )


def _nothing(window: Window, chart_id: str, title: str) -> Chart:
    said = window.texts.gettext("No measurements yet.")
    middle = _label(LEFT + PLOT_WIDTH / 2, TOP + PLOT_HEIGHT / 2, said, anchor="middle", size=12)
    return Chart(chart_id, title, said, _frame(chart_id, title, said, _time_axis(window) + middle), "", [])


def line_chart(
    samples: Sequence[Sample],
    *,
    window: Window,
    chart_id: str,
    title: str,
    value_heading: str,
    shown: Callable[[float], str],
    ceiling: float | None = None,
) -> Chart:
    """A line of ``samples`` over the window; the value axis runs from 0 to ``ceiling`` (a server's
    capacity, say) or a little over the highest value. ``shown`` writes a value with its unit."""
    texts = window.texts
    points = averaged(samples, start=window.start, end=window.end)
    if not points:
        return _nothing(window, chart_id, title)
    values = [p.value for p in points]
    top = ceiling or (max(values) * 1.1) or 1.0
    latest = points[-1]
    summary = texts.gettext(
        "Since %(since)s: lowest %(low)s, highest %(high)s, latest %(latest)s (%(when)s).",
        since=texts.day(window.start),
        low=shown(min(values)),
        high=shown(max(values)),
        latest=shown(latest.value),
        when=texts.moment(latest.at, year=False),
    )
    plot = LINE_PLOT.format(
        points=" ".join(f"{window.x(p.at):.1f},{_y(p.value, top):.1f}" for p in points),
        x=f"{window.x(latest.at):.1f}",
        y=f"{_y(latest.value, top):.1f}",
        colour=LINE,
    )
    body = (
        _label(LEFT - 4, TOP + 8, shown(top), anchor="end")
        + _label(LEFT - 4, TOP + PLOT_HEIGHT, shown(0), anchor="end")
        + _time_axis(window)
        + plot
    )
    rows = [(texts.moment(p.at, year=False), shown(p.value)) for p in points]
    return Chart(chart_id, title, summary, _frame(chart_id, title, summary, body), value_heading, rows)


def health_chart(spans: Sequence[Span], *, window: Window, chart_id: str, title: str) -> Chart:
    """A band over the window, green while the service answered, red while it did not."""
    if not spans:
        return _nothing(window, chart_id, title)
    texts = window.texts
    names = {"healthy": texts.gettext("working"), "unhealthy": texts.gettext("not answering")}
    checked = sum((s.end - s.start).total_seconds() for s in spans)
    working = sum((s.end - s.start).total_seconds() for s in spans if s.health == "healthy")
    summary = texts.ngettext(
        "Since %(since)s: working %(percent)s %% of the checked time, not answering %(num)s time.",
        "Since %(since)s: working %(percent)s %% of the checked time, not answering %(num)s times.",
        sum(1 for s in spans if s.health == "unhealthy"),
        since=texts.day(window.start),
        percent=texts.number(100 * working / checked if checked else 0, 1),
    )
    band = Markup("").join(
        BAND.format(
            x=f"{window.x(s.start):.1f}",
            y=TOP + 20,
            width=f"{max(window.x(s.end) - window.x(s.start), 0.5):.1f}",
            height=PLOT_HEIGHT - 40,
            colour=HEALTH_COLOURS.get(s.health, "#888"),
            health=s.health,
        )
        for s in spans
    )
    rows = [
        (
            texts.gettext(
                "%(start)s to %(end)s",
                start=texts.moment(s.start, year=False),
                end=texts.moment(s.end, year=False),
            ),
            names.get(s.health, s.health),
        )
        for s in spans
    ]
    svg = _frame(chart_id, title, summary, band + _time_axis(window))
    return Chart(chart_id, title, summary, svg, texts.gettext("Health"), rows)
