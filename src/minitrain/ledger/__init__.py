"""Where the books are kept, behind one seam: the :class:`Ledger` protocol and :func:`open_ledger`.

The guard's rules (``budget_guard``) see only this protocol; which backend stands behind it is
decided here, from the environment and the settings:

* ``BUDGET_GUARD_TEST_MODE=1``: in memory (``memory.MemoryLedger``), starting from the file;
* a ``postgresql://`` URL (``LYNX_LEDGER_URL``, else the manifest's ``ledger_url``): ``postgres``;
* otherwise the append-only JSONL file (``jsonl.JsonlLedger``).

Inside: ``entries`` the entry types, ``line_format`` one line's bytes (encode, seal, decode),
``parser`` reading lines into totals, ``snapshot`` what a read found, ``totals`` what counts as
spent, ``file`` the file's system calls, ``reader`` what a process knows of the file between
reads, ``jsonl`` and ``memory`` the two file-based ledgers, ``checkpoint`` the derived summary of
the file, ``admin`` verify / repair / export / import.
"""

from __future__ import annotations

import os

from minitrain.errors import InputError

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    import contextlib
    from typing import Protocol

    from minitrain.ledger.entries import Entry
    from minitrain.ledger.snapshot import Snapshot
else:
    # The protocols are for the type checker; at run time each is a plain class of the same
    # name (nothing checks them then), so every command is spared importing ``typing``.
    Protocol = object

TEST_MODE_ENV = "BUDGET_GUARD_TEST_MODE"
LEDGER_URL_ENV = "LYNX_LEDGER_URL"


class Transaction(Protocol):
    """What a writer sees while it holds the ledger exclusively."""

    @property
    def snapshot(self) -> Snapshot:
        """The totals now, this transaction's appends included (entries not loaded)."""
        ...

    def full(self) -> Snapshot:
        """Every entry, read under the same lock (slow on a large ledger; rarely needed)."""
        ...

    def holds(self, entry_id: str) -> bool:
        """Whether a line with this id is in the ledger (an idempotent authorize's op id)."""
        ...

    def append(self, entry: Entry) -> Entry: ...


class Ledger(Protocol):
    """The seam between the guard's rules and where the lines live (a file; later a database)."""

    location: str

    def read(self, *, full: bool = False) -> Snapshot: ...

    def transaction(self) -> contextlib.AbstractContextManager[Transaction]: ...


def open_ledger(log_path: str, url: str | None) -> Ledger:
    """Test mode: in memory. A database URL (the argument, else LYNX_LEDGER_URL): PostgreSQL.
    Otherwise the JSONL file."""
    if in_test_mode():
        from minitrain.ledger import memory  # below this module, as jsonl

        return memory.MemoryLedger(log_path)
    url = os.environ.get(LEDGER_URL_ENV) or url
    if not url:
        from minitrain.ledger import jsonl  # below this module: imports the protocol for types

        return jsonl.JsonlLedger(log_path)
    if not url.startswith(("postgresql://", "postgres://")):
        from minitrain._secrets import redact_url  # only to word the error (start-up time)

        raise InputError(
            f"ledger URL {redact_url(url)!r}: only postgresql://USER@HOST:PORT/DB is supported"
        )
    from minitrain.ledger.postgres import PostgresLedger  # psycopg only when a URL asks for it

    return PostgresLedger(url)


def in_test_mode() -> bool:
    """Whether BUDGET_GUARD_TEST_MODE asks for the in-memory ledger (an odd value is an error)."""
    value = os.environ.get(TEST_MODE_ENV, "")
    if value not in ("", "0", "1"):
        raise InputError(f"{TEST_MODE_ENV}={value!r}: use 1 (write nothing) or 0")
    return value == "1"
