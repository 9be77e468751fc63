"""One pre-flight run, put together: settings, checklist, facts, answer source, record."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from minitrain import checklists, day, labs, runs, vendors
from minitrain import settings as settings_module
from minitrain._struct import Struct, replace
from minitrain.budget_guard import BudgetGuard, check_label
from minitrain.errors import InputError, Interrupted, Stopped
from minitrain.money import Amount, format_usd, parse_usd
from minitrain.preflight import checklist as checklist_module
from minitrain.preflight import facts as facts_module
from minitrain.preflight import gate as gate_module
from minitrain.preflight import prechecks
from minitrain.preflight.checklist import Step
from minitrain.preflight.gate import Outcome, Status
from minitrain.preflight.runner import Walk, ending
from minitrain.preflight.sources import (
    Question,
    Scripted,
    Source,
    Terminal,
    is_stop,
    load_answers,
    stoppable,
)
from minitrain.runs import ChecklistRef, Gate, Preflight, RunRecord, StepResult


class Options(Struct, frozen=True):
    label: str | None = None  # the pre-flight's own; later checklists take the open reservation's
    estimate: Amount | None = None
    lab: str | None = None
    checklist: Path | str | None = None  # a path, or a bare name: pre-flight, post-start, ...
    answers: Path | None = None
    dry_run: bool = False
    records: Path | None = None
    ledger: str | None = None
    ceiling: str | None = None
    manifest: str | None = None
    # the account the create will name (vastai --api-key/--url), for the vendor listing
    account: vendors.Account | None = None


def run_checklist(options: Options, *, terminal: Source | None = None) -> Outcome:
    """Run the checklist for ``options``; raises NotPassed, BudgetGuardExceeded, Interrupted,
    InputError. ``terminal`` replaces the real terminal (tests)."""
    config = settings_module.resolve(
        ledger=options.ledger, ceiling=options.ceiling, manifest=options.manifest
    )
    root = config.manifest.root if config.manifest else checklists.repository_root()
    given = Path(options.checklist) if options.checklist is not None else None
    checklist = checklist_module.load(checklists.locate(given, root=root))
    guard = config.guard()
    label, estimate = _label_and_estimate(options, checklist, guard)
    folder = options.records or config.runs_folder
    if not options.dry_run:
        finished = _finish_killed_gate(folder, label, guard)
        if finished is not None and finished[0] == checklist.sha256:
            return _with_next(finished[1], config.vendor)  # that run was this one, and it is done

    status = guard.status()
    facts = facts_module.compute(
        label=label,
        estimate=estimate,
        lab=labs.resolve(label, options.lab, guard.lab_caps),
        status=status,
        manifest=config.manifest,
        account=options.account,
    )
    record = RunRecord(
        folder,
        label=facts.label,
        estimate=facts.estimate,
        lab=facts.pool,
        ceiling=facts.ceiling,
        remaining=facts.remaining,
        ceiling_source=status.ceiling_source,
        checklist=ChecklistRef(checklist.id, checklist.version, checklist.path, checklist.sha256),
        dry_run=options.dry_run,
    )
    try:
        sensed = prechecks.check(checklist, facts=facts, status=status, guard=guard, root=root)
        source = _source(options, checklist, terminal)
        earlier = None
        if not options.dry_run and options.answers is None:
            earlier = _resume(source, record, folder, checklist, facts)
    except BaseException as exc:  # cannot pass, no terminal, a bad file, Ctrl-C: recorded
        record.finish(ending(exc), reason=str(exc) or type(exc).__name__)
        raise
    outcome = Walk(
        checklist, facts, guard, source, record, root, options.dry_run, earlier, sensed
    ).go()
    return _with_next(outcome, config.vendor)


# what a run that ended with each status did, for the day's next step (anything else recorded)
_DONE = {"authorized": "pre-flight", "would-authorize": "pre-flight", "confirmed": "post-start"}


def _with_next(outcome: Outcome, vendor: str) -> Outcome:
    done = _DONE.get(outcome.status, "post-flight")
    return replace(outcome, next=day.next_step(done, vendor=vendor))


def _label_and_estimate(
    options: Options, checklist: checklist_module.Checklist, guard: BudgetGuard
) -> tuple[str, Decimal]:
    """The pre-flight's label and estimate are typed (its gate reserves them); every later
    checklist of the day takes them from the open reservation (issue 23)."""
    if checklist.gate.action == "authorize":
        if options.label is None or options.estimate is None:
            raise InputError(
                f"{checklist.id} reserves money: give --label and --estimate, e.g."
                " `preflight run --label lab02-tp-spinup --estimate 3.00`"
            )
        return check_label(options.label), parse_usd(options.estimate, what="--estimate")
    if options.label is not None:  # named: its open reservation, else what the checks will say
        opened = day.open_of(guard.status(), options.label)
        estimate = opened.estimated if opened else options.estimate or 0
        return check_label(options.label), parse_usd(estimate, what="--estimate")
    pick = day.pick_at_terminal if sys.stdin.isatty() else None
    opened = day.reservation(guard.status(), None, pick=pick)
    assert opened.estimated is not None
    return opened.label, opened.estimated


def _resume(
    source: Source,
    record: RunRecord,
    folder: Path,
    checklist: checklist_module.Checklist,
    facts: facts_module.Facts,
) -> dict[str, StepResult] | None:
    found = runs.find_resumable(
        folder, facts.label, checklist_sha256=checklist.sha256, estimate=facts.estimate
    )
    if found is None:
        return None
    earlier, passed = found
    at_gate = _reached_gate(checklist, passed)
    if not _wants_resume(source, earlier, passed, checklist, at_gate=at_gate):
        return None
    record.resumed_from(earlier.path)
    # at the gate every answer is kept; else the last completed step is asked again
    kept = passed if at_gate else passed[:-1]
    return {r.step: r for r in kept if r.origin != "sensed"}


def _reached_gate(checklist: checklist_module.Checklist, passed: list[StepResult]) -> bool:
    """Whether every step before the gate that applied had passed: the run stopped at its gate
    (``stop``, Ctrl-C, a kill), so a resumed run goes back there."""
    answers = {r.step: r.answer.lower() for r in passed}
    for step in checklist.steps[:-1]:
        applies = step.when is None or answers.get(step.when.step) == step.when.equals.lower()
        if applies and step.id not in answers:
            return False
    return True


def _finish_killed_gate(folder: Path, label: str, guard: BudgetGuard) -> tuple[str, Outcome] | None:
    """A run killed at its gate saved the id of the ledger line it was writing: if the ledger
    holds that line, the run did authorize (or record), and its record is finished so (returned
    with its checklist's sha256); if not, nothing was written, and the record says it was
    interrupted (it can be resumed)."""
    run = runs.newest_live(folder, label)
    if run is None or not runs.gone(run):
        return None
    gate = run.gate
    if gate is not None and _in_ledger(guard, label, gate):
        return run.checklist_sha256, _finish_as_written(run, gate, guard)
    runs.close_interrupted(run)
    return None


def _in_ledger(guard: BudgetGuard, label: str, gate: Gate) -> bool:
    op_id = gate.op_id
    if gate.action == "authorize":
        return op_id is not None and guard.operation(op_id) is not None
    if op_id is not None:  # record_actual: the authorization it closes now has its actual
        op = guard.operation(op_id)
        return op is not None and op.actual is not None
    return any(  # an actual with nothing open: it stands alone under the label
        op.label == label and op.estimated is None for op in guard.operations()
    )


def _finish_as_written(run: Preflight, gate: Gate, guard: BudgetGuard) -> Outcome:
    authorized = gate.action == "authorize"
    status: Status = "authorized" if authorized else "recorded"
    amount = format_usd(parse_usd(gate.amount))
    message = (
        f"the run of {run.path.name} was killed after its gate wrote the ledger: {run.label}"
        f" {amount} is {'reserved' if authorized else 'recorded'} (op id {gate.op_id});"
        f" its record now says {status}, and nothing more was written"
    )
    remaining = guard.status().remaining
    runs.close_written(run, status, message, remaining_after=str(remaining) if authorized else None)
    return Outcome(status, run.path, message)


def _source(
    options: Options, checklist: checklist_module.Checklist, terminal: Source | None
) -> Source:
    if options.answers is None:  # a dry run without answers rehearses with a person
        return terminal or Terminal()
    answers = load_answers(options.answers, checklist, live=not options.dry_run)
    if options.dry_run:
        return Scripted(answers)
    return Scripted(answers, fallback=terminal or Terminal())


def _wants_resume(
    source: Source,
    earlier: Preflight,
    passed: list[StepResult],
    checklist: checklist_module.Checklist,
    *,
    at_gate: bool,
) -> bool:
    step = Step(
        id="resume", kind="choice", say="", line=0, choices=("resume", "new"), critical=True
    )
    last = passed[-1]
    index = next(i for i, s in enumerate(checklist.steps, 1) if s.id == last.step)
    if at_gate:
        again = "back at the gate, every answer kept; sensed steps are checked again"
    elif last.origin == "sensed":
        again = f"step {index} and the other sensed steps are checked again"
    else:
        again = f"step {index} ({last.step}) is asked again; sensed steps are checked again"
    when = earlier.finished_at or earlier.started_at or "?"
    question = Question(
        "An earlier run of this label stopped",
        f"{earlier.path.name} stopped ({earlier.status}, {when}) after {len(passed)} passed"
        f" step(s). Resume ({again}) or start a new run?",
        "",
        "type resume or new",
        lambda a: None if a.strip().lower() in ("resume", "new") else "type resume or new",
    )
    nothing = gate_module.nothing_done(checklist.gate)
    try:
        answer, _ = source.answer(step, stoppable(question))
    except Interrupted as exc:
        raise Interrupted(f"{exc} at the question whether to resume: {nothing}") from None
    if is_stop(answer):
        raise Stopped(f"you typed stop at the question whether to resume: {nothing}")
    return answer.strip().lower() == "resume"
