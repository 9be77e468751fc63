"""Every question behaves the same (issue 23): `stop` ends the run at any question the first
time it is asked, each hint says so, Ctrl-C names the step, each gate takes its own word, and a
run stopped at its gate resumes there."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from minitrain import BudgetGuard
from minitrain.errors import Interrupted, Stopped
from minitrain.preflight import checklist as checklist_module
from minitrain.preflight.checklist import Step
from minitrain.preflight.sources import Origin, Question
from tests.conftest import REPO
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson, go, ledger, records

pytestmark = pytest.mark.usefixtures("file_mode")
POST_FLIGHT = {"terminated": "0", "actual-cost": "2.47", "gate": "record"}
POST_START = {"instance-id": "pod-abc123", "gate": "confirm"}
WORDS = {"authorize": "authorize", "record_actual": "record", "confirm": "confirm"}  # gate action


def post_flight_lab(lab: Path) -> dict[str, object]:
    """An open reservation and the screenshot: what a post-flight needs to ask anything."""
    BudgetGuard(5, ledger(lab)).authorize("lab02-tp-spinup", "3.00")
    proof = lab / "experiments" / "35-tp-inference" / "proof-terminated.png"
    proof.parent.mkdir(parents=True)
    proof.write_bytes(b"\x89PNG")
    return {"checklist": lab / "checklists" / "post-flight.yaml"}


def post_start_lab(lab: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """nvidia-smi on PATH (tests/data/fake-bin prints a captured 2x RTX 4090 machine), and the
    manifest's target that machine meets."""
    fake_bin = REPO / "tests" / "data" / "fake-bin"
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NVIDIA_SMI_DIR", str(REPO / "tests/data/nvidia-smi/2x-rtx4090-pcie"))
    manifest = lab / "experiments/35-cloud-budget/manifest.json"
    data = json.loads(manifest.read_text())
    data["hardware_target"] = {"gpu": "RTX 4090", "count": 2}
    manifest.write_text(json.dumps(data))
    return {"checklist": lab / "checklists" / "post-start.yaml"}


# one of each kind of question: a count asked for want of the vendor CLI, money, a number of
# hours, text with a pattern, each gate
EVERY_QUESTION = [
    ("pre-flight", "no-other-instances", "step 1 of 8 (no-other-instances)", "authorized"),
    ("pre-flight", "budget-alert", "step 2 of 8 (budget-alert)", "authorized"),
    ("pre-flight", "auto-termination", "step 3 of 8 (auto-termination)", "authorized"),
    ("pre-flight", "instance-type", "step 4 of 8 (instance-type)", "authorized"),
    ("pre-flight", "termination-plan", "step 6 of 8 (termination-plan)", "authorized"),
    ("pre-flight", "gate", "the gate (step 8 of 8)", "authorized"),
    ("post-flight", "terminated", "step 1 of 4 (terminated)", "recorded"),
    ("post-flight", "actual-cost", "step 3 of 4 (actual-cost)", "recorded"),
    ("post-flight", "gate", "the gate (step 4 of 4)", "recorded"),
    ("post-start", "instance-id", "step 3 of 4 (instance-id)", "confirmed"),
    ("post-start", "gate", "the gate (step 4 of 4)", "confirmed"),
]


@pytest.mark.parametrize(
    ("checklist", "step", "where", "done"),
    EVERY_QUESTION,
    ids=[f"{c}-{s}" for c, s, _, _ in EVERY_QUESTION],
)
def test_stop_ends_the_run_the_first_time_any_question_is_asked(
    lab: Path, monkeypatch: pytest.MonkeyPatch, checklist: str, step: str, where: str, done: str
) -> None:
    answers, options = {
        "pre-flight": (CI_ANSWERS, {}),
        "post-flight": (POST_FLIGHT, post_flight_lab(lab) if checklist == "post-flight" else {}),
        "post-start": (POST_START, {}),
    }[checklist]
    if checklist == "post-start":
        options = post_start_lab(lab, monkeypatch)
    before = ledger(lab).read_bytes() if ledger(lab).exists() else None
    person = FakePerson({**answers, step: "stop"})
    with pytest.raises(Stopped) as stopped:
        go(lab, person, **options)
    assert str(stopped.value) == f"you typed stop at {where}: nothing was {done}"
    assert person.asked.count(step) == 1
    assert person.asked[-1] == step
    assert person.rejected == []  # `stop` was taken the first time, never refused
    assert (ledger(lab).read_bytes() if ledger(lab).exists() else None) == before
    record = records(lab)[-1]
    assert (record["status"], record["stopped_at_step"]) == ("not-passed", step)


def test_stop_at_the_question_whether_to_resume(lab: Path) -> None:
    with pytest.raises(EOFError):
        go(lab, FakePerson({"no-other-instances": "0", "budget-alert": "2.40"}))
    person = FakePerson({**CI_ANSWERS, "resume": "stop"})
    with pytest.raises(Stopped, match="you typed stop at the question whether to resume"):
        go(lab, person)
    assert person.asked == ["resume"]
    assert not ledger(lab).exists()


def test_the_hint_beside_every_question_says_stop_ends_the_run(lab: Path) -> None:
    with pytest.raises(EOFError):
        go(lab, FakePerson({"no-other-instances": "0"}))
    person = FakePerson({**CI_ANSWERS, "resume": "new", "budget-alert": ["2.50", "2.40"]})
    go(lab, person)
    assert set(person.hints) == {*CI_ANSWERS, "resume"}
    for step, hint in person.hints.items():
        assert hint.endswith("; stop ends the run"), (step, hint)


def test_ctrl_c_names_the_step_it_stopped_at(lab: Path) -> None:
    class CtrlC(FakePerson):
        def answer(self, step: Step, question: Question) -> tuple[str, Origin]:
            if step.id == "auto-termination":
                raise Interrupted("Ctrl-C")  # what prompts.ask raises for the key
            return super().answer(step, question)

    with pytest.raises(Interrupted) as stopped:
        go(lab, CtrlC(CI_ANSWERS))
    assert str(stopped.value) == "Ctrl-C at step 3 of 8 (auto-termination): nothing was authorized"
    assert records(lab)[-1]["reason"] == str(stopped.value)


@pytest.mark.parametrize(
    ("checklist", "word", "others"),
    [
        ("pre-flight", "authorize", ["record", "confirm"]),
        ("post-flight", "record", ["authorize", "confirm"]),
        ("post-start", "confirm", ["authorize", "record"]),
    ],
)
def test_each_gate_takes_its_own_word_and_refuses_the_others(
    lab: Path, monkeypatch: pytest.MonkeyPatch, checklist: str, word: str, others: list[str]
) -> None:
    answers, options = {
        "pre-flight": (CI_ANSWERS, {}),
        "post-flight": (POST_FLIGHT, {}),
        "post-start": (POST_START, {}),
    }[checklist]
    if checklist == "post-flight":
        options = post_flight_lab(lab)
    if checklist == "post-start":
        options = post_start_lab(lab, monkeypatch)
    person = FakePerson({**answers, "gate": [*others, word]})
    outcome = go(lab, person, **options)
    assert outcome.status == {"authorize": "authorized", "record": "recorded"}.get(  # type: ignore[attr-defined]
        word, "confirmed"
    )
    assert person.rejected == [
        ("gate", other, f"this gate takes {word}, not {other}: type the whole word {word}")
        for other in others
    ]
    assert person.hints["gate"].startswith(f"type {word}, or a step number")


def test_the_scripted_answers_files_give_each_gate_its_word() -> None:
    folder = REPO / "checklists" / "answers"
    files = sorted(folder.glob("*.yaml"))
    assert {f.name for f in files} >= {"ci.yaml", "post-flight.yaml"}
    for path in files:
        name = "pre-flight" if path.name == "ci.yaml" else path.stem
        gate = checklist_module.load(REPO / "checklists" / f"{name}.yaml").gate
        assert yaml.safe_load(path.read_text())["gate"] == WORDS[gate.action or ""], path


def test_a_post_flight_rehearses_with_its_answers_file(lab: Path) -> None:
    options = post_flight_lab(lab)
    before = ledger(lab).read_bytes()
    outcome = go(
        lab,
        FakePerson({}),
        **options,
        answers=REPO / "checklists/answers/post-flight.yaml",
        dry_run=True,
    )
    assert outcome.status == "would-record"  # type: ignore[attr-defined]
    assert ledger(lab).read_bytes() == before


def test_a_run_stopped_at_its_gate_resumes_at_the_gate(lab: Path) -> None:
    with pytest.raises(Stopped):
        go(lab, FakePerson({**CI_ANSWERS, "gate": "stop"}))
    person = FakePerson({**CI_ANSWERS, "resume": "resume"})
    outcome = go(lab, person)
    assert outcome.status == "authorized"  # type: ignore[attr-defined]
    # the instance listing is checked again (asked: no vendor CLI here); every answer is kept
    assert person.asked == ["resume", "no-other-instances", "gate"]
    assert "back at the gate, every answer kept" in person.questions["resume"]
    shown = "\n".join(person.shown)
    assert "remaining $5.00 >= needed $4.50" in shown  # headroom sensed again
    assert "-> 2.40 (kept from the interrupted run)" in shown
    first, second = records(lab)
    assert second["resumed_from"] == first["name"]
    assert json.loads(ledger(lab).read_text())["estimated"] == "3.00"
