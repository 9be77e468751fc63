"""BudgetGuard: refuse any operation whose estimated cost would breach the ceiling.

The guard only keeps books (no network, no vendor); the ledger it keeps them in is append-only.
Its rules:

* **Spent** is, over every authorized operation, its actual once recorded, else its estimate
  (the estimate is a reservation until the actual replaces it; it is never added to it).
  An actual recorded with no open authorization still counts: the money was spent.
* **authorize** refuses when ``spent + estimate > limit`` (equal is allowed), for the ceiling and,
  when per-lab caps are given, for the operation's lab (or the ``buffer``, for an operation
  outside any capped lab). A refusal writes nothing.
* **One label, one open reservation**: authorize refuses a label (compared without regard to
  case) that has an open reservation (:class:`AlreadyOpen`, naming it), in the same locked
  transaction that would write it, so two racing processes get exactly one.
* **record_actual** closes the open authorization of the same label (or the one named by
  ``op_id``). If the label's authorizations are all closed already it raises
  :class:`AlreadyRecorded` naming the first recording; if the label has no reservation at all
  it raises :class:`NoReservation` (a typo must not count the money twice), suggesting the open
  labels. Money truly spent without a reservation is recorded with ``unplanned=True``, under a
  label the ledger has never seen.
* The ledger is read and decided on under one exclusive lock, and any bad line makes the guard
  refuse to decide (fail closed) until a person repairs it (``budget repair``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal

from minitrain import labs
from minitrain.errors import BudgetGuardExceeded, InputError
from minitrain.ledger import open_ledger
from minitrain.ledger.entries import new_entry
from minitrain.ledger.totals import Operation, Totals, as_operation, fold_operations
from minitrain.money import Amount, format_usd, parse_usd
from minitrain.reservations import closed_by, refuse_if_open

__all__ = [
    "BudgetGuard",
    "BudgetGuardExceeded",
    "Operation",
    "Status",
    "UnmatchedActualWarning",
]

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from os import PathLike

    from minitrain.ledger import Ledger

# An ``os.path`` string, as every path on the way to the ledger: ``pathlib`` is start-up time.
DEFAULT_LOG_PATH = "experiments/35-cloud-budget/spend.jsonl"
CEILING_ENV = "LYNX_CLOUD_BUDGET_USD"
BUFFER = labs.BUFFER


class UnmatchedActualWarning(UserWarning):
    """Kept in the public API for callers that filter it. Since an actual with no reservation
    is refused unless it is said to be unplanned (issue 21), the guard no longer warns with it."""


class Status:
    """The guard's numbers at one moment, all from the same read of the ledger. A plain class,
    not a dataclass: `budget status` builds one, and the decorator's work is start-up time."""

    __slots__ = (
        "ceiling",
        "ceiling_source",
        "charged_by_lab",
        "lab_caps",
        "location",
        "open_operations",
        "remaining",
        "reserved",
        "spent",
    )

    def __init__(
        self,
        *,
        ceiling: Decimal,
        ceiling_source: str,
        spent: Decimal,
        reserved: Decimal,
        remaining: Decimal,
        open_operations: tuple[Operation, ...],
        location: str,
        lab_caps: Mapping[str, Decimal],
        charged_by_lab: Mapping[str, Decimal],
    ) -> None:
        self.ceiling = ceiling
        self.ceiling_source = ceiling_source
        self.spent = spent
        self.reserved = reserved  # the part of ``spent`` that is open reservations
        self.remaining = remaining
        self.open_operations = open_operations  # authorizations still waiting for their actual
        self.location = location
        self.lab_caps = lab_caps
        self.charged_by_lab = charged_by_lab  # "" = no lab

    def lab_spent(self, pool: str) -> Decimal:
        """What counts against one cap (a lab, or the buffer)."""
        return pool_spent(self.charged_by_lab, self.lab_caps, pool)


class BudgetGuard:
    """A local enforcement wrapper: authorize before spending, record the actual after."""

    def __init__(
        self,
        ceiling_usd: Amount | None,
        log_path: str | PathLike[str] = DEFAULT_LOG_PATH,
        *,
        lab_caps: Mapping[str, Amount] | None = None,
        ceiling_source: str = "constructor",
        ledger: Ledger | None = None,
        ledger_url: str | None = None,
    ) -> None:
        self.ceiling, self.ceiling_source = _resolve_ceiling(ceiling_usd, ceiling_source)
        self.lab_caps = _caps(lab_caps or {})
        self.log_path = os.fspath(log_path)
        self._ledger: Ledger = ledger or open_ledger(self.log_path, ledger_url)

    @property
    def location(self) -> str:
        return self._ledger.location

    def authorize(
        self,
        op_label: str,
        estimated_usd: Amount,
        *,
        lab: str | None = None,
        op_id: str | None = None,
    ) -> str:
        """Raises BudgetGuardExceeded if estimated total > ceiling. Logs intent, and returns
        the reservation's op id (what `budget record --op-id` and the records name).

        ``op_id`` (chosen and saved by the caller beforehand) makes it idempotent: if an
        authorization with that id is already in the ledger, nothing more is written, so a
        caller killed after this call and run again never reserves twice."""
        label, estimate = check_label(op_label), parse_usd(estimated_usd, what="estimate")
        lab, op_id = lab_of(label, lab, self.lab_caps), labs.check_op_id(op_id)
        with self._ledger.transaction() as txn:
            txn.snapshot.require_clean()
            if op_id is not None and txn.holds(op_id):
                return op_id
            refuse_if_open(txn.snapshot.totals, label)
            self._refuse_if_over(txn.snapshot.totals, label, estimate, lab)
            entry = new_entry("authorize", label, estimated=estimate, lab=lab, entry_id=op_id)
            txn.append(entry)
            return entry.id

    def operation(self, op_id: str) -> Operation | None:
        """The operation whose authorization (or unmatched actual) has this id, if any."""
        snapshot = self._ledger.read()
        snapshot.require_clean()
        opened = snapshot.totals.open_ops.get(op_id)
        if opened is not None:  # the usual case, from the totals alone
            return as_operation(opened)
        return next((op for op in self.operations() if op.id == op_id), None)

    def would_authorize(
        self, op_label: str, estimated_usd: Amount, *, lab: str | None = None
    ) -> None:
        """What :meth:`authorize` would decide now, writing nothing (for dry runs)."""
        label, estimate = check_label(op_label), parse_usd(estimated_usd, what="estimate")
        snapshot = self._ledger.read()
        snapshot.require_clean()
        refuse_if_open(snapshot.totals, label)
        self._refuse_if_over(snapshot.totals, label, estimate, lab_of(label, lab, self.lab_caps))

    def would_open(self, op_label: str) -> None:
        """Raise AlreadyOpen if ``op_label`` has an open reservation, writing nothing."""
        snapshot = self._ledger.read()
        snapshot.require_clean()
        refuse_if_open(snapshot.totals, check_label(op_label))

    def would_record_actual(
        self, op_label: str, *, op_id: str | None = None, unplanned: bool = False
    ) -> None:
        """Raise what :meth:`record_actual` would (AlreadyRecorded, NoReservation), writing
        nothing."""
        label, op_id = check_label(op_label), labs.check_op_id(op_id)
        snapshot = self._ledger.read()
        snapshot.require_clean()
        closed_by(snapshot.totals, self.operations, label, op_id, unplanned)

    def record_actual(
        self,
        op_label: str,
        actual_usd: Amount,
        *,
        op_id: str | None = None,
        unplanned: bool = False,
    ) -> None:
        """Append actual spend after the operation finishes: it closes the label's open
        reservation. ``unplanned``: money spent without a reservation, under a new label."""
        label, actual = check_label(op_label), parse_usd(actual_usd, what="actual")
        op_id = labs.check_op_id(op_id)
        with self._ledger.transaction() as txn:
            txn.snapshot.require_clean()
            target = closed_by(
                txn.snapshot.totals,
                lambda: fold_operations(txn.full().entries or ()),
                label,
                op_id,
                unplanned,
            )
            if target is None:  # unplanned: charged to the label's lab
                entry = new_entry(
                    "actual",
                    label,
                    estimated=None,
                    actual=actual,
                    lab=lab_of(label, None, self.lab_caps),
                )
            else:  # under the reservation's own label, however this one was cased
                entry = new_entry(
                    "actual",
                    target.op_label,
                    estimated=target.estimated,
                    actual=actual,
                    op_id=target.id,
                    lab=target.lab,
                )
            txn.append(entry)

    def status(self) -> Status:
        """The numbers, from the totals alone: fast whatever the size of the ledger."""
        snapshot = self._ledger.read()
        snapshot.require_clean()
        totals = snapshot.totals
        return Status(
            ceiling=self.ceiling,
            ceiling_source=self.ceiling_source,
            spent=totals.spent,
            reserved=totals.reserved,
            remaining=self.ceiling - totals.spent,
            open_operations=tuple(as_operation(r) for r in totals.open_ops.values()),
            location=self.location,
            lab_caps=dict(self.lab_caps),
            charged_by_lab=dict(totals.charged_by_lab),
        )

    def operations(self) -> list[Operation]:
        """Every operation, oldest first (reads every line)."""
        snapshot = self._ledger.read(full=True)
        snapshot.require_clean()
        return fold_operations(snapshot.entries or ())

    @property
    def total_spent(self) -> Decimal:
        return self.status().spent

    @property
    def remaining(self) -> Decimal:
        return self.status().remaining

    def _refuse_if_over(
        self, totals: Totals, label: str, estimate: Decimal, lab: str | None
    ) -> None:
        spent = totals.spent
        if spent + estimate > self.ceiling:
            raise BudgetGuardExceeded(
                op_label=label, estimated=estimate, spent=spent, limit=self.ceiling
            )
        pool = pool_of(lab, self.lab_caps)
        if pool is None:
            return
        spent = pool_spent(totals.charged_by_lab, self.lab_caps, pool)
        if spent + estimate > self.lab_caps[pool]:
            raise BudgetGuardExceeded(
                op_label=label,
                estimated=estimate,
                spent=spent,
                limit=self.lab_caps[pool],
                limit_name=labs.cap_name(pool),
            )


def pool_spent(
    charged_by_lab: Mapping[str, Decimal], caps: Mapping[str, Decimal], pool: str
) -> Decimal:
    """What counts against one cap: the charges of every lab that draws on it."""
    return sum(
        (amount for lab, amount in charged_by_lab.items() if pool_of(lab or None, caps) == pool),
        Decimal(0),
    )


pool_of = labs.pool_of


def lab_of(label: str, lab: str | None, caps: Mapping[str, Decimal] | None = None) -> str | None:
    """The lab ``label`` draws on (``labs.resolve``: one rule for every command)."""
    return labs.resolve(label, lab, caps).number


def _caps(caps: Mapping[str, Amount]) -> dict[str, Decimal]:
    """Per-lab caps keyed by normalised lab (``3`` and ``03`` are one lab) or ``buffer``."""
    result: dict[str, Decimal] = {}
    for lab, cap in caps.items():
        key = lab if lab == BUFFER else labs.normalise(lab, what="the capped lab")
        if key in result:
            raise InputError(f"lab {key} is capped twice ({lab!r}); give each lab one cap")
        result[key] = parse_usd(cap, what=f"cap of lab {lab}")
    return result


check_label = labs.check_label  # the one rule of a new label


def _resolve_ceiling(ceiling: Amount | None, source: str) -> tuple[Decimal, str]:
    """The ceiling given, lowered by LYNX_CLOUD_BUDGET_USD if set; the variable never raises it
    (the seed: "if you find yourself thinking $5 is too tight, let's make it $20, stop")."""
    given = None if ceiling is None else parse_usd(ceiling, what="ceiling")
    env = os.environ.get(CEILING_ENV)
    if env is None:
        if given is None:
            raise InputError(f"no ceiling: pass one or set {CEILING_ENV}")
        return given, source
    if not env.strip():
        raise InputError(f"{CEILING_ENV} is set but empty; unset it or give dollars, e.g. 5.00")
    lowered = parse_usd(env, what=CEILING_ENV)
    if given is not None and lowered > given:
        raise InputError(
            f"{CEILING_ENV}={env} would raise the ceiling above {format_usd(given)} ({source});"
            " it may only lower it. A ceiling is raised by editing the manifest's ceiling_usd"
            " in a reviewed commit"
        )
    return lowered, CEILING_ENV
