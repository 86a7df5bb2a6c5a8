"""The portal's SVG charts: the drawn line is the data, an empty chart says so, labels in the viewer's
language, and every chart is an image with a name and a description."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from api.portal import charts
from api.portal.charts import Window, averaged, health_chart, line_chart
from api.portal.i18n import Texts
from provisioner.monitoring.history import Sample, Span

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 12, 1, tzinfo=UTC)
END = START + timedelta(days=7)


def _window(language: str) -> Window:
    return Window(Texts(language), START, END)


def _gb(texts: Texts) -> charts.Callable[[float], str]:
    return lambda value: texts.gettext("%(size)s GB", size=texts.number(value, 1))


def _chart(samples: list[Sample], language: str = "en", ceiling: float | None = None) -> charts.Chart:
    window = _window(language)
    return line_chart(
        samples,
        window=window,
        chart_id="chart-disk",
        title="Disk",
        value_heading="GB",
        shown=_gb(window.texts),
        ceiling=ceiling,
    )


def _svg(chart: charts.Chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))  # noqa: S314 - the chart module's own output


def _drawn(chart: charts.Chart) -> list[tuple[float, float]]:
    line = _svg(chart).find(f"{SVG}polyline")
    assert line is not None
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in line.attrib["points"].split())]


def test_the_drawn_points_are_the_data() -> None:
    samples = [Sample(START + timedelta(days=d), v) for d, v in ((0.5, 2.0), (3, 8.0), (6.9, 5.0))]
    chart = _chart(samples, ceiling=10.0)
    drawn = _drawn(chart)
    assert len(drawn) == 3
    for (x, y), sample in zip(drawn, samples, strict=True):
        at = START + (END - START) * ((x - charts.LEFT) / charts.PLOT_WIDTH)
        value = 10.0 * (1 - (y - charts.TOP) / charts.PLOT_HEIGHT)
        assert abs((at - sample.at).total_seconds()) < 3600, "x within a pixel's worth of time"
        assert abs(value - sample.value) < 0.1
    assert chart.rows == [
        ("Dec 1, 12:00\N{NARROW NO-BREAK SPACE}PM UTC", "2.0 GB"),
        ("Dec 4, 12:00\N{NARROW NO-BREAK SPACE}AM UTC", "8.0 GB"),
        ("Dec 7, 9:36\N{NARROW NO-BREAK SPACE}PM UTC", "5.0 GB"),
    ]
    assert chart.summary == (
        "Since Dec 1: lowest 2.0 GB, highest 8.0 GB, latest 5.0 GB "
        "(Dec 7, 9:36\N{NARROW NO-BREAK SPACE}PM UTC)."
    )


def test_without_a_ceiling_the_highest_value_stays_inside_the_chart() -> None:
    drawn = _drawn(_chart([Sample(START + timedelta(days=1), 4.0), Sample(START + timedelta(days=2), 2.0)]))
    assert all(charts.TOP <= y <= charts.TOP + charts.PLOT_HEIGHT for _, y in drawn)
    assert drawn[0][1] < drawn[1][1], "the higher value is drawn higher up"


def test_samples_close_together_are_drawn_as_their_average() -> None:
    at = START + timedelta(hours=1)
    found = averaged([Sample(at, 1.0), Sample(at + timedelta(minutes=5), 3.0)], start=START, end=END)
    assert found == [Sample(at + timedelta(minutes=5), 2.0)]
    outside = [Sample(START - timedelta(hours=1), 9.0), Sample(END + timedelta(hours=1), 9.0)]
    assert averaged(outside, start=START, end=END) == []


def test_an_empty_chart_says_there_are_no_measurements_yet_in_the_viewers_language() -> None:
    for language, said in (("en", "No measurements yet."), ("de", "Noch keine Messungen.")):
        chart = _chart([], language)
        svg = _svg(chart)
        assert said in [text.text for text in svg.iter(f"{SVG}text")]
        assert chart.summary == said
        assert chart.rows == []
        assert svg.find(f"{SVG}polyline") is None


def test_axis_labels_and_numbers_are_written_as_german_writes_them() -> None:
    chart = _chart([Sample(START + timedelta(days=2), 1.5)], "de", ceiling=2.5)
    labels = [text.text for text in _svg(chart).iter(f"{SVG}text")]
    assert labels == ["2,5 GB", "0,0 GB", "1. Dez.", "8. Dez."]
    assert chart.rows == [("3. Dez., 00:00 UTC", "1,5 GB")]
    assert chart.summary.startswith("Seit 1. Dez.: niedrigster Wert 1,5 GB")


def test_a_chart_is_an_image_named_by_its_title_and_described_by_its_summary() -> None:
    chart = _chart([Sample(START + timedelta(days=2), 1.5)])
    svg = _svg(chart)
    assert svg.attrib["role"] == "img"
    assert svg.attrib["aria-labelledby"] == "chart-disk-title chart-disk-desc"
    assert svg.find(f"{SVG}title").text == "Disk"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == chart.summary  # type: ignore[union-attr]


def test_a_title_is_written_into_the_svg_as_text_never_as_markup() -> None:
    window = _window("en")
    chart = line_chart(
        [], window=window, chart_id="c", title="<script>x</script>", value_heading="", shown=str
    )
    assert "<script>" not in str(chart.svg)
    assert _svg(chart).find(f"{SVG}title").text == "<script>x</script>"  # type: ignore[union-attr]


def test_health_is_a_band_of_its_spans_with_the_share_of_time_it_worked() -> None:
    spans = [
        Span(START, START + timedelta(days=6), "healthy"),
        Span(START + timedelta(days=6), START + timedelta(days=6, hours=12), "unhealthy"),
        Span(START + timedelta(days=6, hours=12), END, "healthy"),
    ]
    chart = health_chart(spans, window=_window("de"), chart_id="chart-health", title="Zustand")
    bands = list(_svg(chart).iter(f"{SVG}rect"))
    assert [band.attrib["data-health"] for band in bands] == ["healthy", "unhealthy", "healthy"]
    widths = [float(band.attrib["width"]) for band in bands]
    assert abs(sum(widths) - charts.PLOT_WIDTH) < 0.5
    assert chart.summary == ("Seit 1. Dez.: funktioniert 92,9 % der geprüften Zeit, antwortete 1 Mal nicht.")
    assert chart.rows[1] == ("7. Dez., 00:00 UTC bis 7. Dez., 12:00 UTC", "antwortet nicht")


def test_health_never_checked_says_there_are_no_measurements_yet() -> None:
    chart = health_chart([], window=_window("en"), chart_id="chart-health", title="Health")
    assert chart.summary == "No measurements yet."
