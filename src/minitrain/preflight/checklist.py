"""A checklist: YAML validated once, at the boundary, into frozen :class:`Checklist` types.

Which keys exist and their types are declared in ``preflight.fields``; this module checks what
they say (ids, templates, patterns, conditions, the one gate) and freezes the result.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from minitrain._struct import Struct
from minitrain.errors import FileFormatError, InputError
from minitrain.money import parse_rate
from minitrain.preflight import _yaml
from minitrain.preflight.facts import FACT_NAMES
from minitrain.preflight.fields import (
    ASKABLE_SENSES,
    FIELDS,
    ID,
    REQUIRED_BY_KIND,
    TOP,
    Kind,
    check_fields,
)

__all__ = ["ASKABLE_SENSES", "Checklist", "Condition", "Kind", "Step", "load"]


class Condition(Struct, frozen=True):
    step: str
    equals: str


class Step(Struct, frozen=True):
    id: str
    kind: Kind
    say: str
    line: int
    why: str = ""
    if_failed: str = ""
    critical: bool = False
    scripted: bool = False
    when: Condition | None = None
    default: str | None = None
    type: str | None = None
    unit: str | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    pattern: str | None = None
    pattern_hint: str | None = None
    equals: str | None = None
    choices: tuple[str, ...] = ()
    passing: tuple[str, ...] = ()
    sense: str | None = None
    command: tuple[str, ...] = ()
    timeout: Decimal | None = None
    expect_stdout: str | None = None
    path: str | None = None
    action: str | None = None
    amount_from: str | None = None


class Checklist(Struct, frozen=True):
    id: str
    version: int
    title: str
    steps: tuple[Step, ...]
    path: Path
    sha256: str
    pause_point: str = ""

    @property
    def gate(self) -> Step:
        return self.steps[-1]

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def load(path: Path) -> Checklist:
    """Read, check and freeze a checklist; any problem names the file, the line and the step."""
    data = _yaml.read(path)
    if not isinstance(data, _yaml.LineDict):
        raise FileFormatError(
            "a checklist is a mapping with id, version, title and steps", path=path, line=1
        )
    check_fields(path, data, TOP, where="the checklist")
    if not isinstance(data["steps"], list) or not data["steps"]:
        raise FileFormatError(
            "steps must be a non-empty list", path=path, line=data.key_lines["steps"]
        )
    steps: list[Step] = []
    for raw in data["steps"]:
        steps.append(_step(path, raw, steps))
    _check_gate(path, steps)
    return Checklist(
        id=data["id"],
        version=data["version"],
        title=data["title"],
        steps=tuple(steps),
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        pause_point=data.get("pause_point", ""),
    )


_Fail = Callable[..., FileFormatError]


def _step(path: Path, raw: object, earlier: list[Step]) -> Step:
    if not isinstance(raw, _yaml.LineDict):
        raise FileFormatError(f"step {len(earlier) + 1} must be a mapping", path=path)
    step_id = raw.get("id")
    where = f"step {step_id!r}" if isinstance(step_id, str) else f"step {len(earlier) + 1}"

    def fail(message: str, key: str | None = None) -> FileFormatError:
        line = raw.key_lines.get(key, raw.line) if key else raw.line
        return FileFormatError(f"{where}: {message}", path=path, line=line)

    check_fields(path, raw, FIELDS, where=where)
    _check_shape(raw, earlier, fail)
    _check_content(raw, earlier, fail)
    numbers = {}
    for name in ("min", "max", "timeout"):
        if name in raw:
            try:
                numbers[name] = parse_rate(raw[name], what=name)
            except InputError as exc:
                raise fail(str(exc), name) from None
    plain = {k: v for k, v in raw.items() if k not in ("when", "choices", "passing", "command")}
    choices = tuple(raw.get("choices", ()))
    return Step(
        **{**plain, **numbers},
        line=raw.line,
        when=_condition(raw["when"], earlier, fail) if "when" in raw else None,
        choices=choices,
        passing=tuple(raw.get("passing", choices)),
        command=tuple(raw.get("command", ())),
    )


def _check_shape(raw: _yaml.LineDict, earlier: list[Step], fail: _Fail) -> None:
    """The fields fit the step's kind, and the id is well-formed and new."""
    kind: Kind = raw["kind"]
    for name in raw:
        if kind not in FIELDS[name].kinds:
            raise fail(f"{name!r} does not apply to a {kind} step", name)
    for name in REQUIRED_BY_KIND[kind]:
        if name not in raw:
            raise fail(f"a {kind} step needs {name!r}")
    step_id = raw["id"]
    if not ID.match(step_id):
        raise fail(f"id {step_id!r}: use lower-case letters, digits and '-'", "id")
    if any(s.id == step_id for s in earlier):
        raise fail(f"the id {step_id!r} is used twice", "id")
    if raw.get("critical") and "default" in raw:
        raise fail(
            "a critical step may not have a default: a bare Enter must never pass it", "default"
        )


def _check_content(raw: _yaml.LineDict, earlier: list[Step], fail: _Fail) -> None:
    """Templates name known facts, patterns compile, and each kind has what it needs."""
    for name in ("say", "why", "if_failed", "equals"):
        if name in raw:
            _check_template(raw[name], fail, name)
    for name in ("pattern", "expect_stdout"):
        if name in raw:
            try:
                re.compile(raw[name])
            except re.error as exc:
                raise fail(f"{name} is not a regular expression: {exc}", name) from None
    choices = raw.get("choices", ())
    if raw["kind"] == "choice" and (
        len(choices) < 2 or not set(raw.get("passing", ())) <= set(choices)
    ):
        raise fail("choices needs two or more options, and passing only some of them", "choices")
    needs = {"command": "command", "file": "path"}.get(raw.get("sense", ""))
    if needs and needs not in raw:
        raise fail(f"sense {raw['sense']!r} needs {needs!r}", "sense")
    if raw.get("action") == "record_actual":
        source = raw.get("amount_from")
        if not any(s.id == source and s.type == "money" for s in earlier):
            raise fail("amount_from must name an earlier money value step", "amount_from")


def _condition(raw: object, earlier: list[Step], fail: _Fail) -> Condition:
    if not isinstance(raw, dict) or set(raw) != {"step", "equals"}:
        raise fail("when needs exactly {step: ID, equals: VALUE}", "when")
    if not any(s.id == raw["step"] for s in earlier):
        raise fail(f"when names {raw['step']!r}, which is not an earlier step", "when")
    return Condition(str(raw["step"]), str(raw["equals"]))


def _check_gate(path: Path, steps: list[Step]) -> None:
    gates = [s for s in steps if s.kind == "gate"]
    if len(gates) != 1 or steps[-1].kind != "gate":
        line = gates[1].line if len(gates) > 1 else steps[-1].line
        raise FileFormatError(
            "a checklist has exactly one gate step, and it is the last step", path=path, line=line
        )


def _check_template(text: str, fail: _Fail, key: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise fail(f"{key}: {exc} (write {{{{ and }}}} for literal braces)", key) from None
    unknown = sorted(names - FACT_NAMES)
    if unknown:
        raise fail(
            f"{key} uses {{{unknown[0]}}}, which is not a fact; the facts are "
            + ", ".join(sorted(FACT_NAMES)),
            key,
        )
