"""End to end: the installed `preflight` command under a pseudo-terminal, typing real keys."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.usefixtures("file_mode")


def preflight() -> str:
    beside = Path(sys.executable).parent / "preflight"
    found = str(beside) if beside.exists() else shutil.which("preflight")
    if found is None:
        pytest.fail("the `preflight` console script is not installed; pip install the project")
    return found


def spawn(lab: Path) -> pexpect.spawn:
    return pexpect.spawn(
        preflight(),
        ["run", "--label", "lab02-tp-spinup", "--estimate", "3.00"],
        cwd=str(lab),
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 200),
        env={
            "PATH": str(Path(sys.executable).parent),
            "TERM": "xterm",
            "HOME": str(lab / "home"),
            "PROMPT_TOOLKIT_NO_CPR": "1",  # nobody answers cursor-position requests here
        },
    )


def answer(child: pexpect.spawn, prompt: str, keys: str) -> None:
    child.expect_exact(prompt)
    child.send(keys + "\r")


def test_a_person_walks_the_checklist_and_is_authorized(lab: Path) -> None:
    child = spawn(lab)
    answer(child, "Step 1 of 8", "yes")
    answer(child, "Type the figure you set", "2.40")
    answer(child, "Type the hours configured", "4")
    answer(child, "Type the hourly price the console shows", "0.70")
    child.expect_exact("remaining $5.00 >= needed $4.50")
    answer(child, "end this instance", "runpodctl pod delete abc123")
    child.expect_exact("Gate: authorize $3.00 for lab02-tp-spinup (lab 02)")
    answer(child, "Step 8 of 8", "authorize")
    child.expect_exact("authorized lab02-tp-spinup $3.00; remaining $2.00 of $5.00")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    assert json.loads(ledger.read_text())["estimated"] == "3.00"


def test_ctrl_c_mid_run_authorizes_nothing_and_records_where(lab: Path) -> None:
    child = spawn(lab)
    answer(child, "Step 1 of 8", "yes")
    answer(child, "Type the figure you set", "2.40")
    child.expect_exact("Type the hours configured")
    child.sendcontrol("c")
    child.expect_exact("preflight: error: stopped at the prompt")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()
    [record] = (lab / "experiments/35-cloud-budget/preflight").glob("*.json")
    data = json.loads(record.read_text())
    assert (data["status"], data["stopped_at_step"]) == ("aborted", "auto-termination")
