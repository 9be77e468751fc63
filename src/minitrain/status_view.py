"""What ``budget status`` prints: the ceiling, spent, reserved and remaining, each lab against
its cap, and the open (or every) operation.

Apart from ``report`` (``budget report``), whose types this command does not need: it must start
fast.
"""

from __future__ import annotations

from minitrain.ledger.entries import LOSS_LABEL
from minitrain.money import format_usd, usd_text

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from decimal import Decimal

    from minitrain.budget_guard import Operation, Status


def status_text(status: Status, operations: list[Operation], *, listed: str) -> str:
    open_count = len(status.open_operations)
    lines = [
        f"ledger     {status.location}",
        f"ceiling    {format_usd(status.ceiling)}  (from {status.ceiling_source})",
        f"spent      {format_usd(status.spent)}  (of which {format_usd(status.reserved)}"
        f" reserved by {open_count} open authorization(s))",
        f"remaining  {format_usd(status.remaining)}",
    ]
    if status.lab_caps:
        lines += ["", f"{'lab':<8} {'cap':>8} {'spent':>8} {'remaining':>10}"]
        for lab, cap in status.lab_caps.items():
            spent = status.lab_spent(lab)
            lines.append(
                f"{lab:<8} {format_usd(cap):>8} {format_usd(spent):>8}"
                f" {format_usd(cap - spent):>10}"
            )
    if operations:
        lines += ["", f"{'line':>5}  {'operation':<28} {'estimated':>10} {'actual':>9}  state"]
        for op in operations:
            estimated = format_usd(op.estimated) if op.estimated is not None else "-"
            actual = format_usd(op.actual) if op.actual is not None else "-"
            if op.is_open:
                state = "open (reserved)"
            elif op.estimated is not None:
                state = "closed"
            else:  # an actual with no reservation: said so with --unplanned, or a repair's loss
                state = "lost; recorded by repair" if op.label == LOSS_LABEL else "unplanned"
            lines.append(f"{op.line:>5}  {op.label:<28} {estimated:>10} {actual:>9}  {state}")
    if listed == "open":
        lines += ["", "(open authorizations only; `budget status --all` lists every operation)"]
    return "\n".join(lines)


def status_json(status: Status, operations: list[Operation]) -> dict[str, object]:
    def money(value: Decimal | None) -> str | None:
        return None if value is None else usd_text(value)

    return {
        "ledger": status.location,
        "currency": "USD",
        "ceiling": money(status.ceiling),
        "ceiling_source": status.ceiling_source,
        "spent": money(status.spent),
        "reserved": money(status.reserved),
        "remaining": money(status.remaining),
        "labs": [
            lab_json(lab, cap, spent=status.lab_spent(lab), reserved=_reserved(status, lab))
            for lab, cap in status.lab_caps.items()
        ],
        "operations": [
            {
                "id": op.id,
                "label": op.label,
                "lab": op.lab,
                "estimated": money(op.estimated),
                "actual": money(op.actual),
                "open": op.is_open,
                "line": op.line,
                "authorized_at": op.authorized_at.isoformat() if op.authorized_at else None,
                "recorded_at": op.recorded_at.isoformat() if op.recorded_at else None,
            }
            for op in operations
        ],
    }


def lab_json(
    lab: str, cap: Decimal | None, *, spent: Decimal, reserved: Decimal
) -> dict[str, str | None]:
    """One lab in `budget status --json` and `budget report --json` alike (issue 25): its cap,
    what it has spent (reserved + actual) and what remains."""
    return {
        "lab": lab,
        "cap": None if cap is None else usd_text(cap),
        "spent": usd_text(spent),
        "reserved": usd_text(reserved),
        "actual": usd_text(spent - reserved),
        "remaining": None if cap is None else usd_text(cap - spent),
    }


def _reserved(status: Status, pool: str) -> Decimal:
    """What the open reservations hold of one cap."""
    from decimal import Decimal

    from minitrain.labs import pool_of

    return sum(
        (
            op.estimated
            for op in status.open_operations
            if op.estimated is not None and pool_of(op.lab, status.lab_caps) == pool
        ),
        Decimal(0),
    )
