"""The ledger's entries: what one line says (an authorization, an actual, a void), as values.

The line's bytes are ``line_format``'s (encode, seal, decode); reading a file of them is
``parser``'s; what a read found is ``snapshot``'s. A bad line is a :class:`Problem` with its
line number, never a guess.
"""

from __future__ import annotations

import os
from decimal import Decimal

from minitrain.ledger._fields import Fields

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Literal

    Kind = Literal["authorize", "actual", "void", "loss"]


class LazyDatetime:
    """``datetime.datetime`` for the module whose globals it stands in, imported when a line's
    time is first parsed or made: `budget status` over a checkpoint or an empty ledger parses
    none, and the import is start-up time. The first use puts the class itself in that module's
    name ``datetime``, so each line then costs what it did with the import at the top."""

    __slots__ = ("_namespace",)

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        real = datetime_types().datetime
        self._namespace["datetime"] = real  # replaced once, by the class it stands for
        return getattr(real, name)


if not TYPE_CHECKING:
    datetime = LazyDatetime(globals())


def datetime_types() -> Any:
    """Where ``datetime.datetime`` and ``timezone`` are defined: CPython's C module
    ``_datetime``, the very types the ``datetime`` module hands out. That module first runs a
    pure-Python twin of them (~1.5 ms, every writer process and every `budget status` that
    parses a line), then replaces it with these; elsewhere, the module itself."""
    try:
        return __import__("_datetime")
    except ImportError:  # pragma: no cover - not CPython
        return __import__("datetime")


CURRENCY = "USD"
# The fields of each kind of line (``line_format`` adds the crc32 that seals them).
FIELDS = {
    "authorize": {"id", "ts", "kind", "op_label", "lab", "estimated", "currency"},
    "actual": {"id", "ts", "kind", "op_label", "lab", "op_id", "estimated", "actual", "currency"},
    "void": {"id", "ts", "kind", "op_label", "voids", "reason", "currency"},
    # what `budget repair` found lost from a ledger shorter than its mark (``mark``): counted as
    # spent like a closed actual, so the books keep counting what was granted
    "loss": {"id", "ts", "kind", "op_label", "lab", "actual", "reason", "op_ids", "currency"},
}
LOSS_LABEL = "ledger-repair"


class Voided(Fields):
    """What a ``void`` entry takes out of the books: one bad line, by its bytes."""

    __slots__ = ("crc32", "length", "offset")

    def __init__(self, offset: int, length: int, crc32: str) -> None:
        self.offset, self.length, self.crc32 = offset, length, crc32


class Entry(Fields):
    """One line of the ledger: an authorization, a recorded actual, a void (which names a
    bad line it takes out of the books; it counts nothing itself), or a loss (what repair
    found lost from a shrunk ledger: spent, like a closed actual)."""

    __slots__ = (
        "actual",
        "estimated",  # authorize: the reservation; actual: the one it replaces, if any
        "id",
        "kind",
        "lab",
        "line",  # 1-based line number in the file; 0 until written
        "op_id",  # actual: the authorization it closes (None: nothing was open)
        "op_ids",  # loss: the operations known lost (possibly none)
        "op_label",
        "reason",  # void, loss: why a person (or repair) wrote it
        "ts",
        "voids",  # void: the bad line
    )

    def __init__(  # noqa: PLR0917 - one line's fields, as the dataclass took them
        self,
        id: str,
        ts: datetime,
        kind: Kind,
        op_label: str,
        estimated: Decimal | None,
        actual: Decimal | None = None,
        op_id: str | None = None,
        lab: str | None = None,
        line: int = 0,
        voids: Voided | None = None,
        reason: str | None = None,
        op_ids: tuple[str, ...] | None = None,
    ) -> None:
        self.id, self.ts, self.kind, self.op_label = id, ts, kind, op_label
        self.estimated, self.actual, self.op_id, self.lab = estimated, actual, op_id, lab
        self.line, self.voids, self.reason, self.op_ids = line, voids, reason, op_ids


class Problem(Fields):
    """A line that cannot be trusted, with where it is and what to do about it."""

    __slots__ = ("crc32", "length", "line", "looks_like", "offset", "reason", "torn")

    def __init__(  # noqa: PLR0917 - where, why, and what it looked like
        self,
        line: int,
        offset: int,
        length: int,
        reason: str,
        torn: bool = False,  # the last line, without its newline: a crash mid-write
        crc32: str = "",
        looks_like: str = "",  # for a torn line: what it seems to have been (never trusted)
    ) -> None:
        self.line, self.offset, self.length, self.reason = line, offset, length, reason
        self.torn, self.crc32, self.looks_like = torn, crc32, looks_like


def new_entry(
    kind: Kind,
    op_label: str,
    *,
    estimated: Decimal | None,
    actual: Decimal | None = None,
    op_id: str | None = None,
    lab: str | None = None,
    entry_id: str | None = None,
    voids: Voided | None = None,
    reason: str | None = None,
    op_ids: tuple[str, ...] | None = None,
) -> Entry:
    return Entry(
        id=entry_id or new_id(),
        ts=datetime.now(datetime_types().timezone.utc),
        kind=kind,
        op_label=op_label,
        estimated=estimated,
        actual=actual,
        op_id=op_id,
        lab=lab,
        voids=voids,
        reason=reason,
        op_ids=op_ids,
    )


def void_of(bad: Problem, reason: str) -> Entry:
    """The entry that voids one bad line (appended by ``budget repair``; nothing is deleted)."""
    span = Voided(bad.offset, bad.length, bad.crc32)
    return new_entry("void", LOSS_LABEL, estimated=None, voids=span, reason=reason)


def loss_of(amount: Decimal, lab: str | None, op_ids: tuple[str, ...], reason: str) -> Entry:
    """The entry that records money granted and then lost from the file (``budget repair``)."""
    return new_entry(
        "loss", LOSS_LABEL, estimated=None, actual=amount, lab=lab, op_ids=op_ids, reason=reason
    )


def new_id() -> str:
    """A line's id: 128 random bits, as uuid4 (whose import costs start-up)."""
    return os.urandom(16).hex()
