"""``BUDGET_GUARD_TEST_MODE=1``'s ledger: read from the file (if any), then kept in memory; it
writes nothing to disk, and so cannot repair anything either."""

from __future__ import annotations

import os

from minitrain.ledger.file import read_bytes
from minitrain.ledger.parser import Parser

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:  # the protocol's home imports this module (for open_ledger), not back
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from os import PathLike

    from minitrain.ledger import Transaction
    from minitrain.ledger.entries import Entry
    from minitrain.ledger.snapshot import Snapshot


class MemoryLedger:
    """``BUDGET_GUARD_TEST_MODE=1``: starts from the file (if any), then writes nothing to disk."""

    def __init__(self, path: str | PathLike[str]) -> None:
        import contextlib
        import threading  # test mode only: not start-up time for every command

        self.location = f"{os.fspath(path)} (test mode: in memory)"
        self._state = Parser(self.location)
        with contextlib.suppress(FileNotFoundError):
            self._state.feed(read_bytes(os.fspath(path)))
        self._lock = threading.Lock()

    def read(self, *, full: bool = False) -> Snapshot:
        return _in_memory(self._state.snapshot())

    def transaction(self) -> AbstractContextManager[Transaction]:
        import contextlib  # as JsonlLedger.transaction

        return contextlib.contextmanager(self._transaction)()

    def _transaction(self) -> Iterator[Transaction]:
        with self._lock:
            yield _MemoryTransaction(self._state)


class _MemoryTransaction:
    def __init__(self, state: Parser) -> None:
        self._state = state
        self.snapshot = _in_memory(state.snapshot())

    def full(self) -> Snapshot:
        return _in_memory(self._state.snapshot())

    def holds(self, entry_id: str) -> bool:
        if entry_id in self.snapshot.totals.open_ops:
            return True
        return any(entry.id == entry_id for entry in self.full().entries or ())

    def append(self, entry: Entry) -> Entry:
        self.snapshot.require_clean()
        written = self._state.append(entry)
        self.snapshot = _in_memory(self._state.snapshot())
        return written


def _in_memory(snapshot: Snapshot) -> Snapshot:
    return snapshot.replace(repair_hint=TEST_MODE_REPAIR)


TEST_MODE_REPAIR = (
    "test mode (BUDGET_GUARD_TEST_MODE=1) never writes the file, so it cannot repair it:"
    " unset BUDGET_GUARD_TEST_MODE, then run `budget repair`"
)
