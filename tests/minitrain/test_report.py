"""`budget report`: per-lab reserved and actual against caps, spend over time, and a chart."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from minitrain import BudgetGuard, report
from minitrain._struct import replace
from minitrain.cli.budget import main

pytestmark = pytest.mark.usefixtures("file_mode")


@pytest.fixture
def guard(tmp_path: Path) -> BudgetGuard:
    guard = BudgetGuard(
        5, tmp_path / "spend.jsonl", lab_caps={"02": "3.00", "03": "0.00", "buffer": "2.00"}
    )
    guard.authorize("lab02-tp-spinup", "3.00")
    guard.record_actual("lab02-tp-spinup", "2.10")
    guard.authorize("setup-tax", "0.40")
    return guard


def test_rows_per_lab_split_reserved_and_actual(guard: BudgetGuard) -> None:
    built = report.build(guard.status(), guard.operations())
    rows = {row.lab: (row.cap, row.reserved, row.actual, row.remaining) for row in built.labs}
    assert rows == {
        "02": (Decimal("3.00"), Decimal(0), Decimal("2.10"), Decimal("0.90")),
        "03": (Decimal("0.00"), Decimal(0), Decimal(0), Decimal("0.00")),
        "buffer": (Decimal("2.00"), Decimal("0.40"), Decimal(0), Decimal("1.60")),
    }


def test_timeline_moves_as_the_ledger_did(guard: BudgetGuard) -> None:
    points = report.build(guard.status(), guard.operations()).timeline
    assert [(p.event, p.spent) for p in points] == [
        ("authorize", Decimal("3.00")),
        ("actual", Decimal("2.10")),
        ("authorize", Decimal("2.50")),
    ]


def test_cli_text_json_and_png(
    guard: BudgetGuard, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "spend.png"
    args = ["report", "--ledger", str(guard.log_path), "--ceiling", "5"]
    assert main([*args, "--png", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "spent $2.50 ($0.40 reserved, $2.10 actual); remaining $2.50" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000  # a drawn chart, not an empty canvas
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["spent"], data["reserved"], data["timeline"][-1]["spent"]) == (
        "2.50",
        "0.40",
        "2.50",
    )


def test_report_from_the_manifest_shows_its_caps(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert "ceiling $5.00 (manifest" in out
    assert "02          $3.00     $0.00    $0.00      $3.00" in out


NOW = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
SPENT_LINE = "spent (reserved + actual)"


def texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text)]


def ticks(axes: Axes) -> list[str]:
    return [t.get_text() for t in axes.get_xticklabels() if t.get_text()]


def one_line(axes: Axes, label: str) -> Line2D:
    (found,) = [line for line in axes.get_lines() if line.get_label() == label]
    return found


@pytest.fixture
def single(tmp_path: Path) -> report.Report:
    guard = BudgetGuard(5, tmp_path / "one.jsonl", lab_caps={"02": "3", "03": "0", "buffer": "2"})
    guard.authorize("lab02-tp-spinup", "3.00")
    return report.build(guard.status(), guard.operations())


def test_a_single_operation_draws_a_point_and_a_line_under_a_title_of_what_remains(
    single: report.Report,
) -> None:
    """Issue 25: one operation drew nothing (a step needs two points), under no title."""
    figure = report.chart(single, now=single.timeline[0].at)
    figure.draw_without_rendering()
    assert "Remaining $2.00 of the $5.00 ceiling" in " ".join(texts(figure))
    spend = figure.axes[1]
    line = one_line(spend, SPENT_LINE)
    xs, ys = line.get_xdata(), line.get_ydata()
    assert len(xs) >= 3
    assert (min(ys), max(ys)) == (0.0, 3.0)  # from nothing to the reservation
    assert xs[0] < xs[-1]  # a line, not a dot: it runs from before the entry to past it
    (point,) = one_line(spend, "an authorize or actual").get_ydata()
    assert point == 3.0


def test_a_zero_cap_is_drawn_over_the_axis_and_named(single: report.Report) -> None:
    figure = report.chart(single, now=NOW)
    bars = figure.axes[0]
    assert {"cap $3.00", "cap $0.00", "cap $2.00"} <= set(texts(figure))
    (caps,) = [c for c in bars.collections if c.get_label() == "cap"]
    assert [round(float(seg[0][1]), 2) for seg in caps.get_segments()] == [3.0, 0.0, 2.0]
    assert not caps.get_clip_on()
    assert caps.get_zorder() > max(spine.get_zorder() for spine in bars.spines.values())


@pytest.mark.parametrize(
    "step",
    [timedelta(seconds=2), timedelta(minutes=7), timedelta(hours=5), timedelta(days=2)],
    ids=["seconds", "minutes", "hours", "days"],
)
def test_time_ticks_are_distinct_and_carry_the_date(guard: BudgetGuard, step: timedelta) -> None:
    built = report.build(guard.status(), guard.operations())
    start = datetime(2026, 11, 28, 21, 5, 9, tzinfo=UTC)
    moved = tuple(replace(p, at=start + step * i) for i, p in enumerate(built.timeline))
    figure = report.chart(replace(built, timeline=moved), now=moved[-1].at)
    figure.draw_without_rendering()
    shown = ticks(figure.axes[1])
    assert len(shown) >= 2, shown
    assert len(set(shown)) == len(shown), shown
    assert all(re.match(r"2026-1[12]-\d\d", tick) for tick in shown), shown


def test_without_caps_the_bar_stands_against_the_ceiling_and_nothing_spent_says_so(
    tmp_path: Path,
) -> None:
    guard = BudgetGuard(5, tmp_path / "bare.jsonl")
    empty = report.chart(report.build(guard.status(), guard.operations()), now=NOW)
    assert "nothing spent yet" in texts(empty)
    guard.authorize("lab01-x", "1.00")
    figure = report.chart(report.build(guard.status(), guard.operations()), now=NOW)
    words = texts(figure)
    assert "ceiling $5.00" in words
    assert "Spend against the ceiling" in words
    assert "Remaining $4.00 of the $5.00 ceiling" in " ".join(words)
