"""The actual on the way out: computed from the pre-flight record, or the vendor's bill; once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.cli.budget import main
from minitrain.preflight.session import Options, run_checklist
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson

pytestmark = pytest.mark.usefixtures("file_mode")


def preflight(lab: Path) -> datetime:
    outcome = run_checklist(Options("lab02-tp-spinup", "3.00"), terminal=FakePerson(CI_ANSWERS))
    data = json.loads(outcome.record.read_text())
    return datetime.fromisoformat(
        next(s["answer"] for s in data["steps"] if s["step"] == "start-time")
    )


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (0, "0.00"),
        (60, "0.70"),  # 1 h x 2 GPUs x $0.35
        (61, "0.72"),  # 61 min: 0.711666.. rounded up to the cent
        (180, "2.10"),  # the seed's 3 hours
    ],
)
def test_from_record_is_start_to_end_times_gpus_times_price(
    lab: Path, capsys: pytest.CaptureFixture[str], minutes: int, expected: str
) -> None:
    start = preflight(lab)
    end = (start + timedelta(minutes=minutes)).isoformat()
    assert main(["record", "lab02-tp-spinup", "--from-record", "--end", end]) == 0
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    assert BudgetGuard(5, ledger).total_spent == Decimal(expected)
    assert f"x 2 GPUs x $0.35/GPU-hour = ${expected}" in capsys.readouterr().err


def test_a_partial_minute_is_billed_as_a_whole_one(lab: Path) -> None:
    start = preflight(lab)
    end = (start + timedelta(seconds=1)).isoformat()
    assert main(["record", "lab02-tp-spinup", "--from-record", "--end", end]) == 0
    assert BudgetGuard(5, lab / "experiments/35-cloud-budget/spend.jsonl").total_spent == Decimal(
        "0.02"
    )  # 60 s x 2 x 0.35 / 3600 = 0.01166.. -> 0.02


def test_recorded_once_per_authorization(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preflight(lab)
    assert main(["record", "lab02-tp-spinup", "2.10"]) == 0
    assert main(["record", "lab02-tp-spinup", "--from-record"]) == 2
    assert "already recorded: $2.10" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["record", "lab02-tp-spinup"],
            "give what it cost in dollars (`budget record 2.47`, or `budget record LABEL 2.47`)",
        ),
        (["record", "lab02-tp-spinup", "1.00", "--from-record"], "not both"),
        (["record", "lab02-tp-spinup", "--from-record"], "no authorized pre-flight record"),
        (["record", "x", "--from-record", "--end", "yesterday"], "is not a time"),
    ],
)
def test_bad_record_requests(
    lab: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_end_before_start_is_refused(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = preflight(lab)
    end = (start - timedelta(hours=1)).astimezone(UTC).isoformat()
    assert main(["record", "lab02-tp-spinup", "--from-record", "--end", end]) == 2
    assert "is before the start" in capsys.readouterr().err


def test_while_a_termination_is_unconfirmed_now_is_no_end(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10: the watcher could not confirm the terminate, so the instance may still bill."""
    from minitrain import watch, watches

    start = preflight(lab)
    folder = lab / "experiments/35-cloud-budget/preflight"
    state = watch.load_or_start(
        folder,
        label="lab02-tp-spinup",
        instance="pod0001",
        vendor="runpod",
        start=start,
        cap_hours=Decimal("4"),
    )
    state.ended, state.ended_at = "unconfirmed", start.isoformat()
    watches.save(folder, state)
    assert main(["record", "lab02-tp-spinup", "--from-record"]) == 2
    assert "the watcher could not confirm that pod0001 is gone" in capsys.readouterr().err
    end = (start + timedelta(minutes=60)).isoformat()
    assert main(["record", "lab02-tp-spinup", "--from-record", "--end", end]) == 0
