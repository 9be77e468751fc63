"""Which lab an operation draws on: resolved once, as a value, by one rule for every command.

A lab is a number written in ASCII digits and normalised (``3``, ``03`` and ``003`` are lab 03).
A label names its lab by a ``labNN`` prefix, matched without regard to case (``Lab03-x`` is lab
03). Every way round a cap is closed: a prefix written with other digits (Arabic-Indic or
fullwidth zero-three; Python's ``\\d`` and ``int()`` take both) is refused rather than sent to the
buffer, and an explicit lab that disagrees with the label's is an error, not an override.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from minitrain.errors import InputError

BUFFER = "buffer"  # the per-lab cap that operations outside any capped lab draw on
# "lab" then a run of digits of any script; which script is checked after the match. Compiled
# on first use (re caches it): `budget status` never needs it, and start-up counts.
_PREFIX = r"lab(\d+)(?!\d)"


class Lab:
    """The lab an operation draws on; ``number`` None means no lab (it draws on the buffer).

    A plain value class, not a dataclass: every command imports this module, and the decorator's
    work is start-up time."""

    __slots__ = ("number",)

    def __init__(self, number: str | None) -> None:
        self.number = number

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lab) and other.number == self.number

    def __hash__(self) -> int:
        return hash(self.number)

    def __repr__(self) -> str:
        return f"Lab({self.number!r})"

    def pool(self, caps: Mapping[str, Decimal]) -> str | None:
        """Which cap it draws on: its lab's, else the buffer's; None when there are no caps."""
        return pool_of(self.number, caps)


def resolve(label: str, lab: str | None = None) -> Lab:
    """The lab of ``label``, given an optional explicit ``lab`` (``--lab``): one answer or an
    error, never a quiet override."""
    from_label = of_label(label)
    if lab is None:
        return Lab(from_label)
    given = normalise(lab, what="--lab")
    if from_label is not None and from_label != given:
        raise InputError(
            f"--lab {lab} disagrees with the label {label!r}, which is lab {from_label};"
            f" drop --lab, or rename the operation"
        )
    return Lab(given)


def of_label(label: str) -> str | None:
    """The lab a ``labNN`` prefix names, or None; a prefix in non-ASCII digits is refused."""
    import unicodedata  # not at the top: `budget status` never needs it (start-up)

    folded = unicodedata.normalize("NFKC", label)  # fullwidth letters and digits fold to ASCII
    match = re.match(_PREFIX, folded, re.IGNORECASE)
    if match is None:
        return None
    if not label[: len(match.group(0))].isascii():
        raise InputError(
            f"operation label {label!r} names its lab with characters other than ASCII"
            f" (e.g. fullwidth or Arabic-Indic digits); write it as lab{_ascii(match.group(1))}-..."
        )
    return normalise(match.group(1), what=f"the lab of {label!r}")


def normalise(lab: str, *, what: str = "lab") -> str:
    """``"3"``, ``"03"``, ``"003"`` -> ``"03"``; anything but 1-6 ASCII digits is an error."""
    text = lab.strip() if isinstance(lab, str) else ""
    # 1-6 ASCII digits (lab2026-plan is lab 2026, not an error); isdigit() alone takes any script
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise InputError(
            f"{what} {lab!r} is not a lab number: write it with ASCII digits, e.g. 02"
            " (leave it out for an operation outside any lab: it draws on the buffer)"
        )
    return f"{int(text):02d}"


def stored(lab: str | None) -> str | None:
    """A lab as read from a ledger line or a cap, for counting: normalised where it is a number
    of any script (an old line with ``٠٣`` counts against lab 03, never the buffer)."""
    if lab is None or lab == BUFFER:
        return lab
    if lab.isascii():  # NFKC leaves ASCII as it is; `budget status` then needs no unicodedata
        text = lab.strip()
    else:
        import unicodedata

        text = unicodedata.normalize("NFKC", lab).strip()
    if text.isdigit():
        try:
            return f"{int(text):02d}"
        except ValueError:
            return lab
    return lab


def cap_name(pool: str) -> str:
    """How a message names the cap of ``pool``: "lab 02 cap" or "buffer cap"."""
    return "buffer cap" if pool == BUFFER else f"lab {pool} cap"


def pool_of(lab: str | None, caps: Mapping[str, Decimal]) -> str | None:
    """Which per-lab cap an operation of ``lab`` draws on; None when no caps are set."""
    if not caps:
        return None
    lab = stored(lab)
    if lab is not None and lab in caps:
        return lab
    return BUFFER if BUFFER in caps else None


def _ascii(digits: str) -> str:
    try:
        return f"{int(digits):02d}"
    except ValueError:
        return "NN"
