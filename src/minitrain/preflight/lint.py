"""Human-factors rules over a checklist, from flight-deck checklist practice.

Degani & Wiener, "Human Factors of Flight-Deck Checklists: The Normal Checklist" (NASA CR-177549,
1990) and Gawande, "The Checklist Manifesto" (2009): a pause point holds about 5-9 items; the
items that kill come first; a number is read back as a value, not ticked; wording is exact.
(The schema's rules, one gate and last, no default on a critical step, are the loader's.)
"""

from __future__ import annotations

import re

from minitrain.preflight.checklist import Checklist, Step

MAX_ITEMS = 9
VAGUE = (
    "ensure",
    "properly",
    "as needed",
    "appropriate",
    "adequate",
    "sufficient",
    "correctly",
    "make sure",
    "if necessary",
    "etc",
)
_VAGUE = re.compile(r"\b(" + "|".join(re.escape(w) for w in VAGUE) + r")\b", re.IGNORECASE)
_NUMBER = re.compile(r"(\$\s?\d|\d+(\.\d+)?\s*(%|hours?|h\b|usd|dollars?|gb|gib))", re.IGNORECASE)


def lint(checklist: Checklist) -> list[str]:
    """Every finding as ``file:line: step 'id': what is wrong (rule)``; empty when clean."""
    findings: list[str] = []

    def add(step: Step, message: str) -> None:
        findings.append(f"{checklist.path}:{step.line}: step {step.id!r}: {message}")

    items = checklist.steps[:-1]
    if len(items) > MAX_ITEMS:
        add(
            items[MAX_ITEMS],
            f"{len(items)} items at one pause point; keep it to {MAX_ITEMS} (split the checklist)",
        )
    seen_routine = None
    for step in items:
        if step.critical and seen_routine is not None:
            add(
                step,
                f"critical, but after the non-critical {seen_routine.id!r}; put critical"
                " items first",
            )
        if not step.critical and step.kind != "sensed":
            seen_routine = seen_routine or step
        for text in (step.say, step.why, step.if_failed):
            match = _VAGUE.search(text)
            if match:
                add(step, f"vague wording {match.group(0)!r}; say exactly what to do or check")
        if step.kind == "confirm" and _NUMBER.search(step.say):
            add(
                step,
                "a number asked as yes/no; ask it as a value step with a unit, so the"
                " person reads the figure back",
            )
        if step.kind == "value" and step.type in ("number", "money") and not step.unit:
            add(step, "a number without a unit; give it one (USD, hours, GPUs)")
    return findings
