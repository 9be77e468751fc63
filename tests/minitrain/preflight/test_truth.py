"""Steps that tell the truth (issue 23): the post-flight senses the vendor listing as the
pre-flight does, the post-start's hardware check says what it can know, and the wording seen in
a real run says what is meant."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.errors import NotPassed
from tests.conftest import REPO
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson, go, ledger, records

pytestmark = pytest.mark.usefixtures("file_mode")
FAKE_BIN = REPO / "tests" / "data" / "fake-bin"
POD = {"id": "pod0001", "name": "lab02", "desiredStatus": "RUNNING", "costPerHr": 0.7}


@pytest.fixture
def post_flight(lab: Path) -> Path:
    """An open reservation and the screenshot: what a post-flight needs to ask anything."""
    BudgetGuard(5, ledger(lab)).authorize("lab02-tp-spinup", "3.00")
    proof = lab / "experiments" / "35-tp-inference" / "proof-terminated.png"
    proof.parent.mkdir(parents=True)
    proof.write_bytes(b"\x89PNG")
    return lab / "checklists" / "post-flight.yaml"


def runpod_lists(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *pods: object) -> None:
    """tests/data/fake-bin/runpodctl copies `runpodctl pod list --all`'s output."""
    state = tmp_path / "cloud.json"
    state.write_text(json.dumps({"runpod": list(pods)}))
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VENDOR_STATE", str(state))


def test_the_post_flight_senses_a_running_pod_and_records_nothing(
    lab: Path, post_flight: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23: the post-flight accepted `yes` to "no instance of yours" while `runpodctl pod
    list --all` listed a RUNNING pod."""
    runpod_lists(monkeypatch, tmp_path, POD)
    before = ledger(lab).read_bytes()
    person = FakePerson({"terminated": "yes", "actual-cost": "2.47", "gate": "record"})
    with pytest.raises(NotPassed) as stopped:
        go(lab, person, checklist=post_flight)
    said = str(stopped.value)
    assert "nothing was asked: step 1 (terminated): `runpodctl` lists 1 instance(s)" in said
    assert "pod0001" in said
    assert person.asked == []
    assert ledger(lab).read_bytes() == before


def test_the_post_flight_takes_an_empty_listing_from_the_vendor_not_the_person(
    lab: Path, post_flight: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runpod_lists(monkeypatch, tmp_path)
    person = FakePerson({"actual-cost": "2.47", "gate": "record"})
    outcome = go(lab, person, checklist=post_flight)
    assert outcome.status == "recorded"  # type: ignore[attr-defined]
    assert person.asked == ["actual-cost", "gate"]
    steps = {s["step"]: s for s in records(lab)[-1]["steps"]}  # type: ignore[union-attr]
    assert steps["terminated"]["origin"] == "sensed"


def test_without_the_vendor_cli_the_post_flight_asks_for_the_count_not_a_yes(
    lab: Path, post_flight: Path
) -> None:
    person = FakePerson({"terminated": ["yes", "0"], "actual-cost": "2.47", "gate": "record"})
    assert go(lab, person, checklist=post_flight).status == "recorded"  # type: ignore[attr-defined]
    assert [r[:2] for r in person.rejected] == [("terminated", "yes")]
    assert "Type the number you see there" in person.questions["terminated"]


@pytest.fixture
def post_start(lab: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real manifest, whose hardware_target is still "to be filled in lab 02"."""
    manifest = json.loads((lab / "experiments/35-cloud-budget/manifest.json").read_text())
    assert manifest["hardware_target"] == "to be filled in lab 02"
    return lab / "checklists" / "post-start.yaml"


def test_an_unfilled_hardware_target_reports_what_was_found_and_passes(
    lab: Path, post_start: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23: it said "terminate the instance now ... then rent the right one" about the
    very GPUs the survey chose."""
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NVIDIA_SMI_DIR", str(REPO / "tests/data/nvidia-smi/2x-rtx4090-pcie"))
    person = FakePerson({"instance-id": "pod-abc123", "gate": "confirm"})
    outcome = go(lab, person, checklist=post_start)
    assert outcome.status == "confirmed"  # type: ignore[attr-defined]
    shown = "\n".join(person.shown)
    assert "ok: found 2x NVIDIA GeForce RTX 4090" in shown
    assert "hardware_target is not filled in yet" in shown
    assert "terminate the instance" not in shown
    steps = {s["step"]: s for s in records(lab)[-1]["steps"]}  # type: ignore[union-attr]
    assert steps["hardware"]["answer"].startswith("2x NVIDIA GeForce RTX 4090")


def test_without_nvidia_smi_the_post_start_says_to_run_it_on_the_instance(
    lab: Path, post_start: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 23: on a laptop without nvidia-smi it told the person to terminate the instance."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    with pytest.raises(NotPassed) as stopped:
        go(lab, FakePerson({}), checklist=post_start)
    said = str(stopped.value)
    assert "nvidia-smi is not installed here" in said
    assert "in a shell on the instance" in said
    assert "preflight run --checklist checklists/post-start.yaml" in said
    assert "terminate the instance" not in said


def test_a_text_that_does_not_match_is_refused_in_words_not_a_regular_expression(
    lab: Path,
) -> None:
    person = FakePerson({**CI_ANSWERS, "termination-plan": ["delete", "runpodctl pod delete x"]})
    go(lab, person, dry_run=True)
    [(step, typed, reason)] = person.rejected
    assert (step, typed) == ("termination-plan", "delete")
    assert reason == (
        "too short to end an instance: type the whole command or console action"
        " (8 characters or more)"
    )


def test_an_hours_value_below_the_least_is_told_the_range(lab: Path) -> None:
    """Issue 23: "the least allowed is 0.25. Fix it (set auto-termination to 4 hours or less)"."""
    person = FakePerson({**CI_ANSWERS, "auto-termination": ["0.1", "4"]})
    go(lab, person, dry_run=True)
    assert (
        "  FAILED: you entered 0.1 hours; the least allowed is 0.25 hours. Fix it (set"
        " auto-termination to at least 0.25 and at most 4 hours), then type the value you now"
        " see, or type stop"
    ) in person.shown


@pytest.mark.parametrize(
    ("label", "said"),
    [
        ("lab02-tp-spinup", "(80% of $3.00, the cap of lab 02)"),
        ("spare-run", "(80% of $2.00, the cap of the buffer)"),
    ],
)
def test_the_budget_alert_names_its_cap_in_plain_words(lab: Path, label: str, said: str) -> None:
    """Issue 23: "80% of the the buffer cap"."""
    person = FakePerson({**CI_ANSWERS, "budget-alert": "stop"})
    with pytest.raises(NotPassed):
        go(lab, person, label=label, estimate="1.00")
    assert said in person.questions["budget-alert"]
    assert "the the" not in person.questions["budget-alert"]


def test_a_second_actual_is_told_to_record_under_a_new_label(lab: Path, post_flight: Path) -> None:
    """Issue 23: "entry it under a new label" (a rename's slip); fixed with issue 21's rework."""
    BudgetGuard(5, ledger(lab)).record_actual("lab02-tp-spinup", "2.47")
    person = FakePerson({"terminated": "0", "actual-cost": "2.47", "gate": "record"})
    with pytest.raises(NotPassed) as stopped:
        go(lab, person, checklist=post_flight)
    assert "If this is another spend, record it under a new label" in str(stopped.value)
