"""The HTML report of `crmsync report --html FILE`: one self-contained page of a period's sync
health, drawn from `GET /report`'s data (crmsync.sync.health_report).

The charts are matplotlib figures written as SVG inside the page: no script, no stylesheet or
font to fetch, so the page opens offline, from a mail attachment or a ticket, and prints. Text
stays text (`svg.fonttype: none`): it is searchable, selectable, sharp at any zoom, and the page
stays small (about 110 KB for a week). Each chart is a figure with a caption that says in words
what it shows, and the numbers that matter most are in tables beside the charts. Colours are the
Okabe-Ito palette (told apart with the common colour-vision deficiencies), and the two directions
differ in line style too.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DIRECTIONS = {
    "outbound": ("outbound (Salesforce to marketing)", "#0072B2", "-"),
    "inbound": ("inbound (marketing to Salesforce)", "#E69F00", "--"),
}
CATEGORY_COLOURS = ("#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999")
BUDGET_COLOUR = "#D55E00"
FIGURE_SIZE = (9.0, 2.8)
RUNS_SHOWN = 20

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
       max-width: 62rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.period { color: #555; margin-top: 0; }
.tiles { display: flex; flex-wrap: wrap; gap: 0.8rem; }
.tile { border: 1px solid #ccc; border-radius: 6px; padding: 0.6rem 0.9rem; min-width: 12rem; }
.tile b { display: block; font-size: 1.3rem; }
figure { margin: 1.2rem 0; } figcaption { color: #333; font-size: 0.92rem; }
figure svg { width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
table.narrow { width: auto; min-width: 20rem; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.none { color: #555; font-style: italic; }
"""


def write_report(data: dict[str, Any], path: Path | str) -> None:
    """Write the page for `data` (`GET /report`'s answer) to `path`."""
    Path(path).write_text(render(data), encoding="utf-8")


def render(data: Mapping[str, Any]) -> str:
    since, until = _moment(data["since"]), _moment(data["until"])
    title = f"crmsync sync health, {since:%d %b %Y %H:%M} to {until:%d %b %Y %H:%M} UTC"
    sections = [
        f"<h1>crmsync sync health</h1>\n<p class=period>{_e(_period(since, until))}; "
        f"generated {_e(_moment(data['generated_at']).strftime('%d %b %Y %H:%M UTC'))}.</p>",
        _totals(data),
        "<h2>Lag</h2>",
        _figure(
            _lag_chart(data),
            "Lag since each direction's last completed sync, in minutes, the highest of each "
            f"{_bucket(data)}. It falls to 0 when a run completes and grows while runs end paused, "
            "over budget, cut short or failing; a gap is a period without runs.",
        ),
        "<h2>Throughput</h2>",
        _figure(
            _throughput_chart(data),
            f"Records synced per {_bucket(data)}, per direction: records a run created, updated, "
            "linked, converted, merged or deleted on the other side (not those found unchanged or "
            "out of scope).",
        ),
        "<h2>Salesforce API usage</h2>",
        _figure(
            _usage_chart(data),
            "The org's daily API usage as Salesforce reported it to the runs (the highest reading "
            f"of each {_bucket(data)}), against crmsync's budget of {data['budget_percent']}%: at "
            "or above it, the runs wait.",
        ),
        "<h2>Errors</h2>",
        _figure(
            _errors_chart(data),
            f"Records the runs put on the error list per {_bucket(data)}, by category (new "
            "entries and renewed ones: a record that fails at every run counts at every run).",
        ),
        _open_errors(data),
        "<h2>Records that fail most</h2>",
        _failing_table(data.get("top_failing_records", [])),
        "<h2>Latest runs</h2>",
        _runs_table(data.get("runs", [])),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        '<meta name=viewport content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------ charts


def _lag_chart(data: Mapping[str, Any]) -> Figure:
    figure, axes = _axes("minutes")
    for direction, series in data["lag_seconds"].items():
        label, colour, style = DIRECTIONS[direction]
        times, values = _points(series)
        minutes = [math.nan if value is None else value / 60 for value in values]
        axes.plot(times, minutes, style, color=colour, label=label, marker="o", markersize=3)
    shown = any(point["value"] is not None for series in data["lag_seconds"].values() for point in series)
    return _finish(figure, axes, data, shown=shown, empty="no run in this period")


def _throughput_chart(data: Mapping[str, Any]) -> Figure:
    figure, axes = _axes("records", whole=True)
    for direction, series in data["records_synced"].items():
        label, colour, style = DIRECTIONS[direction]
        times, values = _points(series)
        counts = [value or 0 for value in values]
        # One more point at the period's end: a step is drawn from each point to the next, and
        # the last bucket's count needs one to reach to.
        times, counts = [*times, _moment(data["until"])], [*counts, counts[-1] if counts else 0]
        axes.step(times, counts, style, where="post", color=colour, label=label)
    shown = any(totals["runs"] for totals in data["totals"].values())
    return _finish(figure, axes, data, shown=shown, empty="no run in this period")


def _usage_chart(data: Mapping[str, Any]) -> Figure:
    figure, axes = _axes("% of the daily limit")
    times, values = _points(data["api_usage_percent"])
    usage = [math.nan if value is None else value for value in values]
    axes.plot(times, usage, color="#0072B2", marker="o", markersize=3, label="org usage")
    budget = data["budget_percent"]
    axes.axhline(
        budget, color=BUDGET_COLOUR, linestyle=":", linewidth=1.5, label=f"crmsync budget ({budget}%)"
    )
    axes.set_ylim(0, 100)
    shown = any(value is not None for value in values)
    return _finish(figure, axes, data, shown=shown, empty="no run heard from Salesforce in this period")


def _errors_chart(data: Mapping[str, Any]) -> Figure:
    figure, axes = _axes("records", whole=True)
    buckets = data["errors_by_category"]
    times = [_moment(bucket["at"]) for bucket in buckets]
    categories = sorted({category for bucket in buckets for category in bucket["counts"]})
    width = data["bucket_seconds"] / 86_400 * 0.9  # in days, as matplotlib's dates count
    bottom = [0.0 for _ in buckets]
    for index, category in enumerate(categories):
        heights = [float(bucket["counts"].get(category, 0)) for bucket in buckets]
        colour = CATEGORY_COLOURS[index % len(CATEGORY_COLOURS)]
        axes.bar(times, heights, width=width, bottom=bottom, align="edge", color=colour, label=category)
        bottom = [low + high for low, high in zip(bottom, heights, strict=True)]
    shown = any(bottom)
    return _finish(
        figure, axes, data, shown=shown, empty="no record was put on the error list in this period"
    )


def _axes(unit: str, *, whole: bool = False) -> tuple[Figure, Any]:
    """A chart's axes; `whole`: its values are counts, ticked in whole numbers."""
    figure = Figure(figsize=FIGURE_SIZE, layout="constrained")
    axes = figure.add_subplot()
    if whole:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(unit)
    axes.grid(axis="y", color="#e4e4e4")
    axes.spines[["top", "right"]].set_visible(False)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]  # matplotlib leaves it unannotated
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return figure, axes


def _finish(figure: Figure, axes: Any, data: Mapping[str, Any], *, shown: bool, empty: str) -> Figure:
    axes.set_xlim(_moment(data["since"]), _moment(data["until"]))
    # From 0, and at least to 1: a series of zeros reads as zeros, not as hundredths.
    axes.set_ylim(0, max(axes.get_ylim()[1], 1))
    if axes.get_legend_handles_labels()[0]:
        # Above the plot, where no line can run under it.
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=3, frameon=False, fontsize="small")
    if not shown:
        axes.text(0.5, 0.5, empty, transform=axes.transAxes, ha="center", va="center", color="#555")
    return figure


def _figure(figure: Figure, caption: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "crmsync", "font.size": 9}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # the XML declaration and doctype have no place inside HTML
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_e(caption)}" ', 1)
    return f"<figure>\n{svg}\n<figcaption>{_e(caption)}</figcaption>\n</figure>"


# ------------------------------------------------------------------ tables


def _totals(data: Mapping[str, Any]) -> str:
    tiles = []
    for direction, totals in data["totals"].items():
        label = DIRECTIONS[direction][0]
        tiles.append(
            f"<div class=tile>{_e(label)}<b>{totals['records_synced']:,} records synced</b>"
            f"{totals['runs']:,} runs, {totals['errors']:,} errors, {totals['api_calls']:,} API calls</div>"
        )
    return "<div class=tiles>" + "".join(tiles) + "</div>"


def _open_errors(data: Mapping[str, Any]) -> str:
    open_errors = data.get("open_errors", {})
    if not open_errors:
        return "<p>No error is open now.</p>"
    rows = [(category, count) for category, count in sorted(open_errors.items(), key=lambda item: -item[1])]
    return "<p>Open now, by category (<code>crmsync errors</code> lists them):</p>" + _table(
        ["category", "open errors"], rows, numeric={1}, narrow=True
    )


def _failing_table(errors: Sequence[Mapping[str, Any]]) -> str:
    if not errors:
        return "<p class=none>No record is failing.</p>"
    rows = [
        (
            error["direction"],
            f"{error['object']} {error['record_id']}",
            error.get("prospect_id") or "",
            error["category"],
            f"{error['code']}: {error['message']}",
            error["attempts"],
            _moment(error["last_seen"]).strftime("%d %b %H:%M"),
        )
        for error in errors
    ]
    return (
        "<p>The open errors with the most attempts (<code>crmsync why ID</code> tells a record's story).</p>"
        + _table(
            [
                "direction",
                "Salesforce record",
                "prospect",
                "category",
                "Salesforce said",
                "attempts",
                "last seen",
            ],
            rows,
            numeric={5},
        )
    )


def _runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    if not runs:
        return "<p class=none>No run in this period.</p>"
    rows = [
        (
            _moment(run["started_at"]).strftime("%d %b %H:%M:%S"),
            run["direction"],
            run["outcome"].replace("_", " "),
            run["records_synced"],
            sum(run.get("errors", {}).values()),
            run["api_calls"],
            f"{run['duration_s']:.1f} s",
        )
        for run in runs[:RUNS_SHOWN]
    ]
    return _table(
        ["started (UTC)", "direction", "outcome", "records synced", "errors", "API calls", "duration"],
        rows,
        numeric={3, 4, 5, 6},
    )


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: set[int], *, narrow: bool = False
) -> str:
    head = "".join(f"<th scope=col>{_e(header)}</th>" for header in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=n>{_e(value)}</td>" if index in numeric else f"<td>{_e(value)}</td>"
            for index, value in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    opening = "<table class=narrow>" if narrow else "<table>"
    return f"{opening}\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


# ------------------------------------------------------------------ values


def _points(series: Sequence[Mapping[str, Any]]) -> tuple[list[datetime], list[float | None]]:
    return [_moment(point["at"]) for point in series], [point["value"] for point in series]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _bucket(data: Mapping[str, Any]) -> str:
    seconds = int(data["bucket_seconds"])
    if seconds % 86_400 == 0:
        return "day" if seconds == 86_400 else f"{seconds // 86_400} days"
    if seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


def _period(since: datetime, until: datetime) -> str:
    return f"{since:%d %b %Y %H:%M} to {until:%d %b %Y %H:%M} UTC"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
