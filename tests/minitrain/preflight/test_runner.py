"""The runner's logic with a fake person: what passes, what stops, what is recorded."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.errors import AlreadyOpen, BudgetGuardExceeded, Interrupted, NotPassed
from minitrain.preflight.checklist import Step
from minitrain.preflight.sources import Origin, Question
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson, go, ledger, records

pytestmark = pytest.mark.usefixtures("file_mode")
REPO = Path(__file__).resolve().parents[3]


def test_every_step_passing_authorizes_and_records(lab: Path) -> None:
    person = FakePerson(CI_ANSWERS)
    outcome = go(lab, person)
    assert outcome.status == "authorized"  # type: ignore[attr-defined]
    assert BudgetGuard(5, ledger(lab)).total_spent == Decimal("3.00")
    [record] = records(lab)
    assert record["status"] == "authorized"
    assert (record["mode"], record["label"], record["estimate"]) == (
        "live",
        "lab02-tp-spinup",
        "3.00",
    )
    assert (record["remaining_before"], record["remaining_after"]) == ("5.00", "2.00")
    steps = {s["step"]: s for s in record["steps"]}  # type: ignore[union-attr]
    assert steps["budget-alert"]["origin"] == "person"
    assert steps["headroom"]["origin"] == "sensed"
    assert steps["start-time"]["answer"].endswith("+00:00")
    assert record["checklist"]["sha256"]  # type: ignore[index]


def test_the_computed_numbers_are_shown(lab: Path) -> None:
    person = FakePerson(CI_ANSWERS)
    go(lab, person)
    shown = "\n".join(person.shown)
    assert "remaining $5.00 >= needed $4.50 (estimate $3.00 + 50%)" in shown
    assert "Gate: authorize $3.00 for lab02-tp-spinup (lab 02); remaining $5.00 -> $2.00" in shown


@pytest.mark.parametrize(
    ("step", "wrong", "note"),
    [
        ("no-other-instances", "1", "you entered 1 instances; the most allowed is 0 instances"),
        ("budget-alert", "2.50", "you entered $2.50; it must be $2.40"),
        ("auto-termination", "6", "you entered 6 hours; the most allowed is 4 hours"),
        ("instance-type", "1.10", "you entered $1.10; it must be $0.70"),
    ],
)
def test_a_failed_answer_is_asked_again_and_only_stop_ends_the_run(
    lab: Path, step: str, wrong: str, note: str
) -> None:
    person = FakePerson({**CI_ANSWERS, step: [wrong, "stop"]})
    with pytest.raises(NotPassed, match=rf"you typed stop at step \d of 8 \({step}\)"):
        go(lab, person)
    assert person.asked.count(step) == 2
    assert not ledger(lab).exists()
    [record] = records(lab)
    assert (record["status"], record["stopped_at_step"]) == ("not-passed", step)
    [retry] = record["retries"]  # type: ignore[misc]
    assert (retry["step"], retry["answer"], retry["note"]) == (step, wrong, note)  # type: ignore[index]


def test_a_mistyped_value_is_asked_again_and_the_run_authorizes_once(lab: Path) -> None:
    person = FakePerson(
        {**CI_ANSWERS, "budget-alert": ["2.04", "2.40"], "auto-termination": ["6", "4"]}
    )
    outcome = go(lab, person)
    assert outcome.status == "authorized"  # type: ignore[attr-defined]
    assert len(ledger(lab).read_text().splitlines()) == 1
    [record] = records(lab)
    assert [(r["step"], r["answer"]) for r in record["retries"]] == [  # type: ignore[attr-defined]
        ("budget-alert", "2.04"),
        ("auto-termination", "6"),
    ]


def test_the_failure_says_how_to_fix_it(lab: Path) -> None:
    person = FakePerson({**CI_ANSWERS, "budget-alert": ["2.50", "stop"]})
    with pytest.raises(NotPassed):
        go(lab, person)
    assert (
        "  FAILED: you entered $2.50; it must be $2.40. Fix it (set the alert to exactly $2.40 in"
        " the console), then type the value you now see, or type stop"
    ) in person.shown


def test_habit_answers_never_pass_a_critical_step(lab: Path) -> None:
    person = FakePerson(
        {**CI_ANSWERS, "no-other-instances": ["", "y", "Y", "yes please", "yes", "0"]}
    )
    go(lab, person, dry_run=True)
    assert [r[1] for r in person.rejected] == ["", "y", "Y", "yes please", "yes"]
    gate = FakePerson({**CI_ANSWERS, "gate": ["", "yes", "y", "authorize"]})
    go(lab, gate, dry_run=True)
    assert [r[1] for r in gate.rejected] == ["", "yes", "y"]


def test_a_malformed_number_is_asked_again(lab: Path) -> None:
    person = FakePerson({**CI_ANSWERS, "budget-alert": ["two forty", "2.405", "$2.40"]})
    go(lab, person)
    assert [r[1] for r in person.rejected] == ["two forty", "2.405"]


def test_headroom_short_stops_before_the_first_question(lab: Path) -> None:
    BudgetGuard(5, ledger(lab)).authorize("earlier", "2.00")
    before = ledger(lab).read_bytes()
    person = FakePerson(CI_ANSWERS)
    with pytest.raises(NotPassed, match=r"nothing was asked: .*remaining \$3\.00 < needed \$4\.50"):
        go(lab, person)
    assert person.asked == []
    assert ledger(lab).read_bytes() == before


def test_a_lab_cap_refusal_comes_before_the_first_question(lab: Path) -> None:
    BudgetGuard(5, ledger(lab)).authorize("lab02-warmup", "2.50")
    before = ledger(lab).read_bytes()
    person = FakePerson(CI_ANSWERS)
    with pytest.raises(BudgetGuardExceeded, match=r"lab 02 cap \$3\.00"):
        go(lab, person, estimate="1.00")
    assert person.asked == []
    assert ledger(lab).read_bytes() == before
    assert records(lab)[0]["status"] == "refused"


def test_interrupt_mid_run_aborts_with_nothing_authorized(lab: Path) -> None:
    person = FakePerson({k: v for k, v in CI_ANSWERS.items() if k != "instance-type"})
    with pytest.raises(EOFError):
        go(lab, person)
    assert not ledger(lab).exists()
    [record] = records(lab)
    assert record["status"] == "error"

    class CtrlC(FakePerson):
        def answer(self, step, question):  # type: ignore[no-untyped-def]
            if step.id == "auto-termination":
                raise Interrupted("Ctrl-C")
            return super().answer(step, question)

    with pytest.raises(Interrupted):
        go(lab, CtrlC({**CI_ANSWERS, "resume": "new"}))
    aborted = records(lab)[-1]
    assert (aborted["status"], aborted["stopped_at_step"]) == ("aborted", "auto-termination")
    assert not ledger(lab).exists()


def test_resume_keeps_earlier_answers_and_asks_the_last_again(lab: Path) -> None:
    first = FakePerson({k: v for k, v in CI_ANSWERS.items() if k not in ("instance-type",)})
    with pytest.raises(EOFError):
        go(lab, first)
    second = FakePerson({**CI_ANSWERS, "resume": "resume"})
    go(lab, second)
    # the instance listing is checked again (asked, with no vendor CLI here); 2.40 is kept
    assert second.asked[:3] == ["resume", "no-other-instances", "auto-termination"]
    assert "budget-alert" not in second.asked
    first_run, second_run = records(lab)
    assert second_run["resumed_from"] == first_run["name"]
    assert second_run["status"] == "authorized"


def test_the_resume_question_says_how_the_run_ended_and_what_is_checked_again(lab: Path) -> None:
    first = FakePerson({k: v for k, v in CI_ANSWERS.items() if k != "termination-plan"})
    with pytest.raises(EOFError):  # the input ended at step 6, after the sensed headroom
        go(lab, first)
    second = FakePerson({**CI_ANSWERS, "resume": "resume"})
    go(lab, second)
    asked = second.questions["resume"]
    assert "stopped (error, 20" in asked  # how it ended, and when
    assert "after 5 passed step(s)" in asked
    assert "Resume (step 5 and the other sensed steps are checked again)" in asked


def test_new_instead_of_resume_asks_everything(lab: Path) -> None:
    with pytest.raises(EOFError):
        go(lab, FakePerson({"no-other-instances": "0"}))
    second = FakePerson({**CI_ANSWERS, "resume": "new"})
    go(lab, second)
    assert second.asked[1] == "no-other-instances"


def test_post_flight_records_the_actual(lab: Path) -> None:
    BudgetGuard(5, ledger(lab)).authorize("lab02-tp-spinup", "3.00")
    proof = lab / "experiments" / "35-tp-inference" / "proof-terminated.png"
    proof.parent.mkdir(parents=True)
    proof.write_bytes(b"\x89PNG")
    person = FakePerson({"terminated": "0", "actual-cost": "2.47", "gate": "record"})
    outcome = go(lab, person, checklist=lab / "checklists" / "post-flight.yaml")
    assert outcome.status == "recorded"  # type: ignore[attr-defined]
    assert BudgetGuard(5, ledger(lab)).total_spent == Decimal("2.47")


def test_a_second_post_flight_stops_before_the_first_question(lab: Path) -> None:
    BudgetGuard(5, ledger(lab)).authorize("lab02-tp-spinup", "3.00")
    BudgetGuard(5, ledger(lab)).record_actual("lab02-tp-spinup", "2.47")
    person = FakePerson({"terminated": "0", "actual-cost": "2.47", "gate": "record"})
    with pytest.raises(NotPassed, match=r"nothing to record: .* already recorded: \$2\.47 at"):
        go(lab, person, checklist=lab / "checklists" / "post-flight.yaml")
    assert person.asked == []
    assert len(ledger(lab).read_text().splitlines()) == 2


def test_post_flight_without_the_screenshot_does_not_record(lab: Path) -> None:
    go(lab, FakePerson(CI_ANSWERS))  # the reservation the post-flight closes
    before = ledger(lab).read_bytes()
    with pytest.raises(NotPassed, match=r"proof-terminated\.png is missing"):
        go(
            lab,
            FakePerson({"terminated": "0"}),
            checklist=lab / "checklists" / "post-flight.yaml",
        )
    assert ledger(lab).read_bytes() == before


def test_a_post_flight_with_no_reservation_asks_nothing(lab: Path) -> None:
    """Issue 21: it asked every question, said "the actual replaces the reservation" of none,
    recorded, and only then warned. Now nothing is asked and nothing written."""
    person = FakePerson({"terminated": "0"})
    with pytest.raises(NotPassed, match="nothing to record: no open reservation of"):
        go(lab, person, checklist=lab / "checklists" / "post-flight.yaml")
    assert person.asked == []
    assert not ledger(lab).exists()


def test_choice_and_a_condition_on_an_earlier_answer(lab: Path) -> None:
    path = lab / "checklists" / "branch.yaml"
    path.write_text(
        """id: branch
version: 1
title: Branching
steps:
  - id: vendor
    kind: choice
    critical: true
    choices: [runpod, vast, lambda]
    passing: [runpod, vast]
    say: Which vendor?
  - id: vast-destroy
    kind: confirm
    critical: true
    when: {step: vendor, equals: vast}
    say: You know `vastai destroy instance ID` needs -y without a terminal.
  - id: gate
    kind: gate
    action: authorize
    say: Go?
"""
    )
    runpod = FakePerson({"vendor": ["1", "RunPod"], "gate": "authorize"})
    go(lab, runpod, checklist=path, dry_run=True)
    assert runpod.asked == ["vendor", "gate"]
    assert runpod.rejected[0][:2] == ("vendor", "1")  # no first-choice-on-Enter: type the name
    vast = FakePerson({"vendor": "vast", "vast-destroy": "yes", "gate": "authorize"})
    go(lab, vast, checklist=path, dry_run=True)
    assert vast.asked == ["vendor", "vast-destroy", "gate"]
    lam = FakePerson({"vendor": ["lambda", "stop"]})
    with pytest.raises(NotPassed, match=r"you typed stop at step 1 of 3 \(vendor\)"):
        go(lab, lam, checklist=path, dry_run=True)
    assert (
        "  FAILED: chose lambda. Fix it, then type the value you now see, or type stop" in lam.shown
    )


@pytest.mark.parametrize("estimate", ["0", "0.00"])
def test_an_estimate_of_nothing_stops_before_the_first_question(lab: Path, estimate: str) -> None:
    person = FakePerson(CI_ANSWERS)
    with pytest.raises(NotPassed, match=r"the estimate is \$0\.00"):
        go(lab, person, estimate=estimate)
    assert person.asked == []
    assert not ledger(lab).exists()


def test_a_second_open_reservation_of_the_label_stops_before_the_first_question(
    lab: Path,
) -> None:
    go(lab, FakePerson(CI_ANSWERS), estimate="1.00")
    [line] = ledger(lab).read_text().splitlines()
    op_id = json.loads(line)["id"]
    person = FakePerson(CI_ANSWERS)
    with pytest.raises(NotPassed) as stopped:
        go(lab, person, estimate="1.00")
    assert person.asked == []
    assert len(ledger(lab).read_text().splitlines()) == 1
    said = str(stopped.value)
    assert "lab02-tp-spinup already has an open reservation: $1.00 authorized" in said
    assert f"(op id {op_id})" in said
    assert "`budget record lab02-tp-spinup USD`" in said
    assert "use another label" in said


@pytest.mark.parametrize("mode", ["", "error"], ids=["a-stopped-pod", "cli-fails"])
def test_the_vendor_listing_stops_a_run_before_the_first_question(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # tests/data/fake-bin/runpodctl copies `runpodctl pod list --all`'s output and its errors
    state = tmp_path / "cloud.json"
    pod = {"id": "pod0001", "name": "old", "desiredStatus": "EXITED", "costPerHr": 0.7}
    state.write_text(json.dumps({"runpod": [pod]}))
    monkeypatch.setenv("PATH", f"{REPO / 'tests/data/fake-bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))
    monkeypatch.setenv("FAKE_VENDOR_MODE", mode)
    person = FakePerson(CI_ANSWERS)
    with pytest.raises(NotPassed, match=r"nothing was asked: step 1 \(no-other-instances\)"):
        go(lab, person)
    assert person.asked == []
    assert not ledger(lab).exists()


def test_twin_runs_of_one_label_reserve_once_and_say_the_true_remaining(lab: Path) -> None:
    """Issue 21: two terminals ran `preflight run --label twin --estimate 0.50` at once; both
    passed the gate and both said "remaining $1.70". The second run here answers while the
    first authorizes (from "another terminal"): its gate is refused, naming the open
    reservation, and the ledger holds one."""

    class Twin(FakePerson):
        def answer(self, step: Step, question: Question) -> tuple[str, Origin]:
            if step.id == "gate":  # the other terminal's gate got there first
                BudgetGuard("5.00", ledger(lab)).authorize("lab02-twin", "0.50")
            return super().answer(step, question)

    with pytest.raises(AlreadyOpen, match=r"lab02-twin already has an open reservation: \$0\.50"):
        go(lab, Twin(CI_ANSWERS), label="lab02-twin", estimate="0.50")
    guard = BudgetGuard("5.00", ledger(lab))
    assert [op.label for op in guard.operations()] == ["lab02-twin"]
    assert records(lab)[-1]["status"] != "authorized"
    assert guard.remaining == Decimal("4.50")
