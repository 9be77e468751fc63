"""Money: parsed once into exact ``Decimal`` cents, formatted once for people.

Binary floats cannot hold cents (100 x $0.01 under a $1.00 ceiling allows only 99), and a NaN
passes every ``>`` check, so every amount crosses this module before anything adds it up.

Typed amounts are plain ASCII decimals only. ``Decimal()`` alone would take ``1e2`` (= $100),
``1_000``, and fullwidth or Arabic-Indic digits: each a way to type a figure a person did not
read as such, so each is refused with the way to write it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from minitrain.cents import CENT, format_usd, usd_text
from minitrain.errors import InputError

# the formatting lives below ``errors`` (which says amounts); this stays its public home
__all__ = ["CENT", "MAX_USD", "Amount", "format_usd", "parse_rate", "parse_usd", "usd_text"]

# No single amount in this project comes near it (the whole phase is $5.00); a bound keeps
# ``1e26``-style figures from reaching arithmetic whose precision they exceed.
MAX_USD = Decimal("100000.00")

Amount = Decimal | int | float | str

_PLAIN = re.compile(r"-?\$?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_HOW = "write dollars with ASCII digits and at most two decimals, e.g. 3.00 or $3"


def parse_usd(value: object, *, what: str = "amount") -> Decimal:
    """Return ``value`` as non-negative whole cents, or raise :class:`InputError` saying why.

    Accepts ``Decimal``, ``int``, ``float`` (by its shortest repr, i.e. what was typed) and
    ``str`` (an optional leading ``$``). Sub-cent amounts are refused rather than rounded: no
    vendor bills fractions of a cent, and silently rounding a reservation down would let the
    guard under-count; a tool that computes cost (hours x rate) rounds up itself.
    """
    number = _to_decimal(value, what=what)
    if number != number.quantize(CENT):
        raise InputError(
            f"{what} {_shown(value)} has fractions of a cent; write whole cents, e.g."
            f" {number.quantize(CENT, rounding='ROUND_CEILING')}"
        )
    return number.quantize(CENT)


def parse_rate(value: object, *, what: str = "rate") -> Decimal:
    """A non-negative price per unit (e.g. $/GPU-hour), which may have sub-cent digits."""
    return _to_decimal(value, what=what)


def _to_decimal(value: object, *, what: str) -> Decimal:
    """A finite number in [0, MAX_USD]; ``-0`` becomes ``0`` (never stored as ``-0.00``)."""
    number = _number(value, what=what)
    if not number.is_finite():
        raise InputError(f"{what} {_shown(value)} is not a finite number of dollars")
    if number < 0:
        raise InputError(f"{what} {_shown(value)} is negative; amounts are dollars >= 0, e.g. 3.00")
    if number > MAX_USD:
        raise InputError(
            f"{what} {_shown(value)} is over the largest amount this tool takes,"
            f" {format_usd(MAX_USD)}; check the figure"
        )
    return number.copy_abs()  # -0 is zero


def _number(value: object, *, what: str) -> Decimal:
    if isinstance(value, bool):  # bool is an int; True dollars is a bug, not an amount
        raise InputError(f"{what} must be a number of dollars, not {value!r}")
    if isinstance(value, (Decimal, int)):
        return Decimal(value)
    if isinstance(value, float):
        return _from_text(repr(value), shown=value, what=what)
    if isinstance(value, str):
        return _from_text(value.strip(), shown=value, what=what)
    raise InputError(f"{what} must be a number of dollars, not {type(value).__name__}")


def _from_text(text: str, *, shown: object, what: str) -> Decimal:
    if text.lower().lstrip("-+") in ("nan", "inf", "infinity", "snan"):
        raise InputError(f"{what} {_shown(shown)} is not a finite number of dollars")
    if not _PLAIN.fullmatch(text):
        if any(ch.isdigit() and not ch.isascii() for ch in text):
            reason = "uses digits other than ASCII 0-9"
        elif any(ch.isdigit() for ch in text):
            reason = "is not a plain decimal (no exponent, '_', ',' or inner spaces)"
        else:
            reason = "is not a number of dollars"
        raise InputError(f"{what} {_shown(shown)} {reason}; {_HOW}")
    try:
        return Decimal(text.replace("$", "", 1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise InputError(f"{what} {_shown(shown)} is not a number of dollars; {_HOW}") from None


def _shown(value: object) -> str:
    """Typed text as a message may echo it (a short, escaped prefix, never a secret: a key
    pasted as an amount stays unseen); numbers as numbers (not ``Decimal('5.001')``)."""
    from minitrain._secrets import shown  # only when an amount is refused (start-up)

    if isinstance(value, str):
        return shown(value)
    try:
        text = str(value)
    except ValueError:  # an int past Python's 4,300-digit limit on str()
        return "(a number too long to show)"
    return text if len(text) <= 40 else shown(text)
