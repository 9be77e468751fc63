"""The reservations of a label: one open at a time, and the one an actual closes.

A label names one operation. Two open reservations of it would reserve twice for one
operation, and an actual that closes none (a typo in the label) would count its money twice:
both are refused here, under the writer's lock, for every ledger backend (issue 21).
"""

from __future__ import annotations

from collections.abc import Callable

from minitrain.errors import AlreadyOpen, AlreadyRecorded, InputError, NoReservation
from minitrain.ledger.entries import Entry
from minitrain.ledger.totals import Operation, Totals
from minitrain.money import format_usd


def same_label(a: str, b: str) -> bool:
    """One label, however its letters are cased (`Lab02-X` is `lab02-x`)."""
    return a.casefold() == b.casefold()


def open_reservations(totals: Totals, label: str) -> list[Entry]:
    """The label's open reservations, oldest first (more than one only after a union merge of
    two clones, or in a ledger written before issue 21)."""
    return sorted(
        (r for r in totals.open_ops.values() if same_label(r.op_label, label)),
        key=lambda r: r.line,
    )


def refuse_if_open(totals: Totals, label: str) -> None:
    """One label, one open reservation: a second would reserve twice for one operation."""
    mine = open_reservations(totals, label)
    if not mine:
        return
    op = mine[-1]
    assert op.estimated is not None
    raise AlreadyOpen(op_label=op.op_label, op_id=op.id, estimated=op.estimated, at=op.ts)


def closed_by(
    totals: Totals,
    operations: Callable[[], list[Operation]],
    label: str,
    op_id: str | None,
    unplanned: bool,
) -> Entry | None:
    """The authorization an actual closes: the one named, else the label's latest open one;
    None for an unplanned actual. Refuses an actual that closes nothing (``operations`` reads
    every line: only on that rare path)."""
    mine = open_reservations(totals, label)
    if op_id is not None:
        mine = [r for r in mine if r.id == op_id]
    if mine and not unplanned:
        return mine[-1]
    if mine:
        raise InputError(
            f"{mine[-1].op_label} has an open reservation; its actual closes it: record it"
            " without --unplanned"
        )
    everything = operations()
    if op_id is not None and not any(
        op.id == op_id and same_label(op.label, label) for op in everything
    ):
        raise InputError(f"no authorization {op_id} of {label!r} in the ledger")
    done = [
        op for op in everything if same_label(op.label, label) and (op_id is None or op.id == op_id)
    ]
    if done:
        first = done[0]
        assert first.actual is not None and first.recorded_at is not None
        raise AlreadyRecorded(
            f"the actual of {label!r} was already recorded: {format_usd(first.actual)} at"
            f" {first.recorded_at:%Y-%m-%d %H:%M:%S} UTC (ledger line {first.actual_line});"
            " an actual is recorded once per authorization. If this is another spend,"
            " record it under a new label"
        )
    if unplanned:
        return None
    raise NoReservation(_no_reservation(label, totals))


def _no_reservation(label: str, totals: Totals) -> str:
    """Why an actual for ``label`` is refused, with the open labels nearest to it first."""
    from difflib import SequenceMatcher  # only on this refusal

    def distance(other: str) -> float:
        return -SequenceMatcher(None, label.casefold(), other.casefold()).ratio()

    open_labels = sorted({r.op_label for r in totals.open_ops.values()}, key=distance)
    shown = ", ".join(open_labels[:5]) + (" ..." if len(open_labels) > 5 else "")
    which = f"the open ones are: {shown}" if open_labels else "nothing is open"
    return (
        f"no open reservation of {label!r} ({which}); an actual closes the reservation its"
        " pre-flight made. If the money was spent without one, say so: `budget record"
        f" --unplanned {label} USD`"
    )
