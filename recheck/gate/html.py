"""The report as one self-contained HTML page (no network needed to view it).

jinja2 renders the page (autoescaped: bug titles and failure messages are
untrusted text); pygal draws each bug's hits per day as SVG, inlined in the
page. pygal rather than matplotlib or plotly: it is pure Python with no
numpy, and its SVG needs no JavaScript library (plotly would inline ~3 MB of
JS per page; matplotlib pulls numpy and a font cache). Its optional tooltip
script is loaded from a CDN by default, so it is switched off (``js=[]``).
The tables sort with a dozen lines of inline script in the template.
"""
from __future__ import annotations

import datetime as _dt
import os
from importlib import resources

import jinja2
import pygal
from markupsafe import Markup
from pygal.style import Style

from ostk.files import atomic_write
from recheck.gate.models import BugHits, GateReport, iso

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    colors=("#c0392b",),
    font_family="sans-serif",
    label_font_size=11,
    major_label_font_size=11,
)


def days_of(report: GateReport) -> list[str]:
    """Every UTC date of the window, oldest first."""
    first = report.window.since.date()
    last = (report.window.until - _dt.timedelta(microseconds=1)).date()
    return [(first + _dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def hits_chart(bug: BugHits, days: list[str]) -> Markup:
    """An inline SVG bar chart of ``bug``'s hits per day (zeros included)."""
    values = [bug.by_day.get(day, 0) for day in days]
    top = max([*values, 1])
    chart = pygal.Bar(
        style=_STYLE,
        width=640,
        height=200,
        # Fixed pixels: without them the SVG stretches to the page's width.
        explicit_size=True,
        show_legend=False,
        js=[],
        disable_xml_declaration=True,
        x_label_rotation=0,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(days) // 7),
        print_values=False,
        margin=8,
    )
    chart.x_labels = [day[5:] for day in days]
    # Hits are whole builds: whole-number ticks only.
    chart.y_labels = list(range(0, top + 1, max(1, top // 5)))
    chart.add("hits", values)
    svg = chart.render(is_unicode=True)
    # pygal's output is generated SVG whose text parts are escaped by pygal itself.
    return Markup(svg)


def render_html(report: GateReport, *, title: str = "Gate failures") -> str:
    """The page as a string."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(
        resources.files("recheck.gate").joinpath("report.html.tmpl").read_text("utf-8")
    )
    days = days_of(report)
    return template.render(
        title=title,
        report=report,
        since=iso(report.window.since),
        until=iso(report.window.until),
        charts={bug.number: hits_chart(bug, days) for bug in report.bugs},
        generated=iso(_dt.datetime.now(_dt.timezone.utc)),
    )


def write_html(report: GateReport, path: str | os.PathLike[str], *, title: str = "Gate failures") -> None:
    """Write the page atomically (0644: it holds public CI data only)."""
    atomic_write(path, render_html(report, title=title), mode=0o644)
