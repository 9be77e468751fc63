"""The JSONL file: fail closed on a bad line, repair only by appending, re-read when replaced."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, BudgetGuardExceeded, LedgerError
from minitrain.ledger import entries, jsonl


@pytest.mark.usefixtures("file_mode")
def test_torn_last_line_fails_closed_until_repaired_by_appending(
    guard: BudgetGuard, ledger: Path
) -> None:
    guard.authorize("lab02-tp-spinup", "3.00")
    whole = entries.encode(
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

    voided, kept = jsonl.JsonlLedger(ledger).repair(reason="torn")
    assert (voided.line, kept) == (2, False)
    assert "kind actual" in voided.looks_like
    assert ledger.read_bytes().startswith(torn)
    assert guard.total_spent == Decimal("3.00")
    guard.authorize("next", "0.50")
    assert guard.total_spent == Decimal("3.50")


@pytest.mark.usefixtures("file_mode")
def test_torn_line_missing_only_its_newline_is_kept(guard: BudgetGuard, ledger: Path) -> None:
    guard.authorize("a", "1.00")
    line = entries.encode(entries.new_entry("authorize", "b", estimated=Decimal("2.00")))
    with ledger.open("ab") as f:
        f.write(line[:-1])
    with pytest.raises(LedgerError):
        guard.total_spent  # noqa: B018 - reading is the point
    _, kept = jsonl.JsonlLedger(ledger).repair(reason="torn")
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
    BudgetGuard(5, other).authorize("c", "4.00")
    other.replace(ledger)  # what `git checkout` does: a new inode at the same path
    assert guard.total_spent == Decimal("4.00")
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("d", "1.01")
    same_inode = ledger.read_bytes().replace(b'"4.00"', b'"9.00"')
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
