"""Where an answer comes from, chosen once per run: a person at a terminal, or a scripted file.

(Sensed answers are the runner's own: see ``senses.py``.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from minitrain._struct import Struct, replace
from minitrain.errors import FileFormatError, InputError
from minitrain.preflight import _yaml
from minitrain.preflight.answers import STOP
from minitrain.preflight.checklist import ASKABLE_SENSES, Checklist, Step
from minitrain.runs import Origin


class Question(Struct, frozen=True):
    header: str  # "Step 3 of 8"
    text: str  # the step's `say`, with every fact filled in
    why: str
    instruction: str  # how to answer: "type yes or no"
    validate: Callable[[str], str | None]  # None when the text is a well-formed answer
    default: str | None = None
    typed: str | None = None  # a gate's word: its Enter must arrive alone, as a hand types it


def is_stop(answer: str) -> bool:
    return answer.strip().lower() == STOP


def stoppable(question: Question) -> Question:
    """Every question takes ``stop``, the first time it is asked, and its hint says so."""
    validate = question.validate
    return replace(
        question,
        instruction=f"{question.instruction}; stop ends the run",
        validate=lambda answer: None if is_stop(answer) else validate(answer),
    )


class Source(Protocol):
    def answer(self, step: Step, question: Question) -> tuple[str, Origin]: ...

    def show(self, text: str) -> None: ...


class Terminal:
    """A person at a terminal. Refuses to exist without one: piped input never answers."""

    def __init__(self, *, io: dict[str, Any] | None = None) -> None:
        # Only stdin must be a terminal: `preflight run ... | tee log` keeps a log, while
        # `yes | preflight run ...` would answer with whatever the pipe holds.
        if io is None and not sys.stdin.isatty():
            raise InputError(
                "no terminal: `preflight run` asks a person at a terminal, and piped input never"
                " answers a checklist; in CI use --answers FILE --dry-run"
            )
        self._io = io

    def answer(self, step: Step, question: Question) -> tuple[str, Origin]:
        from minitrain.preflight import prompts  # the prompt library loads only when asked

        self.show(f"\n{question.header}{'  (critical)' if step.critical else ''}")
        if question.why:
            self.show(f"  why: {question.why}")
        text = prompts.ask(
            question.text,
            # beside the cursor, the one place a small terminal never scrolls away
            instruction=f"({question.header}: {question.instruction})",
            validate=question.validate,
            default=question.default or "",
            typed=question.typed,
            io=self._io,
        )
        return text.strip(), "person"

    def show(self, text: str) -> None:
        print(text, flush=True)


class Answers(Struct, frozen=True):
    """A scripted answers file: ``step-id: answer`` per line, every answer read as text."""

    path: Path
    values: Mapping[str, str]
    lines: Mapping[str, int]


def load_answers(path: Path, checklist: Checklist, *, live: bool) -> Answers:
    """Read an answers file and check it against the checklist: unknown, sensed or (in a live
    run) not-scriptable steps are errors naming the key; so is a missing answer to a step that
    is always asked."""
    data = _yaml.read(path, strings_only=True)
    if not isinstance(data, _yaml.LineDict):
        raise FileFormatError("an answers file is a mapping of step id to answer", path=path)
    ids = {step.id: step for step in checklist.steps}
    for key, value in data.items():
        line = data.key_lines[key]
        step = ids.get(key)
        if step is None:
            raise FileFormatError(
                f"unknown step {key!r}; {checklist.path} has no such step", path=path, line=line
            )
        if step.kind == "sensed" and step.sense not in ASKABLE_SENSES:
            raise FileFormatError(
                f"step {key!r} is sensed by the runner; it takes no answer", path=path, line=line
            )
        if not isinstance(value, str):
            raise FileFormatError(f"the answer to {key!r} must be plain text", path=path, line=line)
        if live and not step.scripted:
            raise FileFormatError(
                f"step {key!r} must be answered by a person in a live run (the checklist does"
                " not mark it scripted: true); use --dry-run to rehearse",
                path=path,
                line=line,
            )
    if not live:
        for step in checklist.steps:
            if step.kind != "sensed" and step.when is None and step.id not in data:
                raise FileFormatError(
                    f"no answer for step {step.id!r} ({checklist.path}:{step.line})", path=path
                )
    return Answers(path, dict(data), dict(data.key_lines))


class Scripted:
    """Answers from a file; in a live run, steps it does not answer go to ``fallback``."""

    def __init__(self, answers: Answers, *, fallback: Source | None = None) -> None:
        self._answers = answers
        self._fallback = fallback

    def answer(self, step: Step, question: Question) -> tuple[str, Origin]:
        raw = self._answers.values.get(step.id)
        if raw is None:
            if self._fallback is not None:
                return self._fallback.answer(step, question)
            raise FileFormatError(f"no answer for step {step.id!r}", path=self._answers.path)
        problem = question.validate(raw)
        if problem is not None:
            raise FileFormatError(
                f"the answer {raw!r} to step {step.id!r} is not accepted: {problem}",
                path=self._answers.path,
                line=self._answers.lines[step.id],
            )
        self.show(f"{question.header}: {question.text}\n  -> {raw} (scripted)")
        return raw.strip(), "scripted"

    def show(self, text: str) -> None:
        if self._fallback is not None:
            self._fallback.show(text)
        else:
            print(text, flush=True)
