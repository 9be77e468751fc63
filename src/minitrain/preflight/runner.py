"""Walk a checklist step by step, stop at the first failure, and gate the budget guard on it all.

Only a run in which every step passed reaches the gate; only a typed ``authorize`` at the gate
(or the scripted one) calls ``BudgetGuard.authorize`` (a dry run calls ``would_authorize``).
Every run leaves a record, whatever ends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from minitrain._records import new_id
from minitrain.budget_guard import BudgetGuard
from minitrain.errors import BudgetGuardExceeded, InputError, Interrupted, NotPassed, Stopped
from minitrain.money import format_usd, parse_rate, parse_usd
from minitrain.preflight import senses
from minitrain.preflight.checklist import ASKABLE_SENSES, Checklist, Step
from minitrain.preflight.facts import Facts
from minitrain.preflight.sources import Question, Source
from minitrain.runs import RunRecord, StepResult


@dataclass(frozen=True)
class Outcome:
    status: str  # authorized, would-authorize, recorded, would-record or confirmed
    record: Path
    message: str


@dataclass
class Run:
    checklist: Checklist
    facts: Facts
    guard: BudgetGuard
    source: Source
    record: RunRecord
    root: Path
    dry_run: bool = False
    earlier: Mapping[str, StepResult] | None = None  # answers kept from a resumed run
    sensed: Mapping[str, senses.Sensed] = field(default_factory=dict)  # by the pre-checks

    def __post_init__(self) -> None:
        self.text = self.facts.as_text()
        self.results: dict[str, StepResult] = {}
        self.fixes: dict[str, str] = {}  # a sensed step's own advice, when its check failed

    def go(self) -> Outcome:
        current: Step | None = None
        try:
            for current in self.checklist.steps[:-1]:
                if self._applies(current):
                    self._take(self._do(current))
            current = self.checklist.gate
            return self._gate()
        except BaseException as exc:  # every ending is recorded, then goes on up
            error = (
                Interrupted("interrupted (Ctrl-C)") if isinstance(exc, KeyboardInterrupt) else exc
            )
            self.record.finish(
                ending(error),
                reason=str(error) or type(error).__name__,
                step=current.id if current else None,
            )
            self.source.show(f"record: {self.record.path}")
            if error is exc:
                raise
            raise error from None

    # --- one step -------------------------------------------------------------------------

    def _do(self, step: Step) -> StepResult:
        header = self._header(step)
        say = step.say.format_map(self.text)
        if step.kind == "sensed":
            try:
                found = self.sensed.get(step.id) or senses.sense(
                    step, facts=self.facts, root=self.root
                )
            except InputError as exc:  # e.g. no vendor CLI here: a person answers instead
                if step.sense not in ASKABLE_SENSES:
                    raise
                self.source.show(f"\n({exc}; so you are asked instead)")
                asked = _asked_instead(step, self.facts.vendor)
                return self._ask(asked, header, asked.say)
            if found.fix is not None:
                self.fixes[step.id] = found.fix
            verdict = "ok" if found.passed else "FAILED"
            self.source.show(f"\n{header}: {say}\n  {verdict}: {found.note}")
            return StepResult(
                step.id, step.kind, say, found.value, "sensed", _now(), found.passed, found.note
            )
        kept = (self.earlier or {}).get(step.id)
        if kept is not None:
            self.source.show(
                f"\n{header}: {say}\n  -> {kept.answer} (kept from the interrupted run)"
            )
            return replace(kept, at=_now())
        return self._ask(step, header, say)

    def _ask(self, step: Step, header: str, say: str) -> StepResult:
        """Ask until the answer passes; a failed one is kept in the record and asked again
        with the reason. Only ``stop`` (or Ctrl-C / Ctrl-D) ends the run here."""
        question = Question(
            header,
            say,
            step.why.format_map(self.text),
            _instruction(step),
            lambda answer: _malformed(step, answer),
            step.default,
        )
        retrying = False
        while True:
            answer, origin = self.source.answer(step, question)
            if retrying and answer.strip().lower() == STOP:
                raise Stopped(
                    f"stopped at step {self._index(step)} ({step.id}): nothing was authorized"
                )
            passed, note = self._judge(step, answer)
            result = StepResult(
                step.id, step.kind, say, _normal(step, answer), origin, _now(), passed, note
            )
            if passed or origin != "person":
                if not passed:
                    self.source.show(f"  FAILED: {note}")
                return result
            self.record.retry(result)
            self.source.show(self._ask_again(step, note))
            retrying = True
            question = replace(
                question,
                instruction=f"{_instruction(step)}; or stop",
                validate=lambda answer: (
                    None if answer.strip().lower() == STOP else _malformed(step, answer)
                ),
                default=None,
            )

    def _ask_again(self, step: Step, note: str) -> str:
        """Why the answer failed and what to do: fix the console, then type what it shows."""
        fix = re.sub(r",? then rerun.*$", "", step.if_failed.format_map(self.text))
        typed = "yes" if step.kind == "confirm" else "the value you now see"
        return (
            f"  FAILED: {note}. "
            + (f"Fix it ({fix}), then" if fix else "Fix it, then")
            + f" type {typed}, or type stop"
        )

    def _take(self, result: StepResult, *, changed: bool = False) -> None:
        """Keep a step's result (a changed one replaces the earlier); stop if it failed."""
        self.results[result.step] = result
        (self.record.replace if changed else self.record.add)(result)
        if not result.passed:
            step = self.checklist.step(result.step)
            fix = self.fixes.pop(step.id, None) or step.if_failed.format_map(self.text)
            raise NotPassed(
                f"step {self._index(step)} ({step.id}) did not pass: {result.note}"
                + (f"; {fix}" if fix else "")
            )

    def _judge(self, step: Step, answer: str) -> tuple[bool, str]:
        """Whether a well-formed answer passes the step, and what to tell the person."""
        value = _normal(step, answer)
        if step.kind == "confirm":
            return value == "yes", f"answered {value}"
        if step.kind == "choice":
            return value in [p.lower() for p in step.passing], f"chose {value}"
        if step.type == "text":
            return True, ""
        return self._judge_number(step, value)

    def _judge_number(self, step: Step, value: str) -> tuple[bool, str]:
        number = parse_usd(value) if step.type == "money" else parse_rate(value)
        shown = format_usd(number) if step.type == "money" else f"{number:g} {step.unit or ''}"
        shown = shown.strip()
        if step.equals is not None:
            target = parse_usd(step.equals.format_map(self.text))
            if number != target:
                return False, f"you entered {shown}; it must be {format_usd(target)}"
        if step.max is not None and number > step.max:
            return False, f"you entered {shown}; the most allowed is {step.max:g}"
        if step.min is not None and number < step.min:
            return False, f"you entered {shown}; the least allowed is {step.min:g}"
        return True, shown

    def _applies(self, step: Step) -> bool:
        if step.when is None:
            return True
        earlier = self.results.get(step.when.step)
        return earlier is not None and earlier.answer.lower() == step.when.equals.lower()

    # --- the gate ---------------------------------------------------------------------------

    def _gate(self) -> Outcome:
        gate = self.checklist.gate
        while True:
            self.source.show(self._review())
            question = Question(
                self._header(gate),
                gate.say.format_map(self.text),
                gate.why.format_map(self.text),
                "type authorize, a step number to change its answer, or stop",
                self._gate_answer_problem,
            )
            answer, origin = self.source.answer(gate, question)
            answer = answer.strip().lower()
            if answer == STOP:
                raise Stopped("stopped at the gate: nothing was authorized")
            if _DIGITS.fullmatch(answer):
                step = self.checklist.steps[int(answer) - 1]
                self._take(self._do(step), changed=True)
                continue
            break
        self.record.add(StepResult(gate.id, "gate", question.text, answer, origin, _now(), True))
        return self._pass_gate(gate)

    def _pass_gate(self, gate: Step) -> Outcome:
        label, estimate = self.facts.label, self.facts.estimate
        lab_arg = self.facts.lab.number  # resolved once; the ledger line names it
        if gate.action == "confirm":  # a check with no money in it (e.g. after start-up)
            message = f"checked {self.checklist.id} for {label}: every step passed"
            self.record.finish("confirmed", reason=message)
            return Outcome("confirmed", self.record.path, message)
        if gate.action == "record_actual":
            assert gate.amount_from is not None
            actual = parse_usd(self.results[gate.amount_from].answer)
            if self.dry_run:
                message = f"dry run: would record {label} actual {format_usd(actual)}"
                status = "would-record"
            else:
                mine = [op for op in self.guard.status().open_operations if op.label == label]
                op_id = max(mine, key=lambda op: op.line).id if mine else None
                self.record.before_ledger("record_actual", op_id, str(actual))
                self.guard.record_actual(label, actual, op_id=op_id)
                message, status = f"recorded {label} actual {format_usd(actual)}", "recorded"
            self.record.finish(status, reason=message)
            return Outcome(status, self.record.path, message)
        if self.dry_run:
            self.guard.would_authorize(label, estimate, lab=lab_arg)
            status, verb = "would-authorize", "dry run: would authorize"
        else:
            op_id = new_id()  # saved before the line is written: a rerun can look it up
            self.record.before_ledger("authorize", op_id, str(estimate))
            self.guard.authorize(label, estimate, lab=lab_arg, op_id=op_id)
            status, verb = "authorized", "authorized"
        after = self.facts.remaining - estimate
        message = (
            f"{verb} {label} {format_usd(estimate)}; remaining {format_usd(after)}"
            f" of {format_usd(self.facts.ceiling)}"
        )
        self.record.finish(status, reason=message, remaining_after=str(after))
        return Outcome(status, self.record.path, message)

    def _gate_answer_problem(self, answer: str) -> str | None:
        answer = answer.strip().lower()
        if answer in ("authorize", "stop"):
            return None
        if _DIGITS.fullmatch(answer):  # ASCII digits only: "²".isdigit() is true
            index = int(answer)
            steps = self.checklist.steps
            if (
                1 <= index < len(steps)
                and steps[index - 1].id in self.results
                and steps[index - 1].kind not in ("sensed", "gate")
            ):
                return None
            return f"step {index} has no answer to change"
        return "type the whole word authorize, a step number, or stop"

    def _review(self) -> str:
        lines = ["", "Review: every answer"]
        for index, step in enumerate(self.checklist.steps[:-1], 1):
            result = self.results.get(step.id)
            if result is None:
                lines.append(f"  {index:>2}. {step.id:<28} (skipped: does not apply)")
            else:
                numeric = step.kind == "value" and step.type != "text"
                shown = result.note if result.origin == "sensed" or numeric else result.answer
                lines.append(f"  {index:>2}. {step.id:<28} {shown}  [{result.origin}]")
        f = self.facts
        lines.append(
            {
                "authorize": f"\nGate: authorize {format_usd(f.estimate)} for {f.label}"
                f" ({self.text['lab']}); remaining {format_usd(f.remaining)}"
                f" -> {format_usd(f.remaining - f.estimate)}"
                f" of the ceiling {format_usd(f.ceiling)}"
                + (
                    f"; {self.text['lab']}: {format_usd(f.lab_remaining)}"
                    f" -> {format_usd(f.lab_remaining - f.estimate)} of its cap"
                    f" {self.text['lab_cap']}"
                    if f.lab_remaining is not None
                    else ""
                ),
                "record_actual": f"\nGate: record the actual of {f.label}",
                "confirm": f"\nGate: confirm the checks above for {f.label}",
            }[self.checklist.gate.action or "authorize"]
        )
        return "\n".join(lines)

    def _header(self, step: Step) -> str:
        return f"Step {self._index(step)} of {len(self.checklist.steps)}"

    def _index(self, step: Step) -> int:
        return next(i for i, s in enumerate(self.checklist.steps, 1) if s.id == step.id)


def ending(error: BaseException) -> str:
    """The record's status for what ended a run."""
    if isinstance(error, KeyboardInterrupt):
        return "aborted"
    return {
        NotPassed: "not-passed",
        Stopped: "not-passed",
        Interrupted: "aborted",
        BudgetGuardExceeded: "refused",
    }.get(type(error), "error")


def _asked_instead(step: Step, vendor: str) -> Step:
    """A sensed instance listing asked of a person: a count that must be 0, not a yes/no a
    reflex passes."""
    return replace(
        step,
        kind="value",
        type="number",
        unit="instances",
        min=Decimal(0),
        max=Decimal(0),
        sense=None,
        default=None,
        say=f"How many instances does the {vendor} console list, running or stopped?"
        " Type the number you see there:",
    )


STOP = "stop"
_DIGITS = re.compile(r"[0-9]+")


def _instruction(step: Step) -> str:
    if step.kind == "confirm":
        return "type yes or no"
    if step.kind == "choice":
        return "type one of: " + ", ".join(step.choices)
    if step.type == "money":
        return "a dollar amount, as digits"  # no example figure: a tired eye copies it
    if step.type == "number":
        return f"a number of {step.unit}" if step.unit else "a number"
    return "type it out in full"


def _malformed(step: Step, answer: str) -> str | None:
    """Why ``answer`` is not a well-formed answer to ``step`` (to ask again), or None."""
    text = answer.strip()
    if not text:
        return "an answer is needed: " + _instruction(step)
    if step.kind == "confirm":
        return None if text.lower() in ("yes", "no") else "type the whole word yes, or no"
    if step.kind == "choice":
        options = [c.lower() for c in step.choices]
        return None if text.lower() in options else _instruction(step)
    problem = _not_a_number(step, text)
    if problem is not None:
        return problem
    if step.type == "text" and step.pattern is not None and not re.fullmatch(step.pattern, text):
        return f"that does not look right (expected to match {step.pattern})"
    return None


def _not_a_number(step: Step, text: str) -> str | None:
    try:
        if step.type == "money":
            parse_usd(text, what="the amount")
        elif step.type == "number":
            parse_rate(text, what="the number")
    except InputError as exc:
        if step.type == "number":  # money's words ("dollars") would confuse `4h`
            return f"{text!r} is not a number: type {_instruction(step)}, in digits only"
        return str(exc)
    return None


def _normal(step: Step, answer: str) -> str:
    text = answer.strip()
    if step.kind in ("confirm", "choice"):
        return text.lower()
    if step.type == "money":
        return str(parse_usd(text))
    return text


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
