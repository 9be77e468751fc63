"""Money: parsed once into exact ``Decimal`` cents, formatted once for people.

Binary floats cannot hold cents (100 x $0.01 under a $1.00 ceiling allows only 99), and a NaN
passes every ``>`` check, so every amount crosses this module before anything adds it up.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from minitrain.errors import InputError

CENT = Decimal("0.01")

Amount = Decimal | int | float | str


def parse_usd(value: object, *, what: str = "amount") -> Decimal:
    """Return ``value`` as non-negative whole cents, or raise :class:`InputError` saying why.

    Accepts ``Decimal``, ``int``, ``float`` (by its shortest repr, i.e. what was typed) and
    ``str`` (an optional leading ``$``). Sub-cent amounts are refused rather than rounded: no
    vendor bills fractions of a cent, and silently rounding a reservation down would let the
    guard under-count; a tool that computes cost (hours x rate) rounds up itself.
    """
    number = _to_decimal(value, what=what)
    if number < 0:
        raise InputError(f"{what} {_shown(value)} is negative; amounts are dollars >= 0, e.g. 3.00")
    if number != number.quantize(CENT):
        raise InputError(
            f"{what} {_shown(value)} has fractions of a cent; write whole cents, e.g."
            f" {number.quantize(CENT, rounding='ROUND_CEILING')}"
        )
    return number.quantize(CENT)


def parse_rate(value: object, *, what: str = "rate") -> Decimal:
    """A non-negative price per unit (e.g. $/GPU-hour), which may have sub-cent digits."""
    number = _to_decimal(value, what=what)
    if number < 0:
        raise InputError(f"{what} {_shown(value)} is negative")
    return number


def usd_text(amount: Decimal) -> str:
    """An amount for JSON output: an exact decimal string of whole cents, ``"0.00"``."""
    return str(amount.quantize(CENT))


def format_usd(amount: Decimal) -> str:
    """``Decimal("3")`` -> ``"$3.00"``; negative amounts (an overspend) as ``"-$0.50"``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(CENT):,}"


def _to_decimal(value: object, *, what: str) -> Decimal:
    if isinstance(value, bool):  # bool is an int; True dollars is a bug, not an amount
        raise InputError(f"{what} must be a number of dollars, not {value!r}")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        text = value.strip().removeprefix("$")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InputError(
                f"{what} {value!r} is not a number of dollars; write e.g. 3.00"
            ) from None
    elif isinstance(value, (Decimal, int)):
        number = Decimal(value)
    else:
        raise InputError(f"{what} must be a number of dollars, not {type(value).__name__}")
    if not number.is_finite():
        raise InputError(f"{what} {_shown(value)} is not a finite number of dollars")
    return number


def _shown(value: object) -> str:
    """Typed text quoted as typed; numbers as numbers (not ``Decimal('5.001')``)."""
    return repr(value) if isinstance(value, str) else str(value)
