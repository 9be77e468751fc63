"""What counts as spent: the one rule every backend, the guard and the report use."""

from __future__ import annotations

from decimal import Decimal

from minitrain.ledger import totals
from minitrain.ledger.entries import new_entry


def test_an_estimate_counts_until_its_actual_replaces_it() -> None:
    assert totals.charged(Decimal("1.00"), None) == Decimal("1.00")
    assert totals.charged(Decimal("1.00"), Decimal("0.25")) == Decimal("0.25")
    assert totals.charged(None, Decimal("0.40")) == Decimal("0.40")  # no authorization


def test_each_entry_moves_spent_by_the_same_rule() -> None:
    assert totals.added_by("authorize", Decimal("1.00"), None) == Decimal("1.00")
    assert totals.added_by("actual", Decimal("1.00"), Decimal("1.40")) == Decimal("0.40")
    assert totals.added_by("actual", None, Decimal("0.40")) == Decimal("0.40")


def test_the_fold_and_the_operations_agree() -> None:
    auth = new_entry("authorize", "a", estimated=Decimal("1.00"), lab="02")
    books = (
        auth,
        new_entry("actual", "a", estimated=Decimal("1.00"), actual=Decimal("0.30"), op_id=auth.id),
        new_entry("authorize", "b", estimated=Decimal("2.00")),
        new_entry("actual", "c", estimated=None, actual=Decimal("0.50")),
    )
    folded = totals.Totals()
    for entry in books:
        folded.fold(entry)
    operations = totals.fold_operations(books)
    assert folded.spent == sum((op.charged for op in operations), Decimal(0)) == Decimal("2.80")
    assert folded.reserved == Decimal("2.00")
    assert [op.label for op in operations if op.is_open] == ["b"]
