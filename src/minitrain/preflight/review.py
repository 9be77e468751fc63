"""The review shown before the gate: every answer, then what the gate will do."""

from __future__ import annotations

from collections.abc import Mapping

from minitrain.money import format_usd
from minitrain.preflight.checklist import Checklist
from minitrain.preflight.facts import Facts
from minitrain.runs import StepResult


def review(
    checklist: Checklist,
    results: Mapping[str, StepResult],
    facts: Facts,
    text: Mapping[str, str],
) -> str:
    lines = ["", "Review: every answer"]
    for index, step in enumerate(checklist.steps[:-1], 1):
        result = results.get(step.id)
        if result is None:
            lines.append(f"  {index:>2}. {step.id:<28} (skipped: does not apply)")
        else:
            numeric = step.kind == "value" and step.type != "text"
            shown = result.note if result.origin == "sensed" or numeric else result.answer
            lines.append(f"  {index:>2}. {step.id:<28} {shown}  [{result.origin}]")
    lines.append(_gate_line(checklist.gate.action or "authorize", facts, text))
    return "\n".join(lines)


def _gate_line(action: str, f: Facts, text: Mapping[str, str]) -> str:
    if action == "record_actual":
        return f"\nGate: record the actual of {f.label}"
    if action == "confirm":
        return f"\nGate: confirm the checks above for {f.label}"
    return (
        f"\nGate: authorize {format_usd(f.estimate)} for {f.label}"
        f" ({text['lab']}); remaining {format_usd(f.remaining)}"
        f" -> {format_usd(f.remaining - f.estimate)}"
        f" of the ceiling {format_usd(f.ceiling)}"
        + (
            f"; {text['lab']}: {format_usd(f.lab_remaining)}"
            f" -> {format_usd(f.lab_remaining - f.estimate)} of its cap"
            f" {text['lab_cap']}"
            if f.lab_remaining is not None
            else ""
        )
    )
