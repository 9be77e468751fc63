"""An authorization whose id the caller chose (and saved) first: written once, whatever the
backend, so a caller killed after the write and run again never reserves twice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.ledger.entries import new_id


@pytest.fixture(params=["jsonl", "memory", "postgresql"])
def guard(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        return BudgetGuard(5, tmp_path / "unused.jsonl", ledger_url=url)
    monkeypatch.setenv("BUDGET_GUARD_TEST_MODE", "1" if request.param == "memory" else "0")
    return BudgetGuard(5, tmp_path / "spend.jsonl")


def test_authorize_with_a_known_op_id_writes_nothing_more(guard: BudgetGuard) -> None:
    op_id = new_id()
    assert guard.operation(op_id) is None
    guard.authorize("lab02-tp-spinup", "3.00", op_id=op_id)
    guard.authorize("lab02-tp-spinup", "3.00", op_id=op_id)  # the rerun after a kill
    [op] = guard.operations()
    assert (op.id, op.estimated, guard.total_spent) == (op_id, Decimal("3.00"), Decimal("3.00"))
    found = guard.operation(op_id)
    assert found is not None
    assert found.is_open


def test_a_closed_authorization_is_still_found_and_not_written_again(guard: BudgetGuard) -> None:
    op_id = new_id()
    guard.authorize("lab02-tp-spinup", "3.00", op_id=op_id)
    guard.record_actual("lab02-tp-spinup", "2.47", op_id=op_id)
    guard.authorize("lab02-tp-spinup", "3.00", op_id=op_id)
    found = guard.operation(op_id)
    assert found is not None
    assert found.actual == Decimal("2.47")
    assert len(guard.operations()) == 1
    assert guard.total_spent == Decimal("2.47")
