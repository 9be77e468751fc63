"""The judging of one answer: whether it is well formed (else it is asked again), what it means
in normal form, and whether it passes its step."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from minitrain._struct import replace
from minitrain.errors import InputError
from minitrain.money import format_usd, parse_rate, parse_usd
from minitrain.preflight.checklist import Step

STOP = "stop"


def judge(step: Step, answer: str, text: Mapping[str, str]) -> tuple[bool, str]:
    """Whether a well-formed answer passes the step, and what to tell the person; ``text`` fills
    a step's ``{fact}`` placeholders."""
    value = normal(step, answer)
    if step.kind == "confirm":
        return value == "yes", f"answered {value}"
    if step.kind == "choice":
        return value in [p.lower() for p in step.passing], f"chose {value}"
    if step.type == "text":
        return True, ""
    return _judge_number(step, value, text)


def _judge_number(step: Step, value: str, text: Mapping[str, str]) -> tuple[bool, str]:
    number = parse_usd(value) if step.type == "money" else parse_rate(value)
    shown = format_usd(number) if step.type == "money" else f"{number:g} {step.unit or ''}"
    shown = shown.strip()
    if step.equals is not None:
        wanted = step.equals.format_map(text)
        try:
            target = parse_usd(wanted)
        except InputError:  # a fact the manifest does not give: no vendor or price (budget init)
            return False, (
                f"there is nothing to compare it with: the figure is {wanted}; name the vendor"
                " and its price (vendor, vendor_snapshot_prices) in the manifest"
            )
        if number != target:
            return False, f"you entered {shown}; it must be {format_usd(target)}"
    if step.max is not None and number > step.max:
        return False, f"you entered {shown}; the most allowed is {_bound(step, step.max)}"
    if step.min is not None and number < step.min:
        return False, f"you entered {shown}; the least allowed is {_bound(step, step.min)}"
    return True, shown


def _bound(step: Step, bound: Decimal) -> str:
    if step.type == "money":
        return format_usd(bound)
    return f"{bound:g} {step.unit}" if step.unit else f"{bound:g}"


def ask_again(step: Step, note: str, text: Mapping[str, str]) -> str:
    """Why the answer failed and what to do: fix the console, then type what it shows."""
    fix = re.sub(r",? then rerun.*$", "", step.if_failed.format_map(text))
    typed = "yes" if step.kind == "confirm" else "the value you now see"
    return (
        f"  FAILED: {note}. "
        + (f"Fix it ({fix}), then" if fix else "Fix it, then")
        + f" type {typed}, or type stop"
    )


def asked_instead(step: Step, vendor: str) -> Step:
    """A sensed instance listing asked of a person: a count that must be 0, not a yes/no a
    reflex passes."""
    return replace(
        step,
        kind="value",
        type="number",
        unit="instances",
        min=Decimal(0),
        max=Decimal(0),
        sense=None,
        default=None,
        say=f"How many instances does the {vendor} console list, running or stopped?"
        " Type the number you see there:",
    )


def instruction(step: Step) -> str:
    if step.kind == "confirm":
        return "type yes or no"
    if step.kind == "choice":
        return "type one of: " + ", ".join(step.choices)
    if step.type == "money":
        return "a dollar amount, as digits"  # no example figure: a tired eye copies it
    if step.type == "number":
        return f"a number of {step.unit}" if step.unit else "a number"
    return "type it out in full"


def malformed(step: Step, answer: str) -> str | None:
    """Why ``answer`` is not a well-formed answer to ``step`` (to ask again), or None."""
    text = answer.strip()
    if not text:
        return "an answer is needed: " + instruction(step)
    if step.kind == "confirm":
        return None if text.lower() in ("yes", "no") else "type the whole word yes, or no"
    if step.kind == "choice":
        options = [c.lower() for c in step.choices]
        return None if text.lower() in options else instruction(step)
    problem = _not_a_number(step, text)
    if problem is not None:
        return problem
    if step.type == "text" and step.pattern is not None and not re.fullmatch(step.pattern, text):
        return step.pattern_hint  # the loader requires it: a person never reads a pattern
    return None


def _not_a_number(step: Step, text: str) -> str | None:
    try:
        if step.type == "money":
            parse_usd(text, what="the amount")
        elif step.type == "number":
            parse_rate(text, what="the number")
    except InputError as exc:
        if step.type == "number":  # money's words ("dollars") would confuse `4h`
            return f"{text!r} is not a number: type {instruction(step)}, in digits only"
        return str(exc)
    return None


def normal(step: Step, answer: str) -> str:
    text = answer.strip()
    if step.kind in ("confirm", "choice"):
        return text.lower()
    if step.type == "money":
        return str(parse_usd(text))
    return text
