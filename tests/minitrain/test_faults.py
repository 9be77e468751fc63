"""Faults: racing writers, writers killed mid-write. Short in CI; `pytest --stress` runs long.

Every test here asserts the promise it is named after in docs/guarantees.md.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, BudgetGuardExceeded
from minitrain.ledger import entries, jsonl, line_format
from tests.conftest import REPO
from tests.racing import race

pytestmark = pytest.mark.usefixtures("file_mode")


def test_racing_writers_never_breach_a_lab_cap(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.jsonl"
    caps = {"02": "0.50", "buffer": "4.50"}
    won = race(lambda: BudgetGuard("5.00", ledger, lab_caps=caps), procs=6, tries=15)
    assert won == 50
    guard = BudgetGuard(5, ledger, lab_caps={"02": "0.50", "buffer": "4.50"})
    assert guard.status().lab_spent("02") == Decimal("0.50")


@pytest.mark.stress
def test_stress_16_writers_200_tries_each_stop_at_exactly_the_ceiling(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.jsonl"
    assert race(lambda: BudgetGuard("5.00", ledger), procs=16, tries=200) == 500
    assert BudgetGuard("5.00", ledger).total_spent == Decimal("5.00")


WRITER = """
import sys
from minitrain import BudgetGuard, BudgetGuardExceeded
guard = BudgetGuard("100000", sys.argv[1])
start = int(sys.argv[2])
for i in range(start, start + 100000):
    guard.authorize(f"kill-{i}", "0.01")
    print(i, flush=True)  # only after authorize returned
"""


def kill_loop(ledger: Path, iterations: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    returned: set[str] = set()
    seen = {"torn": 0, "kept": 0}
    for n in range(iterations):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(ledger), str(n * 100000)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        returned |= {f"kill-{i}" for i in out.split()}
        snapshot = jsonl.JsonlLedger(ledger).read(full=True)
        labels = {r.op_label for r in snapshot.entries or ()}
        assert returned <= labels, "an authorization that returned is missing"
        assert all(p.torn for p in snapshot.problems), "a complete line is corrupt"
        if snapshot.problems:
            [torn] = snapshot.problems
            assert torn.line == snapshot.lines
            before = ledger.read_bytes()
            _, kept, _ = jsonl.JsonlLedger(ledger).repair(reason="killed mid-write")
            assert ledger.read_bytes().startswith(before)
            seen["kept" if kept else "torn"] += 1
        after = jsonl.JsonlLedger(ledger).read(full=True)
        assert not after.problems
        assert after.totals.spent == Decimal("0.01") * len(after.entries or ())
    return seen


def test_writers_killed_at_random_moments_lose_nothing_that_returned(tmp_path: Path) -> None:
    kill_loop(tmp_path / "spend.jsonl", iterations=12, seed=1)


@pytest.mark.stress
def test_stress_200_kills(tmp_path: Path) -> None:
    seen = kill_loop(tmp_path / "spend.jsonl", iterations=200, seed=2)
    print(f"torn tails voided: {seen['torn']}, kept (only the newline missing): {seen['kept']}")


KILLED_BEFORE_FSYNC = """
import fcntl, os, sys
from minitrain import BudgetGuard, BudgetGuardExceeded

def die(fd):  # the fsync of the appended line: say whether the lock is free, then die
    lock = os.open(sys.argv[1] + ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the lock were still held
    print("unlocked before fsync", flush=True)
    os.kill(os.getpid(), 9)

os.fsync = die
BudgetGuard("100000", sys.argv[1]).authorize("killed-before-fsync", "1.00")
print("returned", flush=True)
"""


def test_a_writer_killed_after_append_and_unlock_before_fsync_never_returned_and_counts(
    tmp_path: Path,
) -> None:
    """The fsync comes after the unlock: other writers may count a line not yet on disk (more
    spent than may survive a power cut: the safe side), and its writer reports nothing first."""
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard("100000", ledger).authorize("first", "0.50")
    child = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_FSYNC, str(ledger)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL
    assert child.stdout.splitlines() == ["unlocked before fsync"]  # it never returned
    after = BudgetGuard("100000", ledger)
    assert after.total_spent == Decimal("1.50")  # its line counts for everyone else
    after.authorize("next", "0.25")  # and nobody waits for it
    assert after.total_spent == Decimal("1.75")


def test_a_torn_line_of_any_length_is_found_and_repaired_by_appending(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard(5, ledger).authorize("a", "1.00")
    line = line_format.encode(entries.new_entry("authorize", "b", estimated=Decimal("1.00")))
    for cut in range(1, len(line)):
        path = tmp_path / f"cut-{cut}.jsonl"
        path.write_bytes(ledger.read_bytes() + line[:cut])
        with pytest.raises(jsonl.LedgerError, match=r"cut-\d+\.jsonl:2: torn last line"):
            BudgetGuard(5, path).authorize("c", "0.01")
        jsonl.JsonlLedger(path).repair(reason="torn")
        guard = BudgetGuard(5, path)
        expected = Decimal("2.00") if cut == len(line) - 1 else Decimal("1.00")
        assert guard.total_spent == expected, cut


# --- one file, however it is named, takes one lock ---------------------------------------------


def test_racing_through_a_symlink_and_the_real_path_never_overspends(tmp_path: Path) -> None:
    """The issue's reproduction: ``d/link.jsonl -> real/spend.jsonl``; half the writers use each
    name. Two lock files let both sides spend the last dollar (11 of 40 trials overspent)."""
    real = tmp_path / "real" / "spend.jsonl"
    real.parent.mkdir()
    link = tmp_path / "d" / "link.jsonl"
    link.parent.mkdir()
    link.symlink_to(real)
    names = iter([real, link] * 4)
    won = race(lambda: BudgetGuard("0.50", next(names)), procs=8, tries=15)
    assert won == 50
    assert BudgetGuard("0.50", real).total_spent == Decimal("0.50")
    assert jsonl.JsonlLedger(link).lock_path == jsonl.JsonlLedger(real).lock_path


def hard_link_race(tmp_path: Path, racers: int) -> int:
    """The issue's reproduction: one ledger padded with 4,000 lines under three hard links (a
    lock file each, named from three real paths); ``racers`` processes, a third through each
    name, all at once authorize $3.00 against lab 02's $3.00 cap. Returns how many won."""
    import multiprocessing

    first = tmp_path / "a" / "spend.jsonl"
    names = [first, tmp_path / "b" / "spend.jsonl", tmp_path / "c" / "spend.jsonl"]
    for name in names:
        name.parent.mkdir(parents=True)
    pad = (
        entries.new_entry("authorize", f"pad-{i}", estimated=Decimal("0.00")) for i in range(4000)
    )
    first.write_bytes(b"".join(line_format.encode(entry) for entry in pad))
    for name in names[1:]:
        os.link(first, name)
    ctx = multiprocessing.get_context("fork")
    start, won = ctx.Barrier(racers), ctx.Queue()

    def racer(number: int) -> None:
        guard = BudgetGuard("5.00", names[number % 3], lab_caps=CAPS)
        start.wait()
        try:
            guard.authorize(f"lab02-race-{number}", "3.00")
            won.put(1)
        except BudgetGuardExceeded:
            won.put(0)

    workers = [ctx.Process(target=racer, args=(n,)) for n in range(racers)]
    for process in workers:
        process.start()
    granted = sum(won.get(timeout=600) for _ in workers)
    for process in workers:
        process.join()
    assert BudgetGuard("5.00", first, lab_caps=CAPS).status().lab_spent("02") == Decimal(
        "3.00"
    ) * Decimal(granted)
    return granted


def test_racing_through_three_hard_links_grants_the_cap_once(tmp_path: Path) -> None:
    assert hard_link_race(tmp_path, racers=12) == 1


@pytest.mark.stress
def test_stress_48_racers_through_three_hard_links_grant_the_cap_once(tmp_path: Path) -> None:
    for round_ in range(5):
        assert hard_link_race(tmp_path / str(round_), racers=48) == 1, f"round {round_}"


# --- every file problem is one plain line and exit 4, never a traceback or a hang -----------------


def budget_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from minitrain.cli.budget import main

    code = main(argv)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("command", [["status"], ["authorize", "x", "0.01"], ["verify"]])
@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.mkdir(), "the ledger is a folder, not a regular file"),
        (lambda p: p.symlink_to("/dev/null"), "the ledger is a character device"),
        (os.mkfifo, "the ledger is a FIFO (named pipe), not a regular file"),
    ],
    ids=["folder", "dev-null", "fifo"],
)
def test_a_ledger_that_is_not_a_regular_file_is_refused_without_blocking(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    make: Callable[[Path], None],
    says: str,
) -> None:
    ledger = tmp_path / "spend.jsonl"
    make(ledger)
    code, err = budget_line([*command, "--ledger", str(ledger), "--ceiling", "5"], capsys)
    assert code == 4
    assert f"{ledger}: {says}" in err


def test_a_fifo_ledger_in_test_mode_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BUDGET_GUARD_TEST_MODE", "1")
    os.mkfifo(tmp_path / "spend.jsonl")
    code, err = budget_line(
        ["status", "--ledger", str(tmp_path / "spend.jsonl"), "--ceiling", "5"], capsys
    )
    assert code == 4
    assert "FIFO" in err


def test_an_empty_ledger_argument_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = budget_line(["status", "--ledger", "", "--ceiling", "5"], capsys)
    assert code == 4
    assert "--ledger is empty; give the ledger file's path" in err


@pytest.mark.parametrize("where", ["missing-folder", "folder"])
def test_export_to_a_place_it_cannot_write_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard(5, ledger).authorize("a", "1.00")
    out = tmp_path / "nonexistent" / "x" if where == "missing-folder" else tmp_path
    code, err = budget_line(["export", "--ledger", str(ledger), "--out", str(out)], capsys)
    assert code == 4
    assert f"{out}: cannot write the export there:" in err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://admin:Hunter2secret@127.0.0.1:99999/db", "Port out of range 0-65535"),
        ("postgresql://admin:Hunter2secret@[::1/db", "Invalid IPv6 URL"),
    ],
)
def test_a_broken_database_url_is_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, says: str
) -> None:
    monkeypatch.setenv("LYNX_LEDGER_URL", url)
    code, err = budget_line(["status", "--ceiling", "5"], capsys)
    assert code == 4
    assert says in err
    assert "Hunter2" not in err
    assert "admin:[redacted]@" in err


FSIZE_CHILD = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer (ulimit -f)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from minitrain.cli.budget import main
sys.exit(main(sys.argv[2:]))
"""


def fsize_limited(limit: int, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", FSIZE_CHILD, str(limit), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_file_size_limit_is_one_line_and_says_what_is_true(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard(5, ledger).authorize("a", "1.00")
    size = ledger.stat().st_size
    args = ["--ledger", str(ledger), "--ceiling", "5"]
    short = fsize_limited(size + 10, ["authorize", "b", "1.00", *args])
    assert short.returncode == 4, short.stderr
    assert "bytes were written (disk full or file-size limit?); the line is torn and counts" in (
        short.stderr
    )
    full = fsize_limited(size + 10, ["repair", *args])  # still at the limit: EFBIG
    assert full.returncode == 4, full.stderr
    assert "cannot append to the ledger: File too large (the file-size limit" in full.stderr
    assert "Traceback" not in short.stderr + full.stderr
    assert ledger.stat().st_size == size + 10


def test_a_full_disk_during_repair_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard(5, ledger).authorize("a", "1.00")
    ledger.write_bytes(ledger.read_bytes() + b'{"id":"torn')
    before = ledger.read_bytes()
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if fd > 2:  # the ledger; never the test's own output
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    code, err = budget_line(["repair", "--ledger", str(ledger), "--ceiling", "5"], capsys)
    monkeypatch.undo()
    assert code == 4
    assert "cannot append to the ledger: No space left on device (free space, then retry)" in err
    assert ledger.read_bytes() == before


def test_a_write_one_byte_short_says_the_line_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the newline missing: repair keeps the line, so the reservation counts; the message
    must say so, not "nothing was authorized"."""
    ledger = tmp_path / "spend.jsonl"
    real_write = os.write

    def short(fd: int, data: bytes) -> int:
        return real_write(fd, data[:-1] if fd > 2 else data)

    monkeypatch.setattr(os, "write", short)
    code, err = budget_line(
        ["authorize", "a", "1.00", "--ledger", str(ledger), "--ceiling", "5"], capsys
    )
    monkeypatch.undo()
    assert code == 4
    assert "the line is complete but for its newline, so it stands and counts" in err
    jsonl.JsonlLedger(ledger).repair(reason="torn")
    assert BudgetGuard(5, ledger).total_spent == Decimal("1.00")


def test_test_mode_never_sends_a_person_to_a_repair_it_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard(5, ledger).authorize("a", "1.00")
    ledger.write_bytes(ledger.read_bytes() + b'{"id":"torn')
    monkeypatch.setenv("BUDGET_GUARD_TEST_MODE", "1")
    args = ["--ledger", str(ledger), "--ceiling", "5"]
    code, status = budget_line(["status", *args], capsys)
    assert code == 4
    code, repair = budget_line(["repair", *args], capsys)
    assert code == 2
    advice = "unset BUDGET_GUARD_TEST_MODE, then run `budget repair`"
    assert advice in status
    assert advice in repair
    assert "a database has no torn lines" not in repair


# --- verify judges every limit, names who took it over, and why -------------------------------

CAPS = {"02": "3.00", "03": "0.00", "buffer": "2.00"}


def verify(ledger: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from minitrain.cli.budget import main

    manifest = ledger.parent / "manifest.json"
    real = json.loads((REPO / "experiments/35-cloud-budget/manifest.json").read_text())
    real["ceiling_per_lab"] = {k: float(v) for k, v in CAPS.items()}
    manifest.write_text(json.dumps(real))
    code = main(["verify", "--ledger", str(ledger), "--manifest", str(manifest)])
    return code, capsys.readouterr().err


def test_verify_names_a_cap_a_union_merge_broke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's reproduction: two clones, lab02 $2.50 and $2.00, each under the $3.00 cap;
    the merged ledger is under the ceiling but $1.50 over lab 02's cap."""
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    BudgetGuard(5, one, lab_caps=CAPS).authorize("lab02-a", "2.50")
    BudgetGuard(5, two, lab_caps=CAPS).authorize("lab02-b", "2.00")
    merged = tmp_path / "spend.jsonl"
    merged.write_bytes(one.read_bytes() + two.read_bytes())  # what merge=union leaves
    code, err = verify(merged, capsys)
    assert code == 3
    assert (
        "OVER THE LAB 02 CAP: spent $4.50 of $3.00; authorizations that together pass it,"
        " from lab02-b (line 2, $2.00) on. The causes this cannot tell apart: two clones'"
        " ledgers merged (git merge=union), writers with different ceilings, or two names of"
        " one file (a hard link, a bind mount) written by a version older than its one lock"
        " per file;"
    ) in err
    assert "CEILING" not in err


def test_verify_does_not_blame_a_merge_for_actuals_above_estimates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    guard = BudgetGuard(5, ledger, lab_caps=CAPS)
    guard.authorize("lab02-a", "3.00")
    guard.record_actual("lab02-a", "3.50")
    code, err = verify(ledger, capsys)
    assert code == 3
    assert (
        "OVER THE LAB 02 CAP: spent $3.50 of $3.00; the reservations fit; actuals above their"
        " estimates took it over: lab02-a (line 1: estimate $3.00, actual $3.50). Nothing was"
        " merged wrongly"
    ) in err
    assert "merge=union" not in err


def test_verify_names_unplanned_actuals_not_a_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 21: an actual without a reservation took lab 02 over and verify blamed a merge."""
    ledger = tmp_path / "spend.jsonl"
    guard = BudgetGuard(5, ledger, lab_caps=CAPS)
    guard.authorize("lab02-a", "2.50")
    guard.record_actual("lab02-b", "1.00", unplanned=True)
    code, err = verify(ledger, capsys)
    assert code == 3
    assert (
        "OVER THE LAB 02 CAP: spent $3.50 of $3.00; the reservations fit; unplanned actuals"
        " (recorded without a reservation, with --unplanned) took it over: lab02-b (line 2,"
        " $1.00). Nothing was merged wrongly"
    ) in err
    assert "merge=union" not in err


def test_verify_names_caps_that_add_up_past_a_lowered_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard(5, ledger).authorize("a", "0.10")
    monkeypatch.setenv("LYNX_CLOUD_BUDGET_USD", "3.00")
    code, err = verify(ledger, capsys)
    assert code == 0
    assert (
        "note: the caps add up to $5.00 (02 $3.00 + 03 $0.00 + buffer $2.00), more than the"
        " ceiling $3.00: the ceiling binds first"
    ) in err


# --- a ledger that shrank never lowers the books (issue 21) -----------------------------------


def shrunk_after(ledger: Path, cut: Callable[[bytes], int]) -> None:
    """Two returned authorizations in lab 02 ($0.50, then $2.00), then the file cut short."""
    guard = BudgetGuard("5.00", ledger, lab_caps=CAPS)
    guard.authorize("lab02-a", "0.50")
    guard.authorize("lab02-b", "2.00")
    data = ledger.read_bytes()
    os.truncate(ledger, cut(data))


def _without_last_line(data: bytes) -> int:
    return data.rstrip(b"\n").rfind(b"\n") + 1


def _mid_last_line(data: bytes) -> int:
    return _without_last_line(data) + 40


@pytest.mark.parametrize("cut", [_without_last_line, _mid_last_line], ids=["line", "mid-line"])
@pytest.mark.parametrize(
    "command", [["status"], ["status", "--all"], ["authorize", "lab02-c", "0.10"], ["verify"]]
)
def test_a_ledger_shorter_than_its_mark_is_refused_by_every_command_but_repair(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cut: Callable[[bytes], int],
    command: list[str],
) -> None:
    """The issue's reproductions: the last line (a returned $2.00 authorization) removed with
    truncate, or cut mid-line. The books must not fall back to $0.50."""
    ledger = tmp_path / "spend.jsonl"
    shrunk_after(ledger, cut)
    before = ledger.read_bytes()
    code, err = budget_line(["--ledger", str(ledger), "--ceiling", "5.00", *command], capsys)
    assert code == 4
    assert "shorter than this guard last wrote it" in err
    assert "a truncation" in err
    assert "git checked out an older ledger" in err
    assert "`budget repair`" in err
    assert ledger.read_bytes() == before


def test_a_mark_forged_without_the_key_refuses_nothing(tmp_path: Path) -> None:
    """A mark edited to claim more than the file holds is not signed by the ledger's key: it is
    ignored, so nobody can lock a ledger by editing its mark."""
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard("5.00", ledger).authorize("a", "0.10")
    mark = ledger.with_name("spend.jsonl.mark")
    data = json.loads(mark.read_text())
    data["size"] = data["body"]["size"] = 10**9
    mark.write_text(json.dumps(data))  # "size" first, as the guard writes it
    assert mark.read_text().startswith('{"size": 1000000000,')
    assert BudgetGuard("5.00", ledger).total_spent == Decimal("0.10")


def repair_says(ledger: Path, capsys: pytest.CaptureFixture[str]) -> str:
    from minitrain.cli.budget import main

    assert main(["--ledger", str(ledger), "--ceiling", "5.00", "repair"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    return out


def test_repair_records_the_loss_of_a_removed_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    shrunk_after(ledger, _without_last_line)
    said = repair_says(ledger, capsys)
    assert "recorded the loss of $2.00 (lab 02)" in said
    lines = ledger.read_bytes().splitlines()
    loss = json.loads(lines[-1])
    assert loss["kind"] == "loss"
    assert set(loss) == {
        "id", "ts", "kind", "op_label", "lab", "actual", "reason", "op_ids", "currency", "crc32"
    }  # fmt: skip
    assert (loss["op_label"], loss["actual"], loss["lab"]) == ("ledger-repair", "2.00", "02")
    assert len(loss["op_ids"]) == 1  # the lost authorization's id, known from the mark
    guard = BudgetGuard("5.00", ledger, lab_caps=CAPS)
    assert guard.total_spent == Decimal("2.50")
    assert guard.status().lab_spent("02") == Decimal("2.50")
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("lab02-c", "1.00")  # the cap still counts what was granted
    from minitrain.cli.budget import main

    assert main(["--ledger", str(ledger), "--ceiling", "5.00", "verify"]) == 0


def test_repair_of_a_mid_line_cut_says_the_line_had_been_granted_and_records_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    shrunk_after(ledger, _mid_last_line)
    said = repair_says(ledger, capsys)
    assert "voided line 2" in said
    assert "had been granted" in said
    assert "recorded the loss of $2.00 (lab 02)" in said
    assert BudgetGuard("5.00", ledger, lab_caps=CAPS).total_spent == Decimal("2.50")


# --- no crash, no hang (issue 21) ---------------------------------------------------------------


def nested_line(depth: int) -> bytes:
    """An authorize line whose lab is ``depth`` nested arrays, sealed with a valid CRC as the
    encoder seals (the encoder itself cannot write it: it recurses)."""
    import zlib

    body = (
        b'{"id":"deep","ts":"2026-01-01T00:00:00.000000+00:00","kind":"authorize",'
        b'"op_label":"x","lab":' + b"[" * depth + b"]" * depth + b',"estimated":"1.00",'
        b'"currency":"USD"}'
    )
    return body[:-1] + b',"crc32":"%08x"}\n' % zlib.crc32(body)


@pytest.mark.parametrize(
    "command", [["status"], ["verify"], ["authorize", "lab02-a", "0.10"], ["status", "--all"]]
)
def test_a_line_of_100000_nested_arrays_is_a_ledger_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard("5.00", ledger).authorize("a", "0.10")
    with ledger.open("ab") as f:
        f.write(nested_line(100_000))
    before = ledger.read_bytes()
    if command == ["verify"]:  # verify lists each bad line, then says how many
        from minitrain.cli.budget import main

        code = main(["--ledger", str(ledger), "--ceiling", "5.00", *command])
        err = capsys.readouterr().err
        assert "Traceback" not in err
    else:
        code, err = budget_line(["--ledger", str(ledger), "--ceiling", "5.00", *command], capsys)
    assert code == 4
    assert "spend.jsonl:2: not valid JSON: nested too deeply" in err
    assert ledger.read_bytes() == before


def test_a_nested_line_read_by_either_decoder_is_a_bad_line(tmp_path: Path) -> None:
    from minitrain.ledger import parser

    data = line_format.encode(entries.new_entry("authorize", "a", estimated=Decimal("1.00")))
    data += nested_line(100_000)
    for typed_read in (0, 1 << 62):  # msgspec first, then the standard library alone
        state = parser.Parser("spend.jsonl")
        saved, parser.TYPED_READ = parser.TYPED_READ, typed_read
        try:
            state.feed(data)
        finally:
            parser.TYPED_READ = saved
        [bad] = state.snapshot().problems
        assert (bad.line, bad.torn) == (2, False)
        assert "nested too deeply" in bad.reason


def _short_sys_file() -> str | None:
    """A read-only file under /sys whose reads end before the size stat reports (4096)."""
    for path in ("/sys/kernel/uevent_seqnum", "/sys/kernel/profiling"):
        try:
            found = Path(path).stat()
            size = len(Path(path).read_bytes())
        except OSError:
            continue
        if found.st_mode & 0o222 == 0 and size < found.st_size:
            return path
    return None


@pytest.mark.parametrize("command", [["status"], ["verify"]])
def test_a_ledger_that_ends_before_its_reported_size_is_a_ledger_error(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """The issue's reproduction: `--ledger /sys/...` (read only here: nothing may write there)."""
    path = _short_sys_file()
    if path is None:
        pytest.skip("no read-only /sys file here that reads shorter than its size")
    code, err = budget_line(["--ledger", path, "--ceiling", "5.00", *command], capsys)
    assert code == 4
    assert "ended at byte" in err
    assert "before the 4096 bytes its size says" in err


def test_a_read_that_ends_before_the_size_is_one_ledger_error(tmp_path: Path) -> None:
    """The same without /sys: a span that reaches past the file's end, as a short read does."""
    from minitrain.errors import LedgerError
    from minitrain.ledger import file, parser

    ledger = tmp_path / "spend.jsonl"
    BudgetGuard("5.00", ledger).authorize("a", "0.10")
    size = ledger.stat().st_size
    fd = os.open(ledger, os.O_RDONLY)
    try:
        with pytest.raises(LedgerError, match=rf"ended at byte {size}, before the {size + 100}"):
            parser.Parser(str(ledger)).feed(file.FileSpan(fd, 0, size + 100, str(ledger)))
    finally:
        os.close(fd)


def test_a_torn_tail_of_a_gigabyte_is_read_in_linear_time(tmp_path: Path) -> None:
    """The issue's reproduction grown to 1 GiB (sparse: no disk): a torn tail the parser once
    rebuilt for every 1 MiB block (256 MB took 50 s) is one ledger error, read once. The
    timeout catches a hang; the figure is benchmarks/codec.py --torn's."""
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard("5.00", ledger).authorize("a", "0.10")
    with ledger.open("ab") as f:
        f.write(b'{"id":"torn","kind":"authorize","op_label":"')
        f.truncate(ledger.stat().st_size + (1 << 30))  # zeros to the end: no newline
    argv = ["--ledger", str(ledger), "--ceiling", "5.00", "status"]
    script = f"from minitrain.cli.budget import main; raise SystemExit(main({argv!r}))"
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert ran.returncode == 4, ran.stderr
    assert "spend.jsonl:2: torn last line" in ran.stderr
    assert ran.stderr.count("\n") == 1
