"""A label and the lab it draws on: each checked once, by one rule for every command.

A new label is plain ASCII: letters, digits, ``-``, ``_`` and ``.``, 1-120 characters, starting
with a letter (so an amount typed in its place, ``budget record 2.47``, is never a label). What a
person reads is then what the guard compares: no joiner, variation selector or Cyrillic ``\\u0430``
hides inside ``lab03``. Lines already in a ledger keep whatever label they have; they are read
and counted (:func:`stored`), never refused.

A lab is a number written in ASCII digits and normalised (``3``, ``03`` and ``003`` are lab 03).
A label names its lab by a ``labNN`` prefix, matched without regard to case (``Lab03-x`` is lab
03), and the prefix ends the number (``lab03-x``, ``lab03.x``, ``lab03``). What only looks like a
prefix (``lab-02-x``, ``labO3-x``, ``lab03x``) is refused with the way to write it, and so is a
lab the manifest does not cap (``--lab 99``, ``lab99-x``): a mistyped lab number drawing quietly
on the buffer is the same surprise as a disguised one. An explicit lab that disagrees with the
label's is an error, not an override.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from minitrain.errors import InputError

BUFFER = "buffer"  # the per-lab cap that operations outside any capped lab draw on
LABEL_MAX = 120
LABEL_HOW = (
    "a label is 1-120 ASCII letters, digits, '-', '_' or '.', starting with a letter,"
    " e.g. lab02-tp-spinup"
)
# Compiled on first use (re caches them): `budget status` never checks a label, and start-up
# counts. Both are anchored and linear, and run on at most LABEL_MAX characters.
_LABEL = r"[A-Za-z][A-Za-z0-9._-]*"
_LABEL_CHARS = r"[A-Za-z0-9._-]+"
# after "lab": separators, then a number in which the letter O may stand for a zero
_NUMBER = r"([-_.]*)([0-9Oo]+)"


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


def check_label(label: object) -> str:
    """``label`` if it is a new operation label (see the module's docstring), else an
    :class:`InputError` with the way to write one. The length is checked first and the
    message shows at most a short, escaped prefix, so a pasted megabyte costs no more than a
    label and never comes back whole."""
    from minitrain._secrets import find_secret, shown  # when a label is checked, not for status

    if not isinstance(label, str) or not label.strip():
        raise InputError(f"operation label {label!r} is empty; name it, e.g. lab02-tp-spinup")
    if len(label) > LABEL_MAX:
        raise InputError(
            f"operation label {shown(label)} is over {LABEL_MAX} characters; {LABEL_HOW}"
        )
    secret = find_secret(label)
    if secret is not None:  # a label goes into the ledger and git: never echo it here either
        raise InputError(
            f"the operation label contains {secret}; a label is written to the ledger (and"
            " git), so it is refused and not shown: name the operation without it"
        )
    if re.fullmatch(_LABEL, label) is None:
        raise InputError(f"operation label {shown(label)} {_fault(label)}; {LABEL_HOW}")
    return label


def _fault(label: str) -> str:
    """What is wrong with a label that is not plain ASCII, said so a person can find it."""
    odd = next((ch for ch in label if not ch.isascii()), None)
    if odd is not None:
        import unicodedata  # only when a label is refused (start-up)

        name = unicodedata.name(odd, "an unnamed character")
        return f"holds {ascii(odd)[1:-1]} ({name}), which is not ASCII"
    if not label[0].isalpha():
        return "does not start with a letter"
    bad = next(ch for ch in label if not (ch.isalnum() or ch in "-_."))
    return f"holds {bad!a}"


def resolve(label: str, lab: str | None = None, caps: Mapping[str, Decimal] | None = None) -> Lab:
    """The lab of ``label``, given an optional explicit ``lab`` (``--lab``): one answer or an
    error, never a quiet override. With ``caps`` (the manifest's), a lab they do not name is
    refused rather than sent to the buffer."""
    from_label = of_label(label)
    if lab is None:
        if from_label is not None and caps and from_label not in caps:
            raise InputError(
                f"operation label {label!r} names lab {from_label}, which the manifest does not"
                f" cap ({_capped(caps)}); start it with one of those (lab{_first(caps)}-...),"
                " or without a labNN prefix to draw on the buffer"
            )
        return Lab(from_label)
    given = normalise(lab, what="--lab")
    if from_label is not None and from_label != given:
        raise InputError(
            f"--lab {lab.strip()} disagrees with the label {label!r}, which is lab {from_label};"
            f" drop --lab, or rename the operation"
        )
    if caps and given not in caps:
        raise InputError(
            f"--lab {lab.strip()} names lab {given}, which the manifest does not cap"
            f" ({_capped(caps)}); give one of those, or leave --lab out to draw on the buffer"
        )
    return Lab(given)


def of_label(label: str) -> str | None:
    """The lab a ``labNN`` prefix names, or None. A label that only looks like it names a lab
    (``lab-02-x``, ``labO3-x``, ``lab03x``) is refused with the way to write it."""
    if not (isinstance(label, str) and len(label) <= LABEL_MAX and re.fullmatch(_LABEL, label)):
        check_label(label)  # not a label: refused, with the way to write one
    if label[:3].lower() != "lab":
        return None
    match = re.match(_NUMBER, label[3:])
    if match is None or not any(ch.isdigit() for ch in match.group(2)):
        return None  # "lab-x", "laboratory": no number, no lab
    separators, digits = match.groups()
    rest = label[3 + match.end() :]
    number = normalise(digits.upper().replace("O", "0"), what=f"the lab of {label!r}")
    if "O" in digits.upper():
        fault = f"looks like lab {number} written with the letter O"
    elif separators:
        fault = f"looks like lab {number} but a lab is named by a labNN prefix"
    elif rest and rest[0] not in "-_.":
        fault = "runs its lab number into the name"
    else:
        return number
    tail = rest if not rest or rest[0] in "-_." else f"-{rest}"
    raise InputError(f"operation label {label!r} {fault}; write it as lab{number}{tail}")


def normalise(lab: str, *, what: str = "lab") -> str:
    """``"3"``, ``"03"``, ``"003"`` -> ``"03"``; anything but 1-6 ASCII digits is an error."""
    text = lab.strip() if isinstance(lab, str) else ""
    # 1-6 ASCII digits (lab2026-plan is lab 2026, not an error); isdigit() alone takes any script
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise InputError(
            f"{what} {_shown(lab)} is not a lab number: write it with ASCII digits, e.g. 02"
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


def _shown(value: object) -> str:
    from minitrain._secrets import shown  # only when a lab is refused (start-up)

    return shown(value) if isinstance(value, str) else repr(value)


def check_op_id(op_id: str | None) -> str | None:
    """``op_id`` if it can be an operation's id (the ledger's are 32 hex digits; a caller's own
    may be a UUID): 1-64 ASCII letters, digits, '-', '_' or '.'; None passes."""
    if op_id is None:
        return None
    from minitrain._secrets import find_secret  # an id is written to the ledger (and git)

    ok = isinstance(op_id, str) and 0 < len(op_id) <= 64 and re.fullmatch(_LABEL_CHARS, op_id)
    if not ok or find_secret(op_id) is not None:
        raise InputError(
            f"op id {_shown(op_id)} is not an operation's id: `budget status --all` lists them"
            " (32 hex digits, e.g. 3f2a...)"
        )
    return op_id


def _capped(caps: Mapping[str, Decimal]) -> str:
    numbers = sorted(lab for lab in caps if lab != BUFFER)
    if not numbers:
        return "it caps no lab, only the buffer"
    listed = numbers[0] if len(numbers) == 1 else f"{', '.join(numbers[:-1])} and {numbers[-1]}"
    return f"it caps lab{'s' if len(numbers) > 1 else ''} {listed}"


def _first(caps: Mapping[str, Decimal]) -> str:
    return min((lab for lab in caps if lab != BUFFER), default="NN")
