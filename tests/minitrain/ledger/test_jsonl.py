"""The JSONL file: fail closed on a bad line, repair only by appending, re-read when replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, BudgetGuardExceeded, LedgerError
from minitrain.ledger import entries, jsonl, line_format


@pytest.mark.usefixtures("file_mode")
def test_torn_last_line_fails_closed_until_repaired_by_appending(
    guard: BudgetGuard, ledger: Path
) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    whole = line_format.encode(
        entries.new_entry("actual", "lab02-tp-spinup", estimated=None, actual=Decimal("1.00"))
    )
    with ledger.open("ab") as f:
        f.write(whole[: len(whole) // 2])  # a crash mid-write
    torn = ledger.read_bytes()
    with pytest.raises(LedgerError, match=r"spend\.jsonl:2: torn last line.*budget repair"):
        guard.authorize("next", "0.50")
    with pytest.raises(LedgerError):
        guard.record_actual("lab02-tp-spinup", "2.00")
    assert ledger.read_bytes() == torn

    voided, kept, _ = jsonl.JsonlLedger(ledger).repair(reason="torn")
    assert (voided.line, kept) == (2, False)
    assert "kind actual" in voided.looks_like
    assert ledger.read_bytes().startswith(torn)
    assert guard.total_spent == Decimal("3.00")
    guard.authorize("next", "0.50")
    assert guard.total_spent == Decimal("3.50")


@pytest.mark.usefixtures("file_mode")
def test_torn_line_missing_only_its_newline_is_kept(guard: BudgetGuard, ledger: Path) -> None:
    guard.authorize("a", "1.00")
    line = line_format.encode(entries.new_entry("authorize", "b", estimated=Decimal("2.00")))
    with ledger.open("ab") as f:
        f.write(line[:-1])
    with pytest.raises(LedgerError):
        guard.total_spent  # noqa: B018 - reading is the point
    _, kept, _ = jsonl.JsonlLedger(ledger).repair(reason="torn")
    assert kept
    assert guard.total_spent == Decimal("3.00")


@pytest.mark.usefixtures("file_mode")
def test_bad_line_followed_by_good_lines_needs_a_person(guard: BudgetGuard, ledger: Path) -> None:
    guard.authorize("a", "1.00")
    data = ledger.read_bytes()
    ledger.write_bytes(data.replace(b'"1.00"', b'"7.00"'))  # a flipped digit, still valid JSON
    with pytest.raises(LedgerError, match="crc32 does not match"):
        guard.authorize("b", "1.00")
    BudgetGuard(5, ledger)  # constructing is fine; deciding is not
    with pytest.raises(LedgerError, match="not a torn last line"):
        jsonl.JsonlLedger(ledger).repair(reason="?")
    jsonl.JsonlLedger(ledger).repair(line=1, reason="edited by hand; restored in git")
    assert guard.total_spent == 0


@pytest.mark.usefixtures("file_mode")
def test_a_ledger_replaced_under_a_running_guard_is_read_again(
    guard: BudgetGuard, ledger: Path, tmp_path: Path
) -> None:
    guard.authorize("a", "1.00")
    guard.authorize("b", "1.00")
    assert guard.total_spent == Decimal("2.00")  # cached from here on
    other = tmp_path / "other.jsonl"
    newer = BudgetGuard(5, other)
    for label, amount in [("c", "2.00"), ("c2", "1.00"), ("c3", "1.00")]:
        newer.authorize(label, amount)  # longer than the ledger it replaces (see mark.py)
    other.replace(ledger)  # what `git checkout` does: a new inode at the same path
    assert guard.total_spent == Decimal("4.00")
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("d", "1.01")
    same_inode = ledger.read_bytes().replace(b'"2.00"', b'"7.00"')
    with ledger.open("r+b") as f:  # an edit in place, same inode and size
        f.write(same_inode)
    with pytest.raises(LedgerError, match="crc32 does not match"):
        guard.authorize("d", "0.01")


@pytest.mark.usefixtures("file_mode")
def test_a_turn_that_fails_releases_the_lock_and_a_refused_one_writes_nothing(
    guard: BudgetGuard, ledger: Path
) -> None:
    """A writer's turn ends, whatever ends it, with the lock free for the next writer: a refusal
    inside it, or an error raised while it held the lock."""
    import fcntl

    guard.authorize("lab02-a", "4.00")
    before = ledger.read_bytes()
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("lab02-b", "2.00")
    book = jsonl.JsonlLedger(ledger)
    with pytest.raises(RuntimeError, match="mid-turn"), book.transaction():
        raise RuntimeError("mid-turn")
    assert ledger.read_bytes() == before
    lock = ledger.with_name(ledger.name + ".lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a turn had kept the lock
    lock.close()
    guard.authorize("lab02-c", "1.00")


@pytest.mark.usefixtures("file_mode")
def test_turns_leave_no_descriptor_open(guard: BudgetGuard, ledger: Path) -> None:
    """A writer's turn opens the ledger once for its read and its append; whether it appends,
    is refused, or fails, every descriptor it opened is closed when the turn ends (a
    long-running watcher authorizes for hours)."""
    open_fds = Path("/proc/self/fd")
    guard.authorize("lab02-first", "0.01")  # the lazily opened modules and files, once
    before = len(list(open_fds.iterdir()))
    for i in range(20):
        guard.authorize(f"lab02-op{i}", "0.01")
        with pytest.raises(BudgetGuardExceeded):
            guard.authorize(f"lab02-big{i}", "5.00")
        guard.record_actual(f"lab02-op{i}", "0.01")
    with pytest.raises(RuntimeError), jsonl.JsonlLedger(ledger).transaction():
        raise RuntimeError("mid-turn")
    assert len(list(open_fds.iterdir())) == before


@pytest.mark.usefixtures("file_mode")
def test_a_writer_folds_its_own_line_with_the_lock_free_and_its_totals_stay_true(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other writers wait while one holds the lock, so the line a writer appended is folded
    into its own totals after the unlock; its totals must still be the file's, line for line,
    whichever turn comes next (an append, a refusal, a read) and whoever else wrote between."""
    import fcntl

    folds: dict[str, bool] = {}  # label -> whether the lock was free when its line was folded
    real = jsonl.JsonlLedger._folded

    def folded(self: jsonl.JsonlLedger, line: bytes) -> object:
        probe = ledger.with_name(ledger.name + ".lock").open("a")
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            folds[json.loads(line)["op_label"]] = True
        except BlockingIOError:
            folds[json.loads(line)["op_label"]] = False
        finally:
            probe.close()
        return real(self, line)

    monkeypatch.setattr(jsonl.JsonlLedger, "_folded", folded)
    mine, theirs = BudgetGuard(5, ledger), BudgetGuard(5, ledger)
    mine.authorize("lab02-a", "1.00")  # makes the file: read back under the lock
    for n in range(3):
        mine.authorize(f"lab02-m{n}", "0.25")
        theirs.authorize(f"lab02-t{n}", "0.25")
    with pytest.raises(BudgetGuardExceeded):
        mine.authorize("lab02-big", "2.51")  # 1.00 + 6 x 0.25 = 2.50 spent: 2.50 left
    mine.authorize("lab02-last", "2.50")
    assert folds.pop("lab02-a") is False  # it made the file: read back under the lock
    assert folds == {f"lab02-{w}{n}": True for w in "mt" for n in range(3)} | {"lab02-last": True}
    assert mine.total_spent == theirs.total_spent == BudgetGuard(5, ledger).total_spent
    assert mine.total_spent == Decimal("5.00")
    with jsonl.JsonlLedger(ledger).transaction() as txn:  # asked for under the lock: folded there
        txn.append(entries.new_entry("actual", "lab02-a", estimated=None, actual=Decimal("0")))
        assert txn.snapshot.lines == len(ledger.read_bytes().splitlines())
    assert folds["lab02-a"] is False
    with jsonl.JsonlLedger(ledger).transaction() as txn:
        txn.append(entries.new_entry("authorize", "lab02-z", estimated=Decimal("0")))
    assert folds["lab02-z"] is True
    assert txn.snapshot.lines == len(ledger.read_bytes().splitlines())  # the turn's last totals


# --- one file, however it is named, takes one lock (issue 21) ---------------------------------

PROBE = """
import sys
from minitrain.ledger.jsonl import JsonlLedger
print("ready", flush=True)
with JsonlLedger(sys.argv[1]).transaction():
    print("locked", flush=True)
"""


def waits_for_the_holder(holder: str, prefix: list[str], name: str) -> bool:
    """Hold a writer's turn through ``holder``; start a process (``prefix``, then Python) that
    takes a turn through ``name`` and say whether it had to wait until the turn ended. A probe
    that got its turn meanwhile would have appended beside this writer: two locks, one file."""
    with jsonl.JsonlLedger(holder).transaction():
        child = subprocess.Popen(
            [*prefix, sys.executable, "-c", PROBE, name], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        time.sleep(1.0)  # a probe that can lock has done so by now (a hang check, not a timing)
        waited = child.poll() is None
    out, _ = child.communicate(timeout=120)
    assert out == "locked\n", "the probe never got its turn after the holder's ended"
    return waited


# unshare -r maps this user to root in a new user namespace, where -m may mount: no privilege
BIND = ["unshare", "-rm", "sh", "-c", 'mount --bind "$0" "$1" && shift && exec "$@"']


@pytest.mark.usefixtures("file_mode")
@pytest.mark.parametrize("form", ["symlink", "hard link", "bind mount", "/proc/self/fd"])
def test_one_file_however_it_is_named_takes_one_lock(tmp_path: Path, form: str) -> None:
    """The issue's forms: a writer holding its turn through one name holds it for every name
    of the file (the lock follows the file's inode, not the name)."""
    real = tmp_path / "real" / "spend.jsonl"
    real.parent.mkdir()
    BudgetGuard("5.00", real).authorize("a", "0.10")
    other = tmp_path / "other" / "spend.jsonl"
    other.parent.mkdir()
    holder, prefix = str(real), []
    if form == "symlink":
        other.symlink_to(real)
    elif form == "hard link":
        os.link(real, other)
    elif form == "bind mount":
        other.touch()
        made = subprocess.run([*BIND, real, other, "true"], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"no bind mount without privilege here: {made.stderr.decode().strip()}")
        prefix = [*BIND, str(real), str(other)]
    else:  # the holder names it through its own descriptor; the probe by its path
        fd = os.open(real, os.O_RDONLY)
        holder, other = f"/proc/self/fd/{fd}", real
    try:
        assert waits_for_the_holder(holder, prefix, str(other))
    finally:
        if form == "/proc/self/fd":
            os.close(fd)


@pytest.mark.usefixtures("file_mode")
def test_a_ledger_git_replaced_still_serialises_with_a_writer_of_the_old_one(
    tmp_path: Path,
) -> None:
    """``git checkout`` writes a new file and renames it over the name (a new inode): a writer
    that opened the old one still holds the turn for everyone who names the path."""
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard("5.00", ledger).authorize("a", "0.10")
    with jsonl.JsonlLedger(ledger).transaction():
        fresh = tmp_path / "checkout.tmp"
        fresh.write_bytes(ledger.read_bytes())
        fresh.replace(ledger)
        child = subprocess.Popen(
            [sys.executable, "-c", PROBE, str(ledger)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        time.sleep(1.0)
        waited = child.poll() is None
    assert child.communicate(timeout=120)[0] == "locked\n"
    assert waited
