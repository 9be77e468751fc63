"""Amounts for people: whole cents, ``"$3.00"``. The floor under ``errors`` and ``money``.

It imports nothing of the project, so ``errors`` can say amounts in its messages without
importing ``money`` (which raises ``errors``' InputError): no import runs back up a floor.
"""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def usd_text(amount: Decimal) -> str:
    """An amount for JSON output: an exact decimal string of whole cents, ``"0.00"``."""
    return str(amount.quantize(CENT))


def format_usd(amount: Decimal) -> str:
    """``Decimal("3")`` -> ``"$3.00"``; negative amounts (an overspend) as ``"-$0.50"``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(CENT):,}"
