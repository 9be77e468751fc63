"""The fields a checklist and each kind of step take, declared once, in ``FIELDS`` and ``TOP``.

Both the loader's checks (:func:`check_fields`, used by ``checklist.load``) and the published
JSON Schema (:func:`schema`, committed as ``checklists/checklist.schema.json``) are derived from
these tables, so they cannot disagree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from minitrain._struct import Struct
from minitrain.errors import FileFormatError
from minitrain.preflight import _yaml

Kind = Literal["confirm", "value", "choice", "sensed", "gate"]
KINDS: tuple[Kind, ...] = ("confirm", "value", "choice", "sensed", "gate")
VALUE_TYPES = ("number", "money", "text")
SENSES = ("headroom", "clock", "command", "file", "hardware", "instances")
# a sensed step the runner asks as a count (it must be 0) when it cannot sense it (no vendor CLI)
ASKABLE_SENSES = ("instances",)
ACTIONS = ("authorize", "record_actual", "confirm")
ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class Field(Struct, frozen=True):
    """One key: its JSON type, what it means, and the step kinds that take it."""

    json_type: str
    doc: str
    kinds: tuple[Kind, ...] = KINDS
    enum: tuple[str, ...] = ()
    items: str = ""  # the JSON type of an array's items
    required: bool = False
    needs: tuple[str, ...] = ()  # keys that must come with this one


FIELDS: dict[str, Field] = {
    "id": Field("string", "Unique step id: lower-case letters, digits and '-'.", required=True),
    "kind": Field("string", "What sort of step this is.", enum=KINDS, required=True),
    "say": Field(
        "string", "What the person reads: the fact or the question. May use {facts}.", required=True
    ),
    "why": Field("string", "Why the step exists, shown under it. May use {facts}."),
    "if_failed": Field("string", "What to do when the step fails. May use {facts}."),
    "critical": Field("boolean", "A critical step has no default and needs a typed answer."),
    "scripted": Field("boolean", "May a live run take this answer from an answers file?"),
    "when": Field(
        "object", "Ask only if an earlier step's answer equals a value: {step: ID, equals: VALUE}."
    ),
    "default": Field(
        "string",
        "The answer a bare Enter gives (never on critical steps).",
        kinds=("confirm", "value", "choice"),
    ),
    "type": Field("string", "The value's type.", kinds=("value",), enum=VALUE_TYPES),
    "unit": Field(
        "string", "The value's unit, shown with the prompt (USD, hours, ...).", kinds=("value",)
    ),
    "min": Field("number", "The smallest passing value.", kinds=("value",)),
    "max": Field("number", "The largest passing value.", kinds=("value",)),
    "pattern": Field(
        "string",
        "A regular expression the whole text must match (never shown to the person).",
        kinds=("value",),
        needs=("pattern_hint",),
    ),
    "pattern_hint": Field(
        "string",
        "What the pattern asks for, in words: shown when a text does not match it.",
        kinds=("value",),
    ),
    "equals": Field(
        "string", "The value that passes, e.g. '{alert}'; any other fails.", kinds=("value",)
    ),
    "choices": Field("array", "The options, typed by name.", kinds=("choice",), items="string"),
    "passing": Field(
        "array", "The options that pass (default: all).", kinds=("choice",), items="string"
    ),
    "sense": Field("string", "What the runner checks itself.", kinds=("sensed",), enum=SENSES),
    "command": Field(
        "array", "command: the argument list to run (no shell).", kinds=("sensed",), items="string"
    ),
    "timeout": Field("number", "command: seconds before it counts as failed.", kinds=("sensed",)),
    "expect_stdout": Field(
        "string", "command: a regular expression its output must match.", kinds=("sensed",)
    ),
    "path": Field(
        "string", "file: a path (from the repository root) that must exist.", kinds=("sensed",)
    ),
    "action": Field("string", "gate: what passing it does.", kinds=("gate",), enum=ACTIONS),
    "amount_from": Field(
        "string", "gate record_actual: the step whose answer is the cost.", kinds=("gate",)
    ),
}
REQUIRED_BY_KIND: dict[Kind, tuple[str, ...]] = {
    "confirm": (),
    "value": ("type",),
    "choice": ("choices",),
    "sensed": ("sense",),
    "gate": ("action",),
}
TOP: dict[str, Field] = {
    "$schema": Field("string", "The JSON Schema this file follows (for editors)."),
    "id": Field("string", "The checklist's id.", required=True),
    "version": Field("integer", "Bump it when the steps change.", required=True),
    "title": Field("string", "What the checklist is for, in a line.", required=True),
    "pause_point": Field("string", "When it is run (e.g. 'before every spin-up')."),
    "steps": Field("array", "The steps, in order; the gate last.", items="object", required=True),
}


def check_fields(path: Path, raw: _yaml.LineDict, fields: dict[str, Field], *, where: str) -> None:
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
        for needed in spec.needs if name in raw else ():
            if needed not in raw:
                raise FileFormatError(
                    f"{where}: {name!r} needs {needed!r} ({fields[needed].doc})",
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


def _is(value: Any, spec: Field) -> bool:
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


def _describe(spec: Field) -> str:
    if spec.enum:
        return "one of " + ", ".join(spec.enum)
    if spec.items:
        return f"a list of {spec.items}s"
    article = "an" if spec.json_type[0] in "aeiou" else "a"
    return f"{article} {'non-empty string' if spec.json_type == 'string' else spec.json_type}"


def schema() -> dict[str, Any]:
    """The JSON Schema of a checklist, derived from the same table the loader checks."""

    def prop(spec: Field) -> dict[str, Any]:
        out: dict[str, Any] = {"type": spec.json_type, "description": spec.doc}
        if spec.enum:
            out["enum"] = list(spec.enum)
        if spec.items:
            out["items"] = {"type": spec.items, "minLength": 1}
        if spec.json_type == "string" and not spec.enum:
            out["minLength"] = 1
        return out

    step_props = {name: prop(spec) for name, spec in FIELDS.items()}
    step_props["id"]["pattern"] = ID.pattern
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
                "required": list(REQUIRED_BY_KIND[kind]),
                "properties": {n: False for n, s in FIELDS.items() if kind not in s.kinds},
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
        "required": [n for n, s in TOP.items() if s.required],
        "properties": {
            **{n: prop(s) for n, s in TOP.items() if n != "steps"},
            "steps": {
                "type": "array",
                "minItems": 1,
                "description": TOP["steps"].doc,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [n for n, s in FIELDS.items() if s.required],
                    "dependentRequired": {n: list(s.needs) for n, s in FIELDS.items() if s.needs},
                    "properties": step_props,
                    "allOf": variants,
                },
            },
        },
    }
