"""A fake person who types scripted answers into the runner."""

from __future__ import annotations

from collections.abc import Iterable

from minitrain.preflight.checklist import Step
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

    def answer(self, step: Step, question: Question) -> tuple[str, Origin]:
        self.asked.append(step.id)
        self.questions[step.id] = question.text
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
