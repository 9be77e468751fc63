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


def spawn(
    lab: Path, estimate: str = "3.00", dimensions: tuple[int, int] = (40, 200)
) -> pexpect.spawn:
    return pexpect.spawn(
        preflight(),
        ["run", "--label", "lab02-tp-spinup", "--estimate", estimate],
        cwd=str(lab),
        encoding="utf-8",
        timeout=20,
        dimensions=dimensions,
        env={
            "PATH": str(Path(sys.executable).parent),
            "TERM": "xterm",
            "HOME": str(lab / "home"),
            "PROMPT_TOOLKIT_NO_CPR": "1",  # nobody answers cursor-position requests here
        },
    )


GATE = "type authorize, or a step number"


def answer(child: pexpect.spawn, prompt: str, keys: str) -> None:
    """Type an answer and Enter; at a gate, as a hand does: the Enter after the word is on
    screen, so that it arrives in a read of its own."""
    child.expect_exact(prompt)
    if prompt != GATE:
        child.send(keys + "\r")
        return
    child.send(keys)
    child.expect_exact(keys)  # drawn: the prompt has read it
    child.send("\r")


def test_a_person_walks_the_checklist_and_is_authorized(lab: Path) -> None:
    child = spawn(lab)
    answer(child, "Type the number you see there", "0")
    answer(child, "Type the figure you set", "2.40")
    answer(child, "Type the hours configured", "4")
    answer(child, "Type the hourly price the console shows", "0.70")
    child.expect_exact("remaining $5.00 >= needed $4.50")
    answer(child, "end this instance", "runpodctl pod delete abc123")
    child.expect_exact("Gate: authorize $3.00 for lab02-tp-spinup (lab 02)")
    child.expect_exact("lab 02: $3.00 -> $0.00 of its cap $3.00")
    answer(child, GATE, "authorize")
    child.expect_exact("authorized lab02-tp-spinup $3.00; remaining $2.00 of $5.00")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    ledger = lab / "experiments/35-cloud-budget/spend.jsonl"
    assert json.loads(ledger.read_text())["estimated"] == "3.00"


def test_ctrl_c_mid_run_authorizes_nothing_and_records_where(lab: Path) -> None:
    child = spawn(lab)
    answer(child, "Type the number you see there", "0")
    answer(child, "Type the figure you set", "2.40")
    child.expect_exact("Type the hours configured")
    time.sleep(0.2)  # the prompt is drawn; let it take the keyboard before the key arrives
    data = stopped_with_nothing_spent(child, lab, "step 3 of 8 (auto-termination)")
    assert (data["status"], data["stopped_at_step"]) == ("aborted", "auto-termination")


PROMPTS = [
    ("no-other-instances", "Type the number you see there", "0"),
    ("budget-alert", "Type the figure you set", "2.40"),
    ("auto-termination", "Type the hours configured", "4"),
    ("instance-type", "Type the hourly price the console shows", "0.70"),
    ("termination-plan", "end this instance", "runpodctl pod delete abc123"),
    ("gate", GATE, "authorize"),
]

WHERE = {
    "no-other-instances": "step 1 of 8 (no-other-instances)",
    "budget-alert": "step 2 of 8 (budget-alert)",
    "auto-termination": "step 3 of 8 (auto-termination)",
    "instance-type": "step 4 of 8 (instance-type)",
    "termination-plan": "step 6 of 8 (termination-plan)",
    "gate": "the gate (step 8 of 8)",
}


def records(lab: Path) -> list[dict[str, object]]:
    folder = lab / "experiments/35-cloud-budget/preflight"
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text()) for p in paths]


def stopped_with_nothing_spent(child: pexpect.spawn, lab: Path, where: str) -> dict[str, object]:
    """Ctrl-C at the prompt on screen: one plain line naming the step, exit 130, no ledger, and
    the run's one record."""
    child.sendcontrol("c")
    child.expect_exact(f"preflight: stopped: Ctrl-C at {where}: nothing was authorized")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()
    [record] = records(lab)
    return record


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
        child.expect_exact(f"preflight: stopped: Ctrl-C at {WHERE[PROMPTS[stop][0]]}:")
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
    child.expect_exact("stopped (interrupted, ")  # the earlier run's state and time
    child.expect_exact("step 3 (auto-termination) is asked again; sensed steps are checked again")
    answer(child, "type resume or new", "resume")
    answer(child, PROMPTS[0][1], PROMPTS[0][2])  # the instance count is taken again, not kept
    child.expect_exact("-> 2.40 (kept from the interrupted run)")
    for _, prompt, keys in PROMPTS[2:]:
        answer(child, prompt, keys)
    child.expect_exact("authorized lab02-tp-spinup $3.00")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    first, second = records(lab)
    assert second["resumed_from"] is not None
    assert (first["status"], second["status"]) == ("interrupted", "authorized")
    assert "killed or crashed" in first["reason"]  # type: ignore[operator]


EVERY_ANSWER = "0\r2.40\r4\r0.70\rrunpodctl pod delete POD_ID\rauthorize\r"


def paste(child: pexpect.spawn, bracketed: bool) -> None:
    """One write of every answer, as a terminal delivers a paste (with or without brackets)."""
    time.sleep(0.2)  # the prompt is drawn; let it take the keyboard before the paste arrives
    child.send(f"\x1b[200~{EVERY_ANSWER}\x1b[201~" if bracketed else EVERY_ANSWER)
    child.expect_exact("a paste of several lines is refused")


@pytest.mark.parametrize("bracketed", [False, True], ids=["plain", "bracketed"])
@pytest.mark.parametrize("where", ["step-1", "gate"])
def test_one_paste_of_every_answer_authorizes_nothing(
    lab: Path, where: str, bracketed: bool
) -> None:
    child = spawn(lab)
    prompts = PROMPTS[:-1] if where == "gate" else []
    for _, prompt, keys in prompts:
        answer(child, prompt, keys)
    child.expect_exact(GATE if where == "gate" else "Type the number you see there")
    paste(child, bracketed)
    # the prompt still waits for its own answer; nothing was taken from the paste
    said = "the gate (step 8 of 8)" if where == "gate" else "step 1 of 8 (no-other-instances)"
    record = stopped_with_nothing_spent(child, lab, said)
    answered = [s["step"] for s in record["steps"]]  # type: ignore[union-attr,index]
    assert [s for s in answered if s in {p[0] for p in PROMPTS}] == [p[0] for p in prompts]
    assert (record["status"], record["stopped_at_step"]) == ("aborted", PROMPTS[len(prompts)][0])


def test_a_mistyped_value_is_asked_again_and_authorizes_once(lab: Path) -> None:
    child = spawn(lab)
    answer(child, "Type the number you see there", "0")
    answer(child, "Type the figure you set", "2.04")
    child.expect_exact("FAILED: you entered $2.04; it must be $2.40")
    child.expect_exact("type the value you now see, or type stop")
    answer(child, "stop ends the run", "2.40")
    answer(child, "Type the hours configured", "4h")
    child.expect_exact("'4h' is not a number: type a number of hours")
    answer(child, "stop ends the run", "6")  # the field was emptied: 6, not 4h6
    child.expect_exact("you entered 6 hours; the most allowed is 4")
    answer(child, "stop ends the run", "4")
    for _, prompt, keys in PROMPTS[3:]:
        answer(child, prompt, keys)
    child.expect_exact("authorized lab02-tp-spinup $3.00")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    ledger = (lab / "experiments/35-cloud-budget/spend.jsonl").read_text().splitlines()
    assert len(ledger) == 1
    [record] = records(lab)
    assert [r["answer"] for r in record["retries"]] == ["2.04", "6"]  # type: ignore[union-attr,index]


def test_a_superscript_digit_at_the_gate_is_refused_plainly(lab: Path) -> None:
    child = spawn(lab)
    for _, prompt, keys in PROMPTS[:-1]:
        answer(child, prompt, keys)
    answer(child, GATE, "\u00b2")
    child.expect_exact("type the whole word authorize, or a step number")
    answer(child, GATE, "stop")
    child.expect(pexpect.EOF)
    child.close()
    assert "Unhandled exception" not in (child.before or "")
    assert child.exitstatus == 1
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()


@pytest.mark.parametrize(
    ("estimate", "said"),
    [
        ("0", "the estimate is $0.00"),
        ("4.00", "remaining $5.00 < needed $6.00"),
        ("1e3", "--estimate '1e3' is not a plain decimal"),  # never $1,000 by accident
        ("1000", "remaining $5.00 < needed $1,500.00"),
    ],
)
def test_a_run_that_cannot_pass_stops_before_the_first_question(
    lab: Path, estimate: str, said: str
) -> None:
    child = spawn(lab, estimate)
    child.expect_exact(said)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus in (1, 2, 3)
    assert "Step 1 of" not in (child.before or "")
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()


def test_a_second_reservation_of_one_label_stops_before_the_first_question(lab: Path) -> None:
    from minitrain import BudgetGuard

    BudgetGuard(5, lab / "experiments/35-cloud-budget/spend.jsonl").authorize(
        "lab02-tp-spinup", "1.00"
    )
    child = spawn(lab, "1.00")
    child.expect_exact("lab02-tp-spinup already has an open reservation: $1.00 authorized")
    child.expect_exact("budget record lab02-tp-spinup USD")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    lines = (lab / "experiments/35-cloud-budget/spend.jsonl").read_text().splitlines()
    assert len(lines) == 1


def test_stdout_may_be_a_log_while_stdin_is_the_terminal(lab: Path) -> None:
    log = lab / "log.txt"
    child = pexpect.spawn(
        "/bin/sh",
        ["-c", f"{preflight()} run --label lab02-tp-spinup --estimate 3.00 | tee {log}"],
        cwd=str(lab),
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 200),
        env={"PATH": "/usr/bin:/bin", "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    for _, prompt, keys in PROMPTS:
        answer(child, prompt, keys)
    child.expect_exact("authorized lab02-tp-spinup $3.00")
    child.expect(pexpect.EOF)
    child.close()
    logged = log.read_text()
    assert "authorized lab02-tp-spinup $3.00" in logged
    assert "\x1b[" not in logged  # the prompts were drawn on the terminal, not into the log


def test_the_step_line_stays_on_screen_in_a_small_terminal(lab: Path) -> None:
    import pyte

    screen = pyte.Screen(20, 10)
    stream = pyte.Stream(screen)
    child = spawn(lab, dimensions=(10, 20))
    child.expect_exact("the run)")  # the end of the instruction, drawn last
    stream.feed(child.before + child.after)
    shown = "".join(screen.display)  # 20-column rows: a wrapped line reads on
    assert "Step 1 of 8" in shown, screen.display
    time.sleep(0.2)
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()


def test_keys_typed_before_the_first_prompt_never_answer_it(lab: Path) -> None:
    child = spawn(lab)
    child.send(EVERY_ANSWER)  # typed while the program starts: before any prompt is drawn
    child.expect_exact("Type the number you see there")
    time.sleep(0.2)
    record = stopped_with_nothing_spent(child, lab, "step 1 of 8 (no-other-instances)")
    assert [s for s in record["steps"] if s["origin"] == "person"] == []  # type: ignore[union-attr,index]
    assert record["stopped_at_step"] == "no-other-instances"


@pytest.mark.parametrize("stop", range(len(PROMPTS)), ids=[p[0] for p in PROMPTS])
def test_stop_ends_the_run_the_first_time_at_every_prompt(lab: Path, stop: int) -> None:
    """Issue 23: `stop` was refused at a number (`'stop' is not a number ...`) and at a pattern
    (`that does not look right ...`) until an answer had failed once."""
    child = spawn(lab)
    for _, prompt, keys in PROMPTS[:stop]:
        answer(child, prompt, keys)
    child.expect_exact(PROMPTS[stop][1])
    child.expect_exact("stop ends the run)")  # the hint beside the question says so
    child.send("stop\r")
    child.expect_exact(f"preflight: stopped: you typed stop at {WHERE[PROMPTS[stop][0]]}:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()
    [record] = records(lab)
    assert (record["status"], record["stopped_at_step"]) == ("not-passed", PROMPTS[stop][0])
    assert record["retries"] == []


@pytest.mark.parametrize("enter", ["\r", "\n"], ids=["cr", "lf"])
def test_the_gate_word_and_its_enter_in_one_write_authorize_nothing(lab: Path, enter: str) -> None:
    """Issue 23: one write of b"authorize\\r" (tmux `send-keys $'authorize\\n'`, a one-line
    paste) authorized $1.00. The gate says why, empties the field and asks again."""
    child = spawn(lab)
    for _, prompt, keys in PROMPTS[:-1]:
        answer(child, prompt, keys)
    child.expect_exact(GATE)
    time.sleep(0.2)  # the prompt is drawn; let it take the keyboard before the write arrives
    child.send(f"authorize{enter}")  # one os.write to the pty
    child.expect_exact("the Enter arrived together with the keys before it")
    assert not (lab / "experiments/35-cloud-budget/spend.jsonl").exists()
    child.send("authorize")  # typed: the Enter comes after the word is on screen
    child.expect_exact("authorize")
    child.send("\r")
    child.expect_exact("authorized lab02-tp-spinup $3.00")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    lines = (lab / "experiments/35-cloud-budget/spend.jsonl").read_text().splitlines()
    assert len(lines) == 1


class Screen:
    """What a person sees: the program's output drawn on a pyte screen of the pty's size."""

    def __init__(self, child: pexpect.spawn, rows: int, columns: int) -> None:
        import pyte

        self.child, self.columns = child, columns
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)

    def text(self) -> str:
        """The screen read on across wrapped lines, runs of spaces as one."""
        joined = "".join(row.ljust(self.columns) for row in self.screen.display)
        return " ".join(joined.split())

    def until(self, shown: str) -> str:
        """Read the output until ``shown`` is on screen (a generous timeout catches a hang)."""
        deadline = time.monotonic() + 20
        while shown not in self.text():
            if time.monotonic() > deadline:
                pytest.fail(f"never on screen: {shown!r}; the screen: {self.screen.display}")
            try:
                self.stream.feed(self.child.read_nonblocking(4096, timeout=0.5))
            except pexpect.TIMEOUT:
                continue
        return self.text()


def test_a_refused_answer_is_shown_in_full_above_an_empty_field(lab: Path) -> None:
    """Issue 23: the reason sat in the bottom bar, cut at the window's width ('ten' is not a
    numbe), and the refused text stayed in the field, the next try appended to it."""
    child = spawn(lab, dimensions=(24, 40))
    screen = Screen(child, 24, 40)
    screen.until("stop ends the run)")
    time.sleep(0.2)  # the prompt is drawn; let it take the keyboard before the keys arrive
    child.send("ten\r")
    reason = "'ten' is not a number: type a number of instances, in digits only"
    shown = screen.until(reason)  # in full, though wider than the window
    shown = screen.until(f"{reason} ? How many instances")  # the question drawn again below
    assert shown.endswith("stop ends the run)"), screen.screen.display  # the field is empty
    child.send("0\r")
    screen.until("Type the figure you set")  # 0 passed: not "ten0"
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()


def test_a_run_stopped_at_the_gate_resumes_at_the_gate(lab: Path) -> None:
    """Issue 23: resuming a run stopped at its gate went back to step 1's answers one by one."""
    child = spawn(lab)
    for _, prompt, keys in PROMPTS[:-1]:
        answer(child, prompt, keys)
    child.expect_exact(GATE)
    time.sleep(0.2)  # the prompt is drawn; let it take the keyboard before the key arrives
    stopped_with_nothing_spent(child, lab, "the gate (step 8 of 8)")
    child = spawn(lab)
    child.expect_exact("back at the gate, every answer kept; sensed steps are checked again")
    answer(child, "type resume or new", "resume")
    answer(child, PROMPTS[0][1], PROMPTS[0][2])  # the instance count is taken again, not kept
    child.expect_exact("-> 2.40 (kept from the interrupted run)")  # asked nothing else
    child.expect_exact("Review: every answer")
    answer(child, GATE, "authorize")
    child.expect_exact("authorized lab02-tp-spinup $3.00")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    first, second = records(lab)
    assert (first["status"], second["status"]) == ("aborted", "authorized")
    assert second["resumed_from"] is not None
