"""The gate report: which bugs hit the gate, from Zuul's builds and the logs themselves.

The rechecks page and elastic-recheck's graphs, without a cluster to run::

    import recheck
    report = recheck.gate_report("https://zuul.opendev.org", since="7d", workers=4)
    for bug in report.bugs:
        print(f"#{bug.number} {bug.hits} hits in {bug.changes} changes: {bug.title}")
    for group in report.uncategorized[:10]:
        print(group.hits, group.key, group.examples[0])

Findings are kept in SQLite (``$XDG_DATA_HOME/ostk/gate.sqlite3``): a second
run analyses only builds it has not seen. ``dask="tcp://scheduler:8786"``
runs the analyses on a Dask cluster (``pip install 'ostk[dask]'``).
"""
from typing import TYPE_CHECKING, Any

from recheck.gate.models import (
    BugHits,
    GateBuild,
    GateReport,
    GateWindow,
    JobStats,
    UncategorizedFailure,
)
from recheck.gate.report import DEFAULT_ZUUL, gate_report, parse_since
from recheck.gate.store import GateStore

if TYPE_CHECKING:  # imported on first use below
    from recheck.gate.html import render_html, write_html


def __getattr__(name: str) -> Any:
    # jinja2 and pygal cost ~60 ms to import; only the HTML page needs them.
    if name in ("render_html", "write_html"):
        from recheck.gate import html

        return getattr(html, name)
    raise AttributeError(f"module 'recheck.gate' has no attribute {name!r}")

__all__ = [
    "DEFAULT_ZUUL",
    "BugHits",
    "GateBuild",
    "GateReport",
    "GateStore",
    "GateWindow",
    "JobStats",
    "UncategorizedFailure",
    "gate_report",
    "parse_since",
    "render_html",
    "write_html",
]
