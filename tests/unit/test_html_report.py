"""The HTML report (`crmsync report --html FILE`): one self-contained page, each chart drawn,
over the data `GET /report` answers (made here by its use case over a sample week)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from crmsync.sync.health_report import Period, health_report
from crmsync_cli.report import write_report

from local.check_report import UNTIL, KeptRuns, sample_week

CHARTS = ("Lag since each direction", "Records synced per", "daily API usage", "error list per")


@pytest.fixture(scope="module")
def week() -> dict[str, Any]:
    return sample_week()


def page_of(data: dict[str, Any], tmp_path: Path) -> str:
    write_report(data, tmp_path / "report.html")
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"], "one file, nothing beside it"
    return (tmp_path / "report.html").read_text(encoding="utf-8")


def test_the_page_is_one_self_contained_file_with_every_chart_and_the_failing_records(
    week: dict[str, Any], tmp_path: Path
) -> None:
    page = page_of(week, tmp_path)

    # Nothing to fetch: no script, no stylesheet or image from elsewhere, no web font
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"<script|<link|<img|@import|url\((?!#)", page, re.IGNORECASE), (
        "only the page's own #ids"
    )
    # Each chart is an inline SVG figure, labelled for a screen reader, with a caption
    figures = re.findall(
        r"<figure>\s*<svg role=\"img\" aria-label=\"([^\"]+)\".*?</svg>\s*<figcaption>", page, re.S
    )
    assert len(figures) == len(CHARTS)
    for chart, label in zip(CHARTS, figures, strict=True):
        assert chart in label
    # With data in each: no chart says it has none
    assert "in this period</text>" not in page
    assert "no run in this period" not in page
    # The totals, the open errors and the records that fail most, in tables
    assert f"{week['totals']['outbound']['records_synced']:,} records synced" in page
    top = week["top_failing_records"][0]
    assert f"<td>Lead {top['record_id']}</td>" in page
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION: Lead Source is required for web leads" in page
    assert 50_000 < len(page.encode()) < 400_000, "small enough to mail"


def test_a_period_without_runs_says_so_in_each_chart(tmp_path: Path) -> None:
    empty = KeptRuns()
    data = health_report(empty, empty, Period(UNTIL - timedelta(days=1), UNTIL), budget_percent=50, now=UNTIL)

    page = page_of(data, tmp_path)

    assert page.count("no run in this period") == 2
    assert "no run heard from Salesforce in this period" in page
    assert "no record was put on the error list in this period" in page
    assert "No record is failing." in page and "No run in this period." in page


def test_what_salesforce_said_is_shown_as_text_never_as_markup(week: dict[str, Any], tmp_path: Path) -> None:
    hostile = {**week["top_failing_records"][0], "message": '<script>alert("x")</script> & <b>'}
    page = page_of({**week, "top_failing_records": [hostile]}, tmp_path)

    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in page
