"""One pre-flight run, put together: settings, checklist, facts, answer source, record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from minitrain import labs
from minitrain import settings as settings_module
from minitrain.budget_guard import check_label
from minitrain.errors import Interrupted
from minitrain.money import Amount, parse_usd
from minitrain.preflight import checklist as checklist_module
from minitrain.preflight import facts as facts_module
from minitrain.preflight.checklist import Step
from minitrain.preflight.record import RunRecord, find_resumable
from minitrain.preflight.runner import Outcome, Run
from minitrain.preflight.sources import Question, Scripted, Source, Terminal, load_answers

DEFAULT_CHECKLIST = Path("checklists/pre-flight.yaml")


@dataclass(frozen=True)
class Options:
    label: str
    estimate: Amount
    lab: str | None = None
    checklist: Path | None = None
    answers: Path | None = None
    dry_run: bool = False
    records: Path | None = None
    ledger: str | None = None
    ceiling: str | None = None
    manifest: str | None = None


def run_checklist(options: Options, *, terminal: Source | None = None) -> Outcome:
    """Run the checklist for ``options``; raises NotPassed, BudgetGuardExceeded, Interrupted,
    InputError. ``terminal`` replaces the real terminal (tests)."""
    label = check_label(options.label)
    estimate = parse_usd(options.estimate, what="--estimate")
    config = settings_module.resolve(
        ledger=options.ledger, ceiling=options.ceiling, manifest=options.manifest
    )
    root = config.manifest.root if config.manifest else Path.cwd()
    checklist = checklist_module.load(options.checklist or root / DEFAULT_CHECKLIST)
    guard = config.guard()
    status = guard.status()
    facts = facts_module.compute(
        label=label,
        estimate=estimate,
        lab=labs.resolve(label, options.lab).number,
        status=status,
        manifest=config.manifest,
    )
    folder = options.records or config.ledger_path.parent / "preflight"
    record = RunRecord(
        folder,
        checklist=checklist,
        facts=facts,
        ceiling_source=status.ceiling_source,
        dry_run=options.dry_run,
    )
    try:
        source = _source(options, checklist, terminal)
        earlier = None
        if not options.dry_run and options.answers is None:
            found = find_resumable(folder, checklist=checklist, facts=facts, before=record.path)
            if found is not None and _wants_resume(source, found[0], len(found[1])):
                record.data["resumed_from"] = found[0].name
                # keep the answers before the last one; the last completed step is asked again
                earlier = {r.step: r for r in found[1][:-1] if r.origin != "sensed" and r.passed}
    except BaseException as exc:  # no terminal, a bad answers file, Ctrl-C: still recorded
        aborted = isinstance(exc, (KeyboardInterrupt, Interrupted))
        record.finish("aborted" if aborted else "error", reason=str(exc) or type(exc).__name__)
        raise
    return Run(checklist, facts, guard, source, record, root, options.dry_run, earlier).go()


def _source(
    options: Options, checklist: checklist_module.Checklist, terminal: Source | None
) -> Source:
    if options.answers is None:  # a dry run without answers rehearses with a person
        return terminal or Terminal()
    answers = load_answers(options.answers, checklist, live=not options.dry_run)
    if options.dry_run:
        return Scripted(answers)
    return Scripted(answers, fallback=terminal or Terminal())


def _wants_resume(source: Source, path: Path, done: int) -> bool:
    step = Step(
        id="resume", kind="choice", say="", line=0, choices=("resume", "new"), critical=True
    )
    question = Question(
        "An earlier run of this label stopped",
        f"{path.name} stopped after {done} step(s). Resume (step {done} is asked again)"
        " or start a new run?",
        "",
        "type resume or new",
        lambda a: None if a.strip().lower() in ("resume", "new") else "type resume or new",
    )
    answer, _ = source.answer(step, question)
    return answer.strip().lower() == "resume"
