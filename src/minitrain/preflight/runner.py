"""Walk a checklist step by step, stop at the first failure, and gate the budget guard on it all.

Only a run in which every step passed reaches the gate; only a typed ``authorize`` at the gate
(or the scripted one) calls ``BudgetGuard.authorize`` (a dry run calls ``would_authorize``).
Every run leaves a record, whatever ends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from minitrain.budget_guard import BudgetGuard
from minitrain.errors import BudgetGuardExceeded, InputError, Interrupted, NotPassed
from minitrain.money import format_usd, parse_rate, parse_usd
from minitrain.preflight import senses
from minitrain.preflight.checklist import ASKABLE_SENSES, Checklist, Step
from minitrain.preflight.facts import Facts
from minitrain.preflight.record import RunRecord, StepResult
from minitrain.preflight.sources import Question, Source


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
            status = {
                NotPassed: "not-passed",
                Interrupted: "aborted",
                BudgetGuardExceeded: "refused",
            }.get(type(error), "error")
            self.record.finish(
                status,
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
                found = senses.sense(step, facts=self.facts, root=self.root)
            except InputError as exc:  # e.g. no vendor CLI here: a person answers instead
                if step.sense not in ASKABLE_SENSES:
                    raise
                self.source.show(f"\n({exc}; so you are asked instead)")
                return self._do(replace(step, kind="confirm", sense=None))
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
        question = Question(
            header,
            say,
            step.why.format_map(self.text),
            _instruction(step),
            lambda answer: _malformed(step, answer),
            step.default,
        )
        answer, origin = self.source.answer(step, question)
        passed, note = self._judge(step, answer)
        if not passed:
            self.source.show(f"  FAILED: {note}")
        return StepResult(
            step.id, step.kind, say, _normal(step, answer), origin, _now(), passed, note
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
            if answer == "stop":
                raise NotPassed("stopped at the gate: nothing was authorized")
            if answer.isdigit():
                step = self.checklist.steps[int(answer) - 1]
                self._take(self._do(step), changed=True)
                continue
            break
        self.record.add(StepResult(gate.id, "gate", question.text, answer, origin, _now(), True))
        return self._pass_gate(gate)

    def _pass_gate(self, gate: Step) -> Outcome:
        label, estimate = self.facts.label, self.facts.estimate
        lab_arg = self.facts.ledger_lab  # the one lab rule's answer, as `budget authorize` writes
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
                self.guard.record_actual(label, actual)
                message, status = f"recorded {label} actual {format_usd(actual)}", "recorded"
            self.record.finish(status, reason=message)
            return Outcome(status, self.record.path, message)
        if self.dry_run:
            self.guard.would_authorize(label, estimate, lab=lab_arg)
            status, verb = "would-authorize", "dry run: would authorize"
        else:
            self.guard.authorize(label, estimate, lab=lab_arg)
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
        if answer.isdigit():
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
                f" of the ceiling {format_usd(f.ceiling)}",
                "record_actual": f"\nGate: record the actual of {f.label}",
                "confirm": f"\nGate: confirm the checks above for {f.label}",
            }[self.checklist.gate.action or "authorize"]
        )
        return "\n".join(lines)

    def _header(self, step: Step) -> str:
        return f"Step {self._index(step)} of {len(self.checklist.steps)}"

    def _index(self, step: Step) -> int:
        return next(i for i, s in enumerate(self.checklist.steps, 1) if s.id == step.id)


def _instruction(step: Step) -> str:
    if step.kind == "confirm":
        return "type yes or no"
    if step.kind == "choice":
        return "type one of: " + ", ".join(step.choices)
    if step.type == "money":
        return "a dollar amount, e.g. 2.40"
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
    try:
        if step.type == "money":
            parse_usd(text, what="the amount")
        elif step.type == "number":
            parse_rate(text, what="the number")
    except InputError as exc:
        return str(exc)
    if step.type == "text" and step.pattern is not None:
        import re

        if not re.fullmatch(step.pattern, text):
            return f"that does not look right (expected to match {step.pattern})"
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
