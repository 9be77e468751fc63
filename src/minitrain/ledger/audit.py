"""What ``budget verify`` judges once every line is sound: each limit (the ceiling and every cap),
whether the books are over it, which operations took them over, and why.

A single clone cannot go over a limit by authorizing (authorize refuses first), so being over
has three causes, told apart here because their fixes differ: actuals above their estimates
(the work cost more than reserved: nothing was merged wrongly), unplanned actuals (recorded
without a reservation, said so with ``--unplanned``), or authorizations that together pass the
limit (two clones merged with ``merge=union``, writers using different ceilings, or two names
of one file written by a version that took a lock per name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from minitrain import labs
from minitrain.ledger.totals import Operation
from minitrain.money import format_usd

# Every way authorizations can together pass a limit that one clone's guard would refuse; the
# lines alone do not say which happened, so all are named (issue 21: blaming one misleads).
TOGETHER_CAUSES = (
    "The causes this cannot tell apart: two clones' ledgers merged (git merge=union), writers"
    " with different ceilings, or two names of one file (a hard link, a bind mount) written by"
    " a version older than its one lock per file"
)


@dataclass(frozen=True)
class Breach:
    limit_name: str  # "ceiling", "lab 02 cap", "buffer cap"
    limit: Decimal
    spent: Decimal
    culprits: tuple[Operation, ...]
    actuals_above_estimates: bool
    unplanned: bool = False  # actuals recorded without a reservation took it over

    def message(self) -> str:
        if self.unplanned:
            named = ", ".join(
                f"{op.label} (line {op.line}, {format_usd(op.charged)})" for op in self.culprits
            )
            cause = (
                f"the reservations fit; unplanned actuals (recorded without a reservation, with"
                f" --unplanned) took it over: {named}. Nothing was merged wrongly: the money was"
                " spent; reserve before spending next time"
            )
        elif self.actuals_above_estimates:
            named = ", ".join(
                f"{op.label} (line {op.line}: estimate {format_usd(op.estimated or Decimal(0))},"
                f" actual {format_usd(op.actual or Decimal(0))})"
                for op in self.culprits
            )
            cause = (
                f"the reservations fit; actuals above their estimates took it over: {named}."
                " Nothing was merged wrongly: lower the next estimates, or raise the cap in the"
                " manifest in a reviewed commit"
            )
        else:
            named = ", ".join(
                f"{op.label} (line {op.line}, {format_usd(op.charged)})" for op in self.culprits
            )
            cause = (
                f"authorizations that together pass it, from {named} on. {TOGETHER_CAUSES};"
                " void or settle them with a person, and share one ledger (PostgreSQL) when"
                " several machines spend"
            )
        return (
            f"OVER THE {self.limit_name.upper()}: spent {format_usd(self.spent)} of"
            f" {format_usd(self.limit)}; {cause}"
        )


def breaches(
    operations: list[Operation], *, ceiling: Decimal, caps: Mapping[str, Decimal]
) -> list[Breach]:
    """Every limit the books are over, the ceiling first, then each cap."""
    limits: list[tuple[str, Decimal, list[Operation]]] = [("ceiling", ceiling, operations)]
    for pool, cap in caps.items():
        members = [op for op in operations if labs.pool_of(op.lab, caps) == pool]
        limits.append((labs.cap_name(pool), cap, members))
    found = []
    for name, limit, members in limits:
        breach = _judge(name, limit, members)
        if breach is not None:
            found.append(breach)
    return found


def caps_over_ceiling(ceiling: Decimal, caps: Mapping[str, Decimal]) -> str | None:
    """A note when the caps add up to more than the ceiling in force (lowered by the variable
    or --ceiling): then the ceiling binds before the caps do."""
    total = sum(caps.values(), Decimal(0))
    if not caps or total <= ceiling:
        return None
    listed = " + ".join(f"{pool} {format_usd(cap)}" for pool, cap in caps.items())
    return (
        f"the caps add up to {format_usd(total)} ({listed}), more than the ceiling"
        f" {format_usd(ceiling)}: the ceiling binds first"
    )


def _judge(name: str, limit: Decimal, members: list[Operation]) -> Breach | None:
    spent = _sum(op.charged for op in members)
    if spent <= limit:
        return None
    reserved = _sum(op.estimated if op.estimated is not None else op.charged for op in members)
    if reserved <= limit:
        above = tuple(
            op for op in members if op.estimated is not None and op.charged > op.estimated
        )
        return Breach(name, limit, spent, above, actuals_above_estimates=True)
    planned = _sum(op.estimated for op in members if op.estimated is not None)
    if planned <= limit:
        unplanned = tuple(op for op in members if op.estimated is None)
        return Breach(name, limit, spent, unplanned, False, unplanned=True)
    running = Decimal(0)
    for index, op in enumerate(members):
        running += op.estimated if op.estimated is not None else op.charged
        if running > limit:
            return Breach(name, limit, spent, tuple(members[index:]), False)
    raise AssertionError("unreachable: the reservations were over the limit")  # pragma: no cover


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal(0))
