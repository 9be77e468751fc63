"""What counts as spent: the one rule, used by every backend, the guard and the report.

An operation counts its actual once recorded, else its estimate: the estimate is a reservation
until the actual replaces it (it is never added to it). An actual recorded with no open
authorization still counts in full: the money was spent; so does a ``loss`` (what ``budget
repair`` found granted and then cut from a shrunk ledger), like a closed actual. :func:`charged`
says it for one
operation, :func:`added_by` for one entry (how much the books move when it is appended); the JSONL
fold, the in-memory backend, ``budget_guard``, ``report`` and the PostgreSQL totals (whose SQL is
tested against this fold) all use it.
"""

from __future__ import annotations

from decimal import Decimal

from minitrain.ledger._fields import Fields

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:  # the arrow runs one way: totals reads entries; entries knows no Totals
    from collections.abc import Callable
    from datetime import datetime

    from minitrain.ledger.entries import Entry


def charged(estimated: Decimal | None, actual: Decimal | None) -> Decimal:
    """What one operation counts against the budget: the actual once known, else the estimate."""
    if actual is not None:
        return actual
    assert estimated is not None
    return estimated


def added_by(kind: str, estimated: Decimal | None, actual: Decimal | None) -> Decimal:
    """How much spent moves when one entry is appended: an authorization adds its reservation;
    an actual replaces the reservation it closes (``estimated``; None when nothing was open);
    a loss adds its amount (``actual``), as an actual that closed nothing."""
    if kind == "authorize":
        return charged(estimated, None)
    if kind == "loss":
        return charged(None, actual)
    before = Decimal(0) if estimated is None else charged(estimated, None)
    return charged(estimated, actual) - before


class Totals(Fields):
    """What the guard decides on, folded entry by entry with :func:`added_by`."""

    __slots__ = ("_open_ops", "charged_by_lab", "reserved")

    def __init__(
        self,
        reserved: Decimal = Decimal(0),
        charged_by_lab: dict[str, Decimal] | None = None,  # "" = no lab
        # authorization id -> its entry, or what makes them when first asked for
        open_ops: dict[str, Entry] | Callable[[], dict[str, Entry]] | None = None,
    ) -> None:
        self.reserved = reserved
        self.charged_by_lab = {} if charged_by_lab is None else charged_by_lab
        self._open_ops = {} if open_ops is None else open_ops

    @property
    def open_ops(self) -> dict[str, Entry]:
        if not isinstance(self._open_ops, dict):
            self._open_ops = self._open_ops()
        return self._open_ops

    def _values(self) -> tuple[object, ...]:
        return self.charged_by_lab, self.open_ops, self.reserved

    def __repr__(self) -> str:
        return f"Totals({self.reserved!r}, {self.charged_by_lab!r}, {self.open_ops!r})"

    @property
    def spent(self) -> Decimal:
        return sum(self.charged_by_lab.values(), Decimal(0))

    def fold(self, entry: Entry) -> None:
        """Take one linked entry (an actual's authorization, if any, is open here)."""
        if entry.kind == "void":  # takes a bad line out; counts nothing itself
            return
        if entry.kind == "authorize":
            assert entry.estimated is not None
            self.open_ops[entry.id] = entry
            self.reserved += entry.estimated
            self._charge(entry.lab, added_by("authorize", entry.estimated, None))
        elif entry.kind == "loss":
            self._charge(entry.lab, added_by("loss", None, entry.actual))
        elif entry.op_id is not None:
            opened = self.open_ops.pop(entry.op_id)
            assert opened.estimated is not None
            self.reserved -= opened.estimated
            self._charge(opened.lab, added_by("actual", opened.estimated, entry.actual))
        else:
            self._charge(entry.lab, added_by("actual", None, entry.actual))

    def copy(self) -> Totals:
        return Totals(self.reserved, dict(self.charged_by_lab), dict(self.open_ops))

    def _charge(self, lab: str | None, amount: Decimal) -> None:
        key = lab or ""
        self.charged_by_lab[key] = self.charged_by_lab.get(key, Decimal(0)) + amount


class Operation(Fields):
    """One authorization and its actual, or an actual that had no authorization."""

    __slots__ = (
        "actual",
        "actual_line",
        "authorized_at",
        "estimated",
        "id",
        "lab",
        "label",
        "line",  # where it starts in the ledger
        "recorded_at",
    )

    def __init__(  # noqa: PLR0917 - as the dataclass took them
        self,
        id: str,
        label: str,
        lab: str | None,
        estimated: Decimal | None,
        actual: Decimal | None,
        authorized_at: datetime | None,
        recorded_at: datetime | None,
        line: int,
        actual_line: int | None = None,
    ) -> None:
        self.id, self.label, self.lab = id, label, lab
        self.estimated, self.actual = estimated, actual
        self.authorized_at, self.recorded_at = authorized_at, recorded_at
        self.line, self.actual_line = line, actual_line

    @property
    def is_open(self) -> bool:
        return self.actual is None

    @property
    def charged(self) -> Decimal:
        """What counts against the budget: the actual once known, else the reservation."""
        return charged(self.estimated, self.actual)


def as_operation(entry: Entry) -> Operation:
    """The operation an authorization opens (its actual not yet known)."""
    return Operation(
        entry.id, entry.op_label, entry.lab, entry.estimated, None, entry.ts, None, entry.line
    )


def fold_operations(entries: tuple[Entry, ...]) -> list[Operation]:
    """Fold ledger entries into operations, oldest first. Links were checked by the reader."""
    found: dict[str, Operation] = {}
    for entry in entries:
        if entry.kind == "authorize":
            found[entry.id] = as_operation(entry)
        elif entry.op_id is not None:
            found[entry.op_id] = found[entry.op_id].replace(
                actual=entry.actual,
                recorded_at=entry.ts,
                actual_line=entry.line,
            )
        else:
            found[entry.id] = Operation(
                entry.id,
                entry.op_label,
                entry.lab,
                None,
                entry.actual,
                None,
                entry.ts,
                entry.line,
                entry.line,
            )
    return list(found.values())
