"""A checklist as Markdown, for people who read it rather than run it."""

from __future__ import annotations

import re

from minitrain.preflight.checklist import Checklist, Step
from minitrain.preflight.facts import FACT_DOCS

_FACT = re.compile(r"\{(\w+)\}")


def markdown(checklist: Checklist) -> str:
    lines = [
        f"# {checklist.title}",
        "",
        f"<!-- Generated from {checklist.path.name} (checklist {checklist.id!r}"
        f" v{checklist.version}) by `preflight render`; edit the YAML, not this file. -->",
        "",
    ]
    if checklist.pause_point:
        lines += [f"**When:** {checklist.pause_point}.", ""]
    lines += [
        "Run it with `preflight run --label LABEL --estimate USD`: it asks each step in turn,"
        " computes every number below for you, and stops at the first step that fails."
        " Typing `stop` at any question ends the run there.",
        "",
    ]
    for index, step in enumerate(checklist.steps, 1):
        lines += _step(index, step)
    used = sorted({name for step in checklist.steps for name in _FACT.findall(_texts(step))})
    if used:
        lines += [
            "",
            "## The numbers the runner fills in",
            "",
            "| fact | what it is |",
            "| --- | --- |",
        ]
        lines += [f"| «{name}» | {FACT_DOCS[name]} |" for name in used]
    return "\n".join(lines) + "\n"


def _step(index: int, step: Step) -> list[str]:
    critical = " **(critical)**" if step.critical else ""
    out = [f"{index}. {_facts(step.say)}{critical}", f"   - *Check:* {_how(step)}"]
    if step.why:
        out.append(f"   - *Why:* {_facts(step.why)}")
    if step.if_failed:
        out.append(f"   - *If not:* {_facts(step.if_failed)}")
    return out


def _how(step: Step) -> str:
    if step.kind == "confirm":
        return "type `yes` or `no`; `no` is asked again, once the console is fixed."
    if step.kind == "choice":
        return "type one of " + ", ".join(f"`{c}`" for c in step.choices) + "."
    if step.kind == "gate":
        return {
            "authorize": "review every answer, then type `authorize` (or a step number to"
            " change it).",
            "record_actual": "review every answer, then type `record` to record the actual.",
            "confirm": "type `confirm` to confirm the checks; no money moves.",
        }[step.action or "authorize"]
    if step.kind == "sensed":
        return {
            "headroom": "sensed: the runner reads the guard (remaining >= estimate + 50%).",
            "clock": "sensed: the runner reads the UTC clock and records it.",
            "command": f"sensed: the runner runs `{' '.join(step.command)}`.",
            "file": f"sensed: the runner looks for `{step.path}`.",
            "instances": "sensed: the runner lists this account's instances with the vendor's"
            " CLI (`runpodctl`, `vastai`) before the first question; without it, type how many"
            " instances the console lists, running or stopped (it must be 0).",
            "hardware": "sensed: the runner reads `nvidia-smi` (GPUs, memory, NVLink) and"
            " compares it with the manifest's hardware_target.",
        }[step.sense or ""]
    unit = f" ({step.unit})" if step.unit else ""
    rule = ""
    if step.equals:
        rule = f"; it must equal {_facts(step.equals)}"
    elif step.min is not None or step.max is not None:
        rule = (
            f"; from {step.min:g} to {step.max:g}"
            if step.min is not None and step.max is not None
            else (f"; at most {step.max:g}" if step.max is not None else f"; at least {step.min:g}")
        )
    return f"type the {step.type}{unit}{rule}."


def _facts(text: str) -> str:
    return _FACT.sub(lambda m: f"«{m.group(1)}»", text)


def _texts(step: Step) -> str:
    return " ".join(t or "" for t in (step.say, step.why, step.if_failed, step.equals))
