"""What a run can know before its first question: if it cannot pass, say so and ask nothing.

A tired person who answers four critical questions and is then told at step 5 that the budget
had no room learns to distrust the checklist. Everything the runner senses without the person
is checked here first: a positive estimate, no open reservation of the same label, the
checklist's person-free sensed steps (headroom, the vendor's instance listing), and what the
guard would decide (the ceiling and the lab's cap).
"""

from __future__ import annotations

from pathlib import Path

from minitrain.budget_guard import BudgetGuard, Status
from minitrain.errors import AlreadyOpen, AlreadyRecorded, InputError, NoReservation, NotPassed
from minitrain.money import format_usd
from minitrain.preflight import senses
from minitrain.preflight.checklist import Checklist
from minitrain.preflight.facts import Facts
from minitrain.vendors import VendorUnavailable

BEFORE_ANYONE = ("headroom", "instances")  # sensed without the person's doing anything


def check(
    checklist: Checklist, *, facts: Facts, status: Status, guard: BudgetGuard, root: Path
) -> dict[str, senses.Sensed]:
    """Raise NotPassed (or BudgetGuardExceeded) naming what stops the run and what to do;
    return what was sensed, so the steps show it instead of asking the vendor again."""
    text = facts.as_text()
    if checklist.gate.action == "authorize":
        _estimate_and_open(facts, guard)
    if checklist.gate.action == "record_actual":
        _something_to_record(facts.label, guard)
    sensed: dict[str, senses.Sensed] = {}
    for index, step in enumerate(checklist.steps, 1):
        if step.kind != "sensed" or step.sense not in BEFORE_ANYONE or step.when is not None:
            continue
        try:
            found = senses.sense(step, facts=facts, root=root)
        except (VendorUnavailable, InputError):
            continue  # no vendor CLI here: the person is asked at that step
        if not found.passed:
            fix = found.fix or step.if_failed.format_map(text)  # a failed CLI has its own advice
            raise NotPassed(
                f"this run cannot pass, so nothing was asked: step {index} ({step.id}):"
                f" {found.note}" + (f"; {fix}" if fix else "")
            )
        sensed[step.id] = found
    if checklist.gate.action == "authorize":
        guard.would_authorize(facts.label, facts.estimate, lab=facts.lab.number)
    return sensed


def _estimate_and_open(facts: Facts, guard: BudgetGuard) -> None:
    if facts.estimate <= 0:
        raise NotPassed(
            f"the estimate is {format_usd(facts.estimate)}: a reservation of nothing lets an"
            " instance run unaccounted; give what the run will cost, e.g. --estimate 3.00"
        )
    try:
        guard.would_open(facts.label)
    except AlreadyOpen as exc:
        raise NotPassed(str(exc)) from None


def _something_to_record(label: str, guard: BudgetGuard) -> None:
    """An actual closes an open reservation: with none open, asking is futile."""
    try:
        guard.would_record_actual(label)
    except (AlreadyRecorded, NoReservation) as exc:
        raise NotPassed(f"nothing to record: {exc}") from None
