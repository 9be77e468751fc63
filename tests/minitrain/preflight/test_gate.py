"""The gate and the review before it: authorize, change an answer, stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.errors import NotPassed
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson, go, ledger, records

pytestmark = pytest.mark.usefixtures("file_mode")


def test_stop_at_the_gate_authorizes_nothing(lab: Path) -> None:
    with pytest.raises(NotPassed, match=r"stop at the gate \(step 8 of 8\): nothing was autho"):
        go(lab, FakePerson({**CI_ANSWERS, "gate": "stop"}))
    assert not ledger(lab).exists()
    assert records(lab)[0]["status"] == "not-passed"


def test_change_an_answer_at_the_review(lab: Path) -> None:
    person = FakePerson(
        {**CI_ANSWERS, "budget-alert": ["2.40", "2.40"], "gate": ["7", "2", "authorize"]}
    )
    go(lab, person)
    assert person.asked.count("budget-alert") == 2
    assert person.rejected == [("gate", "7", "step 7 has no answer to change")]


def test_changed_answer_that_fails_is_asked_again(lab: Path) -> None:
    person = FakePerson({**CI_ANSWERS, "auto-termination": ["4", "5", "stop"], "gate": ["3"]})
    with pytest.raises(NotPassed, match=r"stop at step 3 of 8 \(auto-termination\)"):
        go(lab, person)
    assert not ledger(lab).exists()


def test_the_gate_shows_the_labs_remaining_too(lab: Path) -> None:
    BudgetGuard(5, ledger(lab), lab_caps={"02": "3.00"}).authorize("lab02-warmup", "0.50")
    person = FakePerson(CI_ANSWERS)
    go(lab, person, estimate="1.00")
    assert (
        "Gate: authorize $1.00 for lab02-tp-spinup (lab 02); remaining $4.50 -> $3.50 of the"
        " ceiling $5.00; lab 02: $2.50 -> $1.50 of its cap $3.00"
    ) in "\n".join(person.shown)


def test_odd_answers_at_the_gate_and_the_hours_step_get_plain_words(lab: Path) -> None:
    person = FakePerson(
        {**CI_ANSWERS, "auto-termination": ["4h", "4"], "gate": ["\u00b2", "\u0663", "authorize"]}
    )
    go(lab, person, dry_run=True)
    assert person.rejected == [
        ("auto-termination", "4h", "'4h' is not a number: type a number of hours, in digits only"),
        ("gate", "\u00b2", "type the whole word authorize, or a step number"),
        ("gate", "\u0663", "type the whole word authorize, or a step number"),
    ]
