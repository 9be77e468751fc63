"""The day as a value: the open reservation the day's later commands act on, and what comes next.

The pre-flight is the one place a label and an estimate are typed (issue 23). Every later
command of the day (launch, post-start, watch, record, post-flight) takes them from the open
reservation: the only one, the one a script names with ``--label``, or the one a person picks
from a numbered list at a terminal (never by retyping the label). That is context, not an
answer: every critical value of a checklist is still typed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from minitrain.budget_guard import Operation, Status
from minitrain.errors import InputError, Interrupted, NoReservation
from minitrain.money import format_usd
from minitrain.reservations import same_label

Pick = Callable[[Sequence[Operation]], Operation]

PREFLIGHT = "preflight run --label LABEL --estimate USD"
# what a create looks like, per vendor, in the next-step line after a passing pre-flight
CREATE = {
    "runpod": "runpodctl pod create ... --terminate-after <UTC time within 4 h>",
    "vast": "vastai create instance OFFER_ID --image IMAGE ...",
}


def open_of(status: Status, label: str) -> Operation | None:
    """The label's open reservation (the latest, should a union merge have brought two)."""
    mine = [op for op in status.open_operations if same_label(op.label, label)]
    return max(mine, key=lambda op: op.line) if mine else None


def reservation(status: Status, label: str | None, *, pick: Pick | None = None) -> Operation:
    """The open reservation a later command of the day acts on. ``pick``: how a person at a
    terminal chooses among several (None: a script, which must name one with ``--label``)."""
    open_ops = sorted(status.open_operations, key=lambda op: op.line)
    if label is not None:
        named = open_of(status, label)
        if named is not None:
            return named
        shown = ", ".join(op.label for op in open_ops) or "nothing is open"
        raise NoReservation(
            f"{label!r} has no open reservation ({shown}); the day starts with the pre-flight:"
            f" `{PREFLIGHT}`"
        )
    if not open_ops:
        raise NoReservation(f"nothing is open; the day starts with the pre-flight: `{PREFLIGHT}`")
    if len(open_ops) == 1:
        return open_ops[0]
    if pick is None:
        listed = ", ".join(op.label for op in open_ops)
        raise InputError(f"{len(open_ops)} reservations are open ({listed}); name one with --label")
    return pick(open_ops)


def pick_at_terminal(open_ops: Sequence[Operation]) -> Operation:
    """A numbered list on stderr; the person types its number (a label is never retyped)."""
    for number, op in enumerate(open_ops, 1):
        estimated = format_usd(op.estimated) if op.estimated is not None else "?"
        print(f"  {number}. {op.label}  {estimated}", file=sys.stderr)
    while True:
        print(f"which reservation (1-{len(open_ops)})? ", end="", file=sys.stderr, flush=True)
        try:
            typed = input().strip()
        except EOFError:
            raise Interrupted("no reservation was picked; nothing was done") from None
        if typed.isascii() and typed.isdigit() and 1 <= int(typed) <= len(open_ops):
            return open_ops[int(typed) - 1]
        print(f"type a number from 1 to {len(open_ops)}", file=sys.stderr)


def next_step(done: str, *, vendor: str = "runpod") -> str:
    """The line that ends a command: the next step of the day after ``done`` (a pre-flight,
    a launch, a post-start; anything else closed the reservation)."""
    if done == "pre-flight":
        return f"next: {_launch(vendor)}"
    if done == "launch":
        return "next: preflight run post-start   (on the instance itself: preflight hardware)"
    if done == "post-start":
        return "next: when the work is done, end the instance, then: preflight run post-flight"
    return "next: nothing more today; `budget status` shows the books"


def next_for(op: Operation, *, launched: bool, vendor: str) -> str:
    """`budget status`'s line for one open reservation: launch it, or close it."""
    after = "preflight run post-flight" if launched else _launch(vendor)
    return f"next for {op.label}: {after}"


def _launch(vendor: str) -> str:
    return f"budget launch -- {CREATE.get(vendor, CREATE['runpod'])}"
