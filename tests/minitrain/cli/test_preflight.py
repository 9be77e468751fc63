"""`preflight` as CI and a person use it: exit codes, one-line errors, the ledger untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.cli.preflight import main
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("file_mode")
DRY = ["run", "--label", "lab02-tp-spinup", "--estimate", "3.00", "--dry-run"]


def spend(lab: Path) -> Path:
    return lab / "experiments" / "35-cloud-budget" / "spend.jsonl"


def answers(lab: Path, text: str) -> str:
    path = lab / "answers.yaml"
    path.write_text(text)
    return str(path)


def test_ci_dry_run_passes_without_touching_the_ledger(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    BudgetGuard(5, spend(lab)).authorize("setup", "0.10")
    before = spend(lab).read_bytes()
    assert main([*DRY, "--answers", "checklists/answers/ci.yaml"]) == 0
    out = capsys.readouterr().out
    assert "dry run: would authorize lab02-tp-spinup $3.00; remaining $1.90 of $5.00" in out
    assert spend(lab).read_bytes() == before


def test_dry_run_exits_nonzero_when_a_live_run_would_be_refused(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    BudgetGuard(5, spend(lab)).authorize("lab02-warmup", "2.50")
    code = main([*DRY[:4], "1.00", "--dry-run", "--answers", "checklists/answers/ci.yaml"])
    assert code == 3
    assert "would exceed the lab 02 cap $3.00" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("no-other-instances: yes\n", 2, "no answer for step 'budget-alert'"),
        ("surprise: yes\n", 2, "answers.yaml:1: unknown step 'surprise'"),
        ("headroom: yes\n", 2, "answers.yaml:1: step 'headroom' is sensed by the runner"),
        ("[1, 2]\n", 2, "answers.yaml: an answers file is a mapping of step id to answer"),
        ("a: [\n", 2, "answers.yaml:2: not valid YAML"),
    ],
)
def test_bad_answers_files_name_the_problem(
    lab: Path, capsys: pytest.CaptureFixture[str], text: str, code: int, message: str
) -> None:
    assert main([*DRY, "--answers", answers(lab, text)]) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not spend(lab).exists()


def test_a_malformed_scripted_answer_is_bad_input_with_its_line(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        (REPO / "checklists/answers/ci.yaml")
        .read_text()
        .replace("budget-alert: 2.40", "budget-alert: lots")
    )
    assert main([*DRY, "--answers", answers(lab, text)]) == 2
    assert (
        "answers.yaml:5: the answer 'lots' to step 'budget-alert' is not accepted"
        in capsys.readouterr().err
    )


def test_a_failing_scripted_answer_is_not_passed(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        (REPO / "checklists/answers/ci.yaml")
        .read_text()
        .replace("no-other-instances: 0", "no-other-instances: 2")
    )
    assert main([*DRY, "--answers", answers(lab, text)]) == 1
    assert "step 1 (no-other-instances) did not pass" in capsys.readouterr().err


def test_live_run_refuses_scripted_answers_for_person_steps(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = [a for a in DRY if a != "--dry-run"]
    assert main([*live, "--answers", "checklists/answers/ci.yaml"]) == 2
    assert "must be answered by a person in a live run" in capsys.readouterr().err
    assert not spend(lab).exists()


def test_no_terminal_is_refused_with_a_hint(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = [a for a in DRY if a != "--dry-run"]
    assert main(live) == 2  # pytest's stdin is not a terminal
    assert "no terminal" in capsys.readouterr().err
    assert not spend(lab).exists()


def test_piped_yes_authorizes_nothing(lab: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "minitrain",
            "preflight",
            "run",
            "--label",
            "lab02-tp-spinup",
            "--estimate",
            "3.00",
        ],
        input="yes\n" * 50,
        capture_output=True,
        text=True,
        cwd=lab,
        check=False,
    )
    assert done.returncode == 2
    assert "piped input never answers a checklist" in done.stderr
    assert not spend(lab).exists()
    [record] = (lab / "experiments/35-cloud-budget/preflight").glob("*.json")
    data = json.loads(record.read_text())
    assert (data["status"], data["steps"]) == ("error", [])
    assert "no terminal" in data["reason"]


def test_lint_and_render(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "checklists/pre-flight.yaml"]) == 0
    assert main(["render", "checklists/pre-flight.yaml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("checklists/pre-flight.yaml: ok\n# Before every cloud GPU spin-up\n")


def test_the_lab_document_is_the_rendered_checklist(capsys: pytest.CaptureFixture[str]) -> None:
    names = ["pre-flight", "post-start", "post-flight"]
    main(["render", *(str(REPO / "checklists" / f"{name}.yaml") for name in names)])
    rendered = capsys.readouterr().out
    committed = (REPO / "experiments/35-cloud-budget/pre-flight-checklist.md").read_text()
    assert committed == rendered, (
        "run: preflight render checklists/pre-flight.yaml checklists/post-start.yaml"
        " checklists/post-flight.yaml > experiments/35-cloud-budget/pre-flight-checklist.md"
    )


def test_stop_is_the_persons_decision_not_an_error(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        (REPO / "checklists/answers/ci.yaml").read_text().replace("gate: authorize", "gate: stop")
    )
    assert main([*DRY, "--answers", answers(lab, text)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "preflight: stopped: the answers file says stop at the gate (step 8 of 8):"
        " nothing was authorized\n"
    )
