"""A fake person who types scripted answers into the runner."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from minitrain.preflight.checklist import Step
from minitrain.preflight.session import Options, run_checklist
from minitrain.preflight.sources import Origin, Question

CI_ANSWERS = {
    "no-other-instances": "0",
    "budget-alert": "2.40",
    "auto-termination": "4",
    "instance-type": "0.70",
    "termination-plan": "runpodctl pod delete POD_ID",
    "gate": "authorize",
}


class FakePerson:
    """Types the given answers in order (several per step when re-asked), checking each."""

    def __init__(self, answers: dict[str, str | Iterable[str]]) -> None:
        self.queues = {k: [v] if isinstance(v, str) else list(v) for k, v in answers.items()}
        self.asked: list[str] = []
        self.rejected: list[tuple[str, str, str]] = []
        self.shown: list[str] = []
        self.questions: dict[str, str] = {}  # step id -> the question's text, as last asked
        self.hints: dict[str, str] = {}  # step id -> the hint beside the question, as last asked

    def answer(self, step: Step, question: Question) -> tuple[str, Origin]:
        self.asked.append(step.id)
        self.questions[step.id] = question.text
        self.hints[step.id] = question.instruction
        queue = self.queues.get(step.id)
        while queue:
            text = queue.pop(0)
            problem = question.validate(text)
            if problem is None:
                return text, "person"
            self.rejected.append((step.id, text, problem))  # a real prompt asks again
        raise EOFError(f"no more answers for {step.id}")

    def show(self, text: str) -> None:
        self.shown.append(text)


# shared by the tests of the walk, the gate and the run files
def ledger(lab: Path) -> Path:
    return lab / "experiments" / "35-cloud-budget" / "spend.jsonl"


def records(lab: Path) -> list[dict[str, object]]:
    folder = lab / "experiments" / "35-cloud-budget" / "preflight"
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [{**json.loads(p.read_text()), "name": p.name} for p in paths]


def go(lab: Path, person: FakePerson, **options: object) -> object:
    opts = Options(**{"label": "lab02-tp-spinup", "estimate": "3.00", **options})  # type: ignore[arg-type]
    return run_checklist(opts, terminal=person)
