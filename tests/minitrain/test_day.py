"""The day in one flow (issue 23): the label and the estimate are typed once, at the pre-flight;
every later command takes them from the open reservation and ends with the next step."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, day
from minitrain.cli.budget import main as budget
from minitrain.errors import InputError, Interrupted, NoReservation
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson, go

pytestmark = pytest.mark.usefixtures("file_mode")
LEDGER = ["--ledger", "spend.jsonl", "--ceiling", "5.00"]


def _guard() -> BudgetGuard:
    return BudgetGuard("5.00", "spend.jsonl")


def test_record_takes_the_amount_alone_for_the_only_open_reservation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert budget(["authorize", "lab02-tp-spinup", "3.00", *LEDGER]) == 0
    capsys.readouterr()
    assert budget(["record", "2.47", *LEDGER]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "recorded lab02-tp-spinup actual $2.47; spent $2.47, remaining $2.53",
        "next: nothing more today; `budget status` shows the books",
    ]
    assert _guard().status().open_operations == ()


def test_with_several_open_a_script_names_one_and_is_told_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    budget(["authorize", "lab02-a", "1.00", *LEDGER])
    budget(["authorize", "lab02-b", "1.00", *LEDGER])
    capsys.readouterr()
    assert budget(["record", "0.50", *LEDGER]) == 2
    assert capsys.readouterr().err == (
        "budget: error: 2 reservations are open (lab02-a, lab02-b); name one with --label\n"
    )
    assert budget(["record", "lab02-b", "0.50", *LEDGER]) == 0
    assert [op.label for op in _guard().status().open_operations] == ["lab02-a"]


def test_a_person_picks_from_a_numbered_list_never_retyping_the_label(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    guard = _guard()
    guard.authorize("lab02-a", "1.00")
    guard.authorize("lab02-b", "2.00")
    monkeypatch.setattr("sys.stdin", io.StringIO("lab02-b\n3\n2\n"))
    picked = day.reservation(guard.status(), None, pick=day.pick_at_terminal)
    assert picked.label == "lab02-b"
    err = capsys.readouterr().err
    assert "  1. lab02-a  $1.00\n  2. lab02-b  $2.00\n" in err
    assert err.count("type a number from 1 to 2") == 2  # the label and 3 were refused
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(Interrupted):
        day.reservation(guard.status(), None, pick=day.pick_at_terminal)


def test_nothing_open_says_the_day_starts_with_the_pre_flight() -> None:
    with pytest.raises(NoReservation, match="the day starts with the pre-flight: `preflight run"):
        day.reservation(_guard().status(), None)
    with pytest.raises(InputError):
        day.reservation(_guard().status(), "lab02-x")


def test_a_launch_with_nothing_open_and_no_terminal_names_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert budget(["launch", *LEDGER, "--", "runpodctl", "pod", "create"]) == 1
    err = capsys.readouterr().err
    assert "nothing to launch: nothing is open; the day starts with the pre-flight" in err


def test_status_says_the_next_step_of_each_open_reservation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    budget(["authorize", "lab02-a", "1.00", *LEDGER])
    capsys.readouterr()
    assert budget(["status", *LEDGER]) == 0
    assert "next for lab02-a: budget launch -- runpodctl pod create" in capsys.readouterr().out


def test_a_bare_word_names_a_checklist(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minitrain import checklists

    monkeypatch.chdir(lab)
    for name in ("pre-flight", "post-start", "post-flight"):
        assert checklists.locate(Path(name), root=lab) == lab / "checklists" / f"{name}.yaml"
    assert checklists.locate(None, root=lab) == lab / "checklists" / "pre-flight.yaml"


def test_the_post_flight_takes_the_label_and_estimate_from_the_reservation(lab: Path) -> None:
    """The pre-flight is the one run given a label and an estimate; the post-flight closes the
    open reservation, typed nothing of either, and writes one actual."""
    go(lab, FakePerson(CI_ANSWERS))
    proof = lab / "experiments/35-tp-inference/proof-terminated.png"
    proof.parent.mkdir(parents=True)
    proof.write_bytes(b"png")
    person = FakePerson(
        {
            "terminated": "0",  # no vendor CLI here: the count the console shows
            "proof-screenshot": "yes",
            "actual-cost": "2.47",
            "gate": "record",
        }
    )
    outcome = go(lab, person, label=None, estimate=None, checklist="post-flight")
    assert outcome.status == "recorded"  # type: ignore[attr-defined]
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [(x["kind"], x["op_label"]) for x in lines] == [
        ("authorize", "lab02-tp-spinup"),
        ("actual", "lab02-tp-spinup"),
    ]
    assert BudgetGuard(5, ledger).status().reserved == Decimal(0)
