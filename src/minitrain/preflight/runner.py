"""Walk a checklist step by step, stop at the first failure, and reach the gate only when all
passed.

Every run leaves a record, whatever ends it. The judging of an answer is in ``answers``, the
gate in ``gate``, the review shown before it in ``review``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from minitrain._struct import Struct, field, replace
from minitrain.budget_guard import BudgetGuard
from minitrain.errors import BudgetGuardExceeded, InputError, Interrupted, NotPassed, Stopped
from minitrain.preflight import answers, senses
from minitrain.preflight import gate as gate_module
from minitrain.preflight.checklist import ASKABLE_SENSES, Checklist, Step
from minitrain.preflight.facts import Facts
from minitrain.preflight.gate import Outcome
from minitrain.preflight.review import review
from minitrain.preflight.sources import Question, Source, is_stop, stoppable
from minitrain.runs import Origin, RunRecord, StepResult


class Walk(Struct):
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
        self.gate_answered = False

    def go(self) -> Outcome:
        current: Step | None = None
        try:
            for current in self.checklist.steps[:-1]:
                if self._applies(current):
                    self._keep(self._do(current))
            current = self.checklist.gate
            return self._gate()
        except BaseException as exc:  # every ending is recorded, then goes on up
            error = self._interrupted(exc, current)
            self.record.finish(
                ending(error),
                reason=str(error) or type(error).__name__,
                step=current.id if current else None,
            )
            self.source.show(f"record: {self.record.path}")
            if error is exc:
                raise
            raise error from None

    def _interrupted(self, exc: BaseException, step: Step | None) -> BaseException:
        """Ctrl-C (or the end of input) as one line naming the step it stopped at."""
        if not isinstance(exc, (KeyboardInterrupt, Interrupted)) or step is None:
            return exc
        how = str(exc) if isinstance(exc, Interrupted) and str(exc) else "Ctrl-C"
        if self.gate_answered:  # the ledger may be being written: say only where to look
            return Interrupted(
                f"{how} at the gate, after it was answered: `budget status` shows what the"
                " ledger holds"
            )
        return Interrupted(f"{how} at {self._where(step)}: {self._nothing()}")

    # --- one step -------------------------------------------------------------------------

    def _do(self, step: Step) -> StepResult:
        header = self._header(step)
        say = step.say.format_map(self.text)
        if step.kind == "sensed":
            return self._sense(step, header, say)
        kept = (self.earlier or {}).get(step.id)
        if kept is not None:
            self.source.show(
                f"\n{header}: {say}\n  -> {kept.answer} (kept from the interrupted run)"
            )
            return replace(kept, at=_now())
        return self._ask(step, header, say)

    def _sense(self, step: Step, header: str, say: str) -> StepResult:
        try:
            found = self.sensed.get(step.id) or senses.sense(step, facts=self.facts, root=self.root)
        except InputError as exc:  # e.g. no vendor CLI here: a person answers instead
            if step.sense not in ASKABLE_SENSES:
                raise
            self.source.show(f"\n({exc}; so you are asked instead)")
            asked = answers.asked_instead(step, self.facts.vendor)
            return self._ask(asked, header, asked.say)
        if found.fix is not None:
            self.fixes[step.id] = found.fix
        verdict = "ok" if found.passed else "FAILED"
        self.source.show(f"\n{header}: {say}\n  {verdict}: {found.note}")
        return StepResult(
            step.id, step.kind, say, found.value, "sensed", _now(), found.passed, found.note
        )

    def _ask(self, step: Step, header: str, say: str) -> StepResult:
        """Ask until the answer passes; a failed one is kept in the record and asked again
        with the reason. Only ``stop`` (or Ctrl-C / Ctrl-D) ends the run here."""
        question = Question(
            header,
            say,
            step.why.format_map(self.text),
            answers.instruction(step),
            lambda answer: answers.malformed(step, answer),
            step.default,
        )
        while True:
            answer, origin = self._answer(step, question)
            passed, note = answers.judge(step, answer, self.text)
            normal = answers.normal(step, answer)
            result = StepResult(step.id, step.kind, say, normal, origin, _now(), passed, note)
            if passed or origin != "person":
                if not passed:
                    self.source.show(f"  FAILED: {note}")
                return result
            self.record.retry(result)
            self.source.show(answers.ask_again(step, note, self.text))
            question = replace(question, default=None)

    def _answer(self, step: Step, question: Question) -> tuple[str, Origin]:
        """One answer from the source; ``stop`` at any question ends the run there."""
        answer, origin = self.source.answer(step, stoppable(question))
        if is_stop(answer):
            who = "you typed" if origin == "person" else "the answers file says"
            raise Stopped(f"{who} stop at {self._where(step)}: {self._nothing()}")
        return answer, origin

    def _keep(self, result: StepResult, *, changed: bool = False) -> None:
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

    def _applies(self, step: Step) -> bool:
        if step.when is None:
            return True
        earlier = self.results.get(step.when.step)
        return earlier is not None and earlier.answer.lower() == step.when.equals.lower()

    # --- the gate ---------------------------------------------------------------------------

    def _gate(self) -> Outcome:
        """The review, then the gate's question until its word is typed (a step number changes
        that step's answer and shows the review again)."""
        gate = self.checklist.gate
        word = gate_module.word(gate)
        while True:
            self.source.show(review(self.checklist, self.results, self.facts, self.text))
            question = Question(
                self._header(gate),
                gate.say.format_map(self.text),
                gate.why.format_map(self.text),
                f"type {word}, or a step number to change its answer",
                lambda answer: gate_module.answer_problem(answer, self.checklist, self.results),
                typed=word,
            )
            answer, origin = self._answer(gate, question)
            answer = answer.strip().lower()
            if not gate_module.DIGITS.fullmatch(answer):
                break
            step = self.checklist.steps[int(answer) - 1]
            self._keep(self._do(step), changed=True)
        self.gate_answered = True
        self.record.add(StepResult(gate.id, "gate", question.text, answer, origin, _now(), True))
        return gate_module.pass_gate(
            self.checklist, self.facts, self.guard, self.record, self.results, dry_run=self.dry_run
        )

    def _header(self, step: Step) -> str:
        return f"Step {self._index(step)} of {len(self.checklist.steps)}"

    def _where(self, step: Step) -> str:
        if step.kind == "gate":
            return f"the gate ({self._header(step).lower()})"
        return f"{self._header(step).lower()} ({step.id})"

    def _nothing(self) -> str:
        return gate_module.nothing_done(self.checklist.gate)

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
