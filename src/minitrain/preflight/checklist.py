"""A checklist: YAML validated once, at the boundary, into frozen :class:`Checklist` types.

The fields each step kind takes are declared once, in ``_FIELDS``; both the loader's checks and
the published JSON Schema (``schema()``, committed as ``checklists/checklist.schema.json``) are
derived from that table, so they cannot disagree.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from minitrain._struct import Struct
from minitrain.errors import FileFormatError, InputError
from minitrain.money import parse_rate
from minitrain.preflight import _yaml
from minitrain.preflight.facts import FACT_NAMES

Kind = Literal["confirm", "value", "choice", "sensed", "gate"]
KINDS: tuple[Kind, ...] = ("confirm", "value", "choice", "sensed", "gate")
VALUE_TYPES = ("number", "money", "text")
SENSES = ("headroom", "clock", "command", "file", "hardware", "instances")
# a sensed step the runner asks as a count (it must be 0) when it cannot sense it (no vendor CLI)
ASKABLE_SENSES = ("instances",)
ACTIONS = ("authorize", "record_actual", "confirm")
_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class _Field(Struct, frozen=True):
    json_type: str
    doc: str
    kinds: tuple[Kind, ...] = KINDS
    enum: tuple[str, ...] = ()
    items: str = ""  # the JSON type of an array's items
    required: bool = False


_FIELDS: dict[str, _Field] = {
    "id": _Field("string", "Unique step id: lower-case letters, digits and '-'.", required=True),
    "kind": _Field("string", "What sort of step this is.", enum=KINDS, required=True),
    "say": _Field(
        "string", "What the person reads: the fact or the question. May use {facts}.", required=True
    ),
    "why": _Field("string", "Why the step exists, shown under it. May use {facts}."),
    "if_failed": _Field("string", "What to do when the step fails. May use {facts}."),
    "critical": _Field("boolean", "A critical step has no default and needs a typed answer."),
    "scripted": _Field("boolean", "May a live run take this answer from an answers file?"),
    "when": _Field(
        "object", "Ask only if an earlier step's answer equals a value: {step: ID, equals: VALUE}."
    ),
    "default": _Field(
        "string",
        "The answer a bare Enter gives (never on critical steps).",
        kinds=("confirm", "value", "choice"),
    ),
    "type": _Field("string", "The value's type.", kinds=("value",), enum=VALUE_TYPES),
    "unit": _Field(
        "string", "The value's unit, shown with the prompt (USD, hours, ...).", kinds=("value",)
    ),
    "min": _Field("number", "The smallest passing value.", kinds=("value",)),
    "max": _Field("number", "The largest passing value.", kinds=("value",)),
    "pattern": _Field(
        "string", "A regular expression the whole text must match.", kinds=("value",)
    ),
    "equals": _Field(
        "string", "The value that passes, e.g. '{alert}'; any other fails.", kinds=("value",)
    ),
    "choices": _Field("array", "The options, typed by name.", kinds=("choice",), items="string"),
    "passing": _Field(
        "array", "The options that pass (default: all).", kinds=("choice",), items="string"
    ),
    "sense": _Field("string", "What the runner checks itself.", kinds=("sensed",), enum=SENSES),
    "command": _Field(
        "array", "command: the argument list to run (no shell).", kinds=("sensed",), items="string"
    ),
    "timeout": _Field("number", "command: seconds before it counts as failed.", kinds=("sensed",)),
    "expect_stdout": _Field(
        "string", "command: a regular expression its output must match.", kinds=("sensed",)
    ),
    "path": _Field(
        "string", "file: a path (from the repository root) that must exist.", kinds=("sensed",)
    ),
    "action": _Field("string", "gate: what passing it does.", kinds=("gate",), enum=ACTIONS),
    "amount_from": _Field(
        "string", "gate record_actual: the step whose answer is the cost.", kinds=("gate",)
    ),
}
_REQUIRED_BY_KIND: dict[Kind, tuple[str, ...]] = {
    "confirm": (),
    "value": ("type",),
    "choice": ("choices",),
    "sensed": ("sense",),
    "gate": ("action",),
}
_TOP: dict[str, _Field] = {
    "$schema": _Field("string", "The JSON Schema this file follows (for editors)."),
    "id": _Field("string", "The checklist's id.", required=True),
    "version": _Field("integer", "Bump it when the steps change.", required=True),
    "title": _Field("string", "What the checklist is for, in a line.", required=True),
    "pause_point": _Field("string", "When it is run (e.g. 'before every spin-up')."),
    "steps": _Field("array", "The steps, in order; the gate last.", items="object", required=True),
}


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
    _check_fields(path, data, _TOP, where="the checklist")
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

    _check_fields(path, raw, _FIELDS, where=where)
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
        if kind not in _FIELDS[name].kinds:
            raise fail(f"{name!r} does not apply to a {kind} step", name)
    for name in _REQUIRED_BY_KIND[kind]:
        if name not in raw:
            raise fail(f"a {kind} step needs {name!r}")
    step_id = raw["id"]
    if not _ID.match(step_id):
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


def _check_fields(
    path: Path, raw: _yaml.LineDict, fields: dict[str, _Field], *, where: str
) -> None:
    for name in raw:
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise FileFormatError(
                f"{where}: unknown key {name!r}; the keys are {known}",
                path=path,
                line=raw.key_lines[name],
            )
    for name, spec in fields.items():
        if spec.required and name not in raw:
            raise FileFormatError(
                f"{where}: missing {name!r} ({spec.doc})", path=path, line=raw.line
            )
        if name in raw and not _is(raw[name], spec):
            raise FileFormatError(
                f"{where}: {name!r} must be {_describe(spec)}, not {_short(raw[name])}",
                path=path,
                line=raw.key_lines[name],
            )


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "array": list,
    "object": dict,
}


def _is(value: Any, spec: _Field) -> bool:
    if isinstance(value, bool) and spec.json_type != "boolean":
        return False  # YAML's `yes` is a bool; it is no number or string here
    if not isinstance(value, _PYTHON_TYPES[spec.json_type]):
        return False
    if spec.json_type == "string" and not value:
        return False
    if (
        isinstance(value, list)
        and spec.items == "string"
        and not all(isinstance(v, str) and v for v in value)
    ):
        return False
    return not spec.enum or value in spec.enum


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(spec: _Field) -> str:
    if spec.enum:
        return "one of " + ", ".join(spec.enum)
    if spec.items:
        return f"a list of {spec.items}s"
    article = "an" if spec.json_type[0] in "aeiou" else "a"
    return f"{article} {'non-empty string' if spec.json_type == 'string' else spec.json_type}"


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


def schema() -> dict[str, Any]:
    """The JSON Schema of a checklist, derived from the same table the loader checks."""

    def prop(spec: _Field) -> dict[str, Any]:
        out: dict[str, Any] = {"type": spec.json_type, "description": spec.doc}
        if spec.enum:
            out["enum"] = list(spec.enum)
        if spec.items:
            out["items"] = {"type": spec.items, "minLength": 1}
        if spec.json_type == "string" and not spec.enum:
            out["minLength"] = 1
        return out

    step_props = {name: prop(spec) for name, spec in _FIELDS.items()}
    step_props["id"]["pattern"] = _ID.pattern
    step_props["when"].update(
        properties={
            "step": {"type": "string"},
            "equals": {"type": ["string", "number", "boolean"]},
        },
        required=["step", "equals"],
        additionalProperties=False,
    )
    variants = [
        {
            "if": {"properties": {"kind": {"const": kind}}},
            "then": {
                "required": list(_REQUIRED_BY_KIND[kind]),
                "properties": {n: False for n, s in _FIELDS.items() if kind not in s.kinds},
            },
        }
        for kind in KINDS
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/minitrain/preflight/checklist.schema.json",
        "title": "minitrain pre-flight checklist",
        "type": "object",
        "additionalProperties": False,
        "required": [n for n, s in _TOP.items() if s.required],
        "properties": {
            **{n: prop(s) for n, s in _TOP.items() if n != "steps"},
            "steps": {
                "type": "array",
                "minItems": 1,
                "description": _TOP["steps"].doc,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [n for n, s in _FIELDS.items() if s.required],
                    "properties": step_props,
                    "allOf": variants,
                },
            },
        },
    }
