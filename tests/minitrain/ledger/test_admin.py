"""The books' administration as library calls: each returns a result, prints nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, InputError, LedgerError
from minitrain.ledger import admin, jsonl, memory

pytestmark = pytest.mark.usefixtures("file_mode")


def limits() -> admin.Limits:
    return Decimal("5.00"), {"02": Decimal("1.00")}


def test_verify_counts_the_books_and_judges_every_limit(ledger: Path) -> None:
    guard = BudgetGuard(5, ledger)
    guard.authorize("lab02-a", "1.00")
    guard.record_actual("lab02-a", "1.50")  # over the lab's cap: an actual above its estimate
    verified = admin.verify(jsonl.JsonlLedger(ledger), limits)
    assert (verified.lines, verified.operations, verified.spent) == (2, 1, Decimal("1.50"))
    assert verified.over
    assert "OVER THE LAB 02 CAP" in verified.findings[-1]


def test_verify_of_a_bad_ledger_lists_its_lines_before_any_limit(ledger: Path) -> None:
    ledger.write_bytes(b'{"not": "a ledger line"}\n')

    def never() -> admin.Limits:
        raise AssertionError("the limits are not asked for over bad lines")

    verified = admin.verify(jsonl.JsonlLedger(ledger), never)
    assert verified.problem_lines() == [f"{ledger}:1: " + verified.problems[0].reason]
    with pytest.raises(LedgerError, match="1 bad line"):
        verified.require_sound()


def test_repair_needs_a_reason_for_a_named_line_and_a_file(ledger: Path) -> None:
    with pytest.raises(InputError, match="--line needs --reason"):
        admin.repair(jsonl.JsonlLedger(ledger), line=1)
    with pytest.raises(InputError, match="test mode"):
        admin.repair(memory.MemoryLedger(ledger))


def test_export_returns_the_lines_and_import_needs_a_database(ledger: Path) -> None:
    BudgetGuard(5, ledger).authorize("a", "1.00")
    exported = admin.export(jsonl.JsonlLedger(ledger))
    assert (exported.data, exported.lines) == (ledger.read_bytes(), 1)
    with pytest.raises(InputError, match="no database ledger"):
        admin.import_file(jsonl.JsonlLedger(ledger), str(ledger))
