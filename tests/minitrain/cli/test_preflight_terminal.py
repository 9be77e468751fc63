"""End to end: the installed `preflight` command under a pseudo-terminal, typing real keys."""

from __future__ import annotations

import json
import shutil
import sys
import time
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
    time.sleep(0.2)  # the prompt is drawn; let it take the keyboard before the key arrives
    child.sendcontrol("c")
    child.expect_exact("preflight: error: stopped at the prompt")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()
    [record] = (lab / "experiments/35-cloud-budget/preflight").glob("*.json")
    data = json.loads(record.read_text())
    assert (data["status"], data["stopped_at_step"]) == ("aborted", "auto-termination")


PROMPTS = [
    ("no-other-instances", "(type yes or no)", "yes"),
    ("budget-alert", "Type the figure you set", "2.40"),
    ("auto-termination", "Type the hours configured", "4"),
    ("instance-type", "Type the hourly price the console shows", "0.70"),
    ("termination-plan", "end this instance", "runpodctl pod delete abc123"),
    ("gate", "(type authorize", "authorize"),
]


def records(lab: Path) -> list[dict[str, object]]:
    folder = lab / "experiments/35-cloud-budget/preflight"
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text()) for p in paths]


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill"])
@pytest.mark.parametrize("stop", range(len(PROMPTS)), ids=[p[0] for p in PROMPTS])
def test_stopped_at_any_step_spends_nothing_and_says_where(lab: Path, stop: int, how: str) -> None:
    child = spawn(lab)
    for _, prompt, keys in PROMPTS[:stop]:
        answer(child, prompt, keys)
    child.expect_exact(PROMPTS[stop][1])
    time.sleep(0.2)  # the prompt is drawn; let it take the keyboard before the key arrives
    if how == "ctrl-c":
        child.sendcontrol("c")
    else:
        child.kill(9)
    child.expect(pexpect.EOF)
    child.close()
    if how == "ctrl-c":
        assert child.exitstatus == 130
    else:
        assert child.signalstatus == 9
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()
    [record] = records(lab)
    asked = {p[0] for p in PROMPTS}
    answered = [s["step"] for s in record["steps"] if s["step"] in asked]  # type: ignore[union-attr,index]
    assert answered == [p[0] for p in PROMPTS[:stop]]
    if how == "ctrl-c":
        assert (record["status"], record["stopped_at_step"]) == ("aborted", PROMPTS[stop][0])
    else:
        assert record["status"] == "running"  # killed: the record shows how far it got


def test_resume_after_a_kill_asks_the_last_step_again_and_authorizes(lab: Path) -> None:
    child = spawn(lab)
    for _, prompt, keys in PROMPTS[:3]:
        answer(child, prompt, keys)
    child.expect_exact(PROMPTS[3][1])
    child.kill(9)
    child.close()
    child = spawn(lab)
    answer(child, "type resume or new", "resume")
    child.expect_exact("-> yes (kept from the interrupted run)")
    child.expect_exact("-> 2.40 (kept from the interrupted run)")
    for _, prompt, keys in PROMPTS[2:]:
        answer(child, prompt, keys)
    child.expect_exact("authorized lab02-tp-spinup $3.00")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    first, second = records(lab)
    assert second["resumed_from"] is not None
    assert (first["status"], second["status"]) == ("running", "authorized")
