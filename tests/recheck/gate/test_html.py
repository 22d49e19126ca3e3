"""The HTML page: written, valid HTML5, self-contained, one chart per bug, sortable tables."""
from __future__ import annotations

import re
from pathlib import Path

import html5lib

from ostk.cli import main
from ostk.environment import Environment
from recheck.testing.gate import BUG_A, FLAKY_TEST

from .conftest import Gate

NS = {"h": "http://www.w3.org/1999/xhtml", "svg": "http://www.w3.org/2000/svg"}


def write_page(gate: Gate, tmp_path: Path, *extra: str) -> tuple[int, Path, Environment]:
    page = tmp_path / "gate.html"
    env = Environment.for_test(gate.environ)
    status = main(
        ["gate", "report", "--workers", "1", "--since", "2026-11-20T12:00:00Z", "--html", str(page), *extra], env
    )
    return status, page, env


def test_page_is_valid_html5_with_the_three_tables_and_a_chart_per_bug(gate: Gate, tmp_path: Path) -> None:
    status, page, _env = write_page(gate, tmp_path)

    assert status == 0
    text = page.read_text("utf-8")
    # strict: any parse error (unclosed or misnested tags, bad attributes) raises.
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True).parse(text)
    tables = {t.get("id"): t for t in tree.iterfind(".//h:table", NS)}
    assert set(tables) == {"bugs-table", "uncategorized-table", "jobs-table"}
    rows = {name: table.findall("./h:tbody/h:tr", NS) for name, table in tables.items()}
    assert [len(rows[n]) for n in ("bugs-table", "uncategorized-table", "jobs-table")] == [3, 3, 6]
    assert "".join(rows["bugs-table"][0].itertext()).startswith(f"#{BUG_A}")
    assert FLAKY_TEST in "".join(rows["uncategorized-table"][0].itertext())
    assert all(t.get("class") == "sortable" for t in tables.values())
    # One inline SVG chart per bug.
    charts = tree.findall(".//svg:svg", NS)
    assert len(charts) == 3
    assert len(tree.findall(".//h:script", NS)) == 1  # the table sorter, inline
    assert (page.stat().st_mode & 0o777) == 0o644


def test_page_needs_no_network(gate: Gate, tmp_path: Path) -> None:
    _status, page, _env = write_page(gate, tmp_path)

    text = page.read_text("utf-8")
    # Nothing is loaded from elsewhere: no src=, no stylesheet links, no CSS imports or url().
    assert not re.search(r"""\bsrc\s*=""", text)
    assert not re.search(r"""<link\b""", text)
    assert "@import" not in text and "url(http" not in text
    assert "kozea.github.io" not in text  # pygal's default tooltip script stays out


def test_untrusted_text_is_escaped(gate: Gate, tmp_path: Path) -> None:
    gate.sim.add_build(
        job_name="nova-functional", result="FAILURE",
        end_time=gate.week.until.replace(hour=11), change=100500,
        log=b"2026-11-27 11:00:00.000001 | controller | {0} evil.T.test_x<script>alert(1)</script> [1.0s] ... FAILED\n",
    )

    _status, page, _env = write_page(gate, tmp_path)

    text = page.read_text("utf-8")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_json_and_html_together(gate: Gate, tmp_path: Path) -> None:
    import json

    status, page, env = write_page(gate, tmp_path, "--json")

    assert status == 0 and page.is_file()
    assert json.loads(env.stdout.getvalue())["builds_analysed"] == 30  # type: ignore[attr-defined]


def test_unwritable_html_path_is_a_local_input_error(gate: Gate, tmp_path: Path) -> None:
    env = Environment.for_test(gate.environ)

    status = main(["gate", "report", "--workers", "1", "--html", str(tmp_path / "no" / "such" / "dir" / "x.html")], env)

    assert status == 3
    assert "cannot write" in env.stderr.getvalue()  # type: ignore[attr-defined]
