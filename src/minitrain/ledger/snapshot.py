"""What a read of the ledger found: its totals, its bad lines, and its entries when asked for.

Every backend's read returns one (the file's parser, the in-memory twin, PostgreSQL); the guard
decides on it and refuses, failing closed, while it holds a bad line.
"""

from __future__ import annotations

from minitrain.errors import LedgerError
from minitrain.ledger._fields import Fields

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from minitrain.ledger.entries import Entry, Problem
    from minitrain.ledger.totals import Totals

REPAIR_HINT = "run `budget repair` to void it by appending (nothing is deleted)"


class Snapshot(Fields):
    """What the ledger held at one moment: always its totals, and its entries if asked for."""

    __slots__ = ("entries", "lines", "location", "problems", "repair_hint", "totals")

    def __init__(  # noqa: PLR0917
        self,
        totals: Totals,
        problems: tuple[Problem, ...],
        location: str,
        lines: int = 0,  # lines in the file, a torn tail included
        entries: tuple[Entry, ...] | None = None,  # None: read from a checkpoint, totals only
        repair_hint: str = REPAIR_HINT,
    ) -> None:
        self.totals, self.problems, self.location = totals, problems, location
        self.lines, self.entries, self.repair_hint = lines, entries, repair_hint

    def require_clean(self) -> None:
        """Fail closed: the guard may not decide anything over a ledger with bad lines."""
        if not self.problems:
            return
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        if first.torn and len(self.problems) == 1:
            hint = self.repair_hint
        else:
            hint = "run `budget verify` to list every bad line, then see Repair in docs/ledger.md"
        raise LedgerError(f"{self.location}:{first.line}: {first.reason}{more}; {hint}")
