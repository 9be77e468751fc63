"""A SIGKILL at every write of the gate, then a rerun: exactly one reservation (or actual), and a
record that tells the truth. The run is a child process whose own ``os.replace`` (every record
save), ``os.write`` (the ledger line) and ``os.pwrite`` (its mark) kill it before or after the
k-th write once the gate is answered: no hook in the code under test."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.errors import PreflightError
from minitrain.preflight.session import Options, run_checklist
from tests.minitrain.preflight.conftest import CI_ANSWERS, FakePerson

pytestmark = pytest.mark.usefixtures("file_mode")

REPO = Path(__file__).resolve().parents[3]
POST = {"terminated": "0", "actual-cost": "2.47", "gate": "record"}
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from minitrain.preflight.session import Options, run_checklist
    from tests.minitrain.preflight.conftest import FakePerson

    kill_at, when, checklist = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    writes = -1  # counting starts once the gate is answered

    class Person(FakePerson):
        def answer(self, step, question):
            global writes
            if step.id == "gate":
                writes = 0
            return super().answer(step, question)

    def killing(real):
        def call(*args, **kwargs):
            global writes
            if writes >= 0:
                writes += 1
                if writes == kill_at and when == "before":
                    os.kill(os.getpid(), signal.SIGKILL)
            result = real(*args, **kwargs)
            if writes == kill_at and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return call

    os.replace = killing(os.replace)
    os.write = killing(os.write)
    os.pwrite = killing(os.pwrite)  # the ledger's high-water mark
    answers = {answers}
    options = Options("lab02-tp-spinup", "3.00", checklist=Path(checklist) if checklist else None)
    run_checklist(options, terminal=Person(answers))
    print("writes:", writes)
    """
)


def ledger_lines(lab: Path) -> list[dict[str, object]]:
    path = lab / "experiments/35-cloud-budget/spend.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def child(lab: Path, kill_at: int, when: str, checklist: str, answers: dict[str, str]) -> int:
    script = lab / "child.py"
    script.write_text(CHILD.format(repo=str(REPO), answers=answers))
    ran = subprocess.run(
        [sys.executable, str(script), str(kill_at), when, checklist],
        cwd=lab,
        capture_output=True,
        text=True,
        check=False,
    )
    if ran.returncode == 0:
        return int(ran.stdout.rsplit("writes:", 1)[1])
    assert ran.returncode == -9, ran.stderr  # killed where asked, not failed on its own
    return -1


def gate_writes(lab: Path, checklist: str, answers: dict[str, str]) -> int:
    """How many writes a whole gate makes (a run killed nowhere), on a fresh copy of the lab."""
    return child(lab, 0, "never", checklist, answers)


def rerun(lab: Path, checklist: Path | None, answers: dict[str, str]) -> str:
    person = FakePerson({**answers, "resume": "resume"})
    try:
        outcome = run_checklist(
            Options("lab02-tp-spinup", "3.00", checklist=checklist), terminal=person
        )
    except PreflightError as exc:
        return str(exc)
    return outcome.message


# the gate's step saved, the op id saved, the ledger line, the ledger's key (made by its first
# write) and its high-water mark (ledger/mark.py), the finish
WRITES = range(1, 7)
# the post-flight gate writes to a ledger that has a key already: one write fewer
POST_WRITES = range(1, 6)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("kill_at", WRITES)
def test_a_kill_at_any_write_of_the_gate_then_a_rerun_reserves_exactly_once(
    lab: Path, kill_at: int, when: str
) -> None:
    answers = {**CI_ANSWERS}
    assert child(lab, kill_at, when, "", answers) == -1
    assert len(ledger_lines(lab)) <= 1  # one reservation or none, whatever the moment
    said = rerun(lab, None, answers)
    [line] = ledger_lines(lab)
    assert line["kind"] == "authorize"
    folder = lab / "experiments/35-cloud-budget/preflight"
    records = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    [authorized] = [r for r in records if r["status"] == "authorized"]
    assert authorized["gate"]["op_id"] == line["id"]  # the record names the line it wrote
    assert not [r for r in records if r["status"] == "running"]  # no run left "running"
    if kill_at == WRITES[-1] and when == "after":  # it had finished: the rerun says what is open
        assert "already has an open reservation: $3.00 authorized" in said
        assert line["id"] in said
    else:
        assert "lab02-tp-spinup" in said


def test_the_gate_makes_the_writes_the_kill_test_counts(lab: Path) -> None:
    assert gate_writes(lab, "", {**CI_ANSWERS}) == len(WRITES)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("kill_at", POST_WRITES)
def test_a_kill_at_any_write_of_the_post_flight_gate_records_the_actual_once(
    lab: Path, kill_at: int, when: str
) -> None:
    BudgetGuard(5, lab / "experiments/35-cloud-budget/spend.jsonl").authorize(
        "lab02-tp-spinup", "3.00"
    )
    proof = lab / "experiments" / "35-tp-inference" / "proof-terminated.png"
    proof.parent.mkdir(parents=True)
    proof.write_bytes(b"\x89PNG")
    checklist = lab / "checklists" / "post-flight.yaml"
    assert child(lab, kill_at, when, str(checklist), POST) == -1
    said = rerun(lab, checklist, POST)
    if kill_at == POST_WRITES[-1] and when == "after":  # it had finished: the rerun says so
        assert "nothing to record: the actual of 'lab02-tp-spinup' was already recorded" in said
    actuals = [line for line in ledger_lines(lab) if line["kind"] == "actual"]
    assert [a["actual"] for a in actuals] == ["2.47"]
    folder = lab / "experiments/35-cloud-budget/preflight"
    records = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    assert [r["status"] for r in records].count("recorded") == 1
    assert not [r for r in records if r["status"] == "running"]
