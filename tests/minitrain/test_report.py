"""`budget report`: per-lab reserved and actual against caps, spend over time, and a chart."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, report
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
