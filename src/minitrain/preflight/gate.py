"""The gate: the last step, where a passed walk authorizes (or records, or confirms).

Each gate takes its own word: ``authorize`` (a reservation), ``record`` (an actual cost),
``confirm`` (checks with no money in them). Only a typed ``authorize`` at an authorizing gate
(or the scripted one) calls ``BudgetGuard.authorize``; a dry run calls ``would_authorize``. The
id of the ledger line is saved in the run's file before the line is written, so a rerun after a
kill can tell whether it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Literal

from minitrain import day
from minitrain._struct import Struct
from minitrain.budget_guard import BudgetGuard
from minitrain.ledger.entries import new_id
from minitrain.money import format_usd, parse_usd
from minitrain.preflight.checklist import Checklist, Step
from minitrain.preflight.facts import Facts
from minitrain.runs import RunRecord, StepResult

Status = Literal["authorized", "would-authorize", "recorded", "would-record", "confirmed"]
DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: "²".isdigit() is true


class Outcome(Struct, frozen=True):
    status: Status
    record: Path
    message: str
    next: str = ""  # the day's next step (``day.next_step``), filled in by the session


# The word each gate takes: what it does, so that a habit learned at one gate never passes
# another (typing `authorize` to record a cost taught that the word means nothing).
WORDS = {"authorize": "authorize", "record_actual": "record", "confirm": "confirm"}
_DONE = {"authorize": "authorized", "record_actual": "recorded", "confirm": "confirmed"}


def word(gate: Step) -> str:
    return WORDS[gate.action or "authorize"]


def nothing_done(gate: Step) -> str:
    return f"nothing was {_DONE[gate.action or 'authorize']}"


def answer_problem(
    answer: str, checklist: Checklist, results: Mapping[str, StepResult]
) -> str | None:
    """Why ``answer`` is not an answer to the gate: its word, or a changeable step."""
    answer = answer.strip().lower()
    expected = word(checklist.gate)
    if answer == expected:
        return None
    if DIGITS.fullmatch(answer):
        index = int(answer)
        steps = checklist.steps
        if (
            1 <= index < len(steps)
            and steps[index - 1].id in results
            and steps[index - 1].kind not in ("sensed", "gate")
        ):
            return None
        return f"step {index} has no answer to change"
    if answer in WORDS.values():
        return f"this gate takes {expected}, not {answer}: type the whole word {expected}"
    return f"type the whole word {expected}, or a step number"


def pass_gate(
    checklist: Checklist,
    facts: Facts,
    guard: BudgetGuard,
    record: RunRecord,
    results: Mapping[str, StepResult],
    *,
    dry_run: bool,
) -> Outcome:
    """Do what the gate says, once every step passed and the gate was answered."""
    gate = checklist.gate
    if gate.action == "confirm":  # a check with no money in it (e.g. after start-up)
        message = f"checked {checklist.id} for {facts.label}: every step passed"
        record.finish("confirmed", reason=message)
        return Outcome("confirmed", record.path, message)
    if gate.action == "record_actual":
        assert gate.amount_from is not None
        actual = parse_usd(results[gate.amount_from].answer)
        return _record_actual(facts.label, actual, guard, record, dry_run=dry_run)
    return _authorize(facts, guard, record, dry_run=dry_run)


def _record_actual(
    label: str, actual: Decimal, guard: BudgetGuard, record: RunRecord, *, dry_run: bool
) -> Outcome:
    status: Status
    if dry_run:
        message = f"dry run: would record {label} actual {format_usd(actual)}"
        status = "would-record"
    else:
        opened = day.open_of(guard.status(), label)
        op_id = opened.id if opened else None
        record.before_ledger("record_actual", op_id, str(actual))
        guard.record_actual(label, actual, op_id=op_id)
        message, status = f"recorded {label} actual {format_usd(actual)}", "recorded"
    record.finish(status, reason=message)
    return Outcome(status, record.path, message)


def _authorize(facts: Facts, guard: BudgetGuard, record: RunRecord, *, dry_run: bool) -> Outcome:
    label, estimate = facts.label, facts.estimate
    lab = facts.lab.number  # resolved once; the ledger line names it
    status: Status
    if dry_run:
        guard.would_authorize(label, estimate, lab=lab)
        status, verb = "would-authorize", "dry run: would authorize"
        after = guard.status().remaining - estimate
    else:
        op_id = new_id()  # saved before the line is written: a rerun can look it up
        record.before_ledger("authorize", op_id, str(estimate))
        guard.authorize(label, estimate, lab=lab, op_id=op_id)
        status, verb = "authorized", "authorized"
        # read again: another writer may have spent since the run began (issue 21's twin
        # runs both said "remaining $1.70" while the books said $1.20)
        after = guard.status().remaining
    message = (
        f"{verb} {label} {format_usd(estimate)}; remaining {format_usd(after)}"
        f" of {format_usd(facts.ceiling)}"
    )
    record.finish(status, reason=message, remaining_after=str(after))
    return Outcome(status, record.path, message)
