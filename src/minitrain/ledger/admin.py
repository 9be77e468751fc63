"""The books' administration, as library functions that return results the CLI prints:
verify, repair, export, import and the database schema.

Nothing here prints or exits; each function raises the project's errors (the CLI's one handler
turns them into a message and an exit code) or returns what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from minitrain.cents import format_usd, usd_text
from minitrain.errors import InputError, LedgerError
from minitrain.ledger import Ledger, audit, file, jsonl, memory
from minitrain.ledger.entries import Entry, Problem
from minitrain.ledger.line_format import encode
from minitrain.ledger.parser import parse
from minitrain.ledger.totals import fold_operations

if TYPE_CHECKING:
    from minitrain.ledger.postgres import PostgresLedger

Limits = tuple[Decimal, Mapping[str, Decimal]]  # the ceiling and the caps in force
TORN_REASON = "torn last line (a crash mid-write); its writer never returned"


@dataclass(frozen=True)
class Verified:
    """``budget verify``: every line read (never the checkpoint), then every limit judged."""

    location: str
    lines: int
    problems: tuple[Problem, ...]
    operations: int = 0
    spent: Decimal = Decimal(0)
    ceiling: Decimal = Decimal(0)
    findings: tuple[str, ...] = ()  # a note on the caps, then each breach, one line each
    over: bool = False  # some limit is breached
    differences: tuple[str, ...] = ()  # a database's stored balances against its rows

    def problem_lines(self) -> list[str]:
        return [f"{self.location}:{p.line}: {p.reason}" for p in self.problems] + [
            f"{self.location}: {d}" for d in self.differences
        ]

    def require_sound(self) -> None:
        if self.problems:
            raise LedgerError(
                f"{len(self.problems)} bad line(s) in {self.location}; see Repair in docs/ledger.md"
            )
        if self.differences:
            raise LedgerError(
                f"{self.location}: its stored balances differ from its rows"
                f" ({len(self.differences)} difference(s), above); the rows are the truth, and"
                " the guard decides on the balances: stop writing to it and have its owner"
                " check that the trigger ledger_balances is enabled"
            )

    def summary(self) -> str:
        return (
            f"ok: {self.lines} lines, {self.operations} operations,"
            f" spent {format_usd(self.spent)} of {format_usd(self.ceiling)}"
        )

    def data(self) -> dict[str, object]:
        return {"ok": True, "lines": self.lines, "spent": usd_text(self.spent)}


def verify(ledger: Ledger, limits: Callable[[], Limits]) -> Verified:
    """Every line sound, then the ceiling and every cap (``limits`` is asked only once every
    line is sound: a bad ledger is the answer whatever the limits)."""
    from minitrain.ledger.postgres import PostgresLedger  # not psycopg: that waits for a URL

    differences: tuple[str, ...] = ()
    if isinstance(ledger, PostgresLedger):
        snapshot, differences = ledger.audit()
    else:
        snapshot = ledger.read(full=True)
    if snapshot.problems or differences:
        return Verified(
            snapshot.location, snapshot.lines, snapshot.problems, differences=differences
        )
    ceiling, caps = limits()
    note = audit.caps_over_ceiling(ceiling, caps)
    found = audit.breaches(fold_operations(snapshot.entries or ()), ceiling=ceiling, caps=caps)
    return Verified(
        snapshot.location,
        snapshot.lines,
        (),
        operations=len({e.op_id or e.id for e in snapshot.entries or ()}),
        spent=snapshot.totals.spent,
        ceiling=ceiling,
        findings=(*([f"note: {note}"] if note else []), *(b.message() for b in found)),
        over=bool(found),
    )


@dataclass(frozen=True)
class Repaired:
    """``budget repair``: the bad line (if any), whether it was kept (complete but its newline),
    and the losses recorded for a ledger shorter than its mark (``ledger/mark.py``)."""

    line: Problem | None
    kept: bool
    lost: tuple[Entry, ...] = ()

    def message(self) -> str:
        bad, said = self.line, []
        if bad is not None and self.kept:
            said.append(
                f"line {bad.line} was complete but for its newline; it is kept"
                f" ({bad.looks_like}); check `budget status`"
            )
        elif bad is not None:
            said.append(f"voided line {bad.line} ({bad.looks_like or bad.reason}) by appending")
            if self.lost and bad.torn:
                said.append("it had been granted: it was written whole before the file was cut")
            elif "actual" in bad.looks_like:
                said.append("it looked like an actual: record it again with `budget record`")
        if self.lost:
            amounts = ", ".join(
                f"{format_usd(e.actual or Decimal(0))} ({f'lab {e.lab}' if e.lab else 'no lab'})"
                for e in self.lost
            )
            said.append(
                f"recorded the loss of {amounts} by appending, so the books keep counting what"
                " was granted"
            )
        elif bad is None:
            said.append("the ledger was shorter than its mark, but no lab's total fell: no loss")
        return "; ".join(said)

    def data(self) -> dict[str, object]:
        lost = [{"lab": e.lab, "actual": usd_text(e.actual or Decimal(0))} for e in self.lost]
        return {"voided_line": self.line and self.line.line, "kept": self.kept, "lost": lost}


def repair(ledger: Ledger, *, line: int | None = None, reason: str | None = None) -> Repaired:
    """Void one bad line of the JSONL file by appending (by default its torn last line)."""
    if line is not None and not reason:
        raise InputError("--line needs --reason: say why that line is void")
    if isinstance(ledger, memory.MemoryLedger):
        raise InputError(memory.TEST_MODE_REPAIR)
    if not isinstance(ledger, jsonl.JsonlLedger):
        raise InputError(
            f"{ledger.location} is not a JSONL file: a database has no torn lines to repair"
        )
    return Repaired(*ledger.repair(line=line, reason=reason or TORN_REASON))


@dataclass(frozen=True)
class Exported:
    data: bytes  # every entry, as the file holds it
    lines: int


def export(ledger: Ledger, out: Path | None = None) -> Exported:
    """Every entry as JSONL lines (written to ``out`` if given); a bad ledger is not exported."""
    snapshot = ledger.read(full=True)
    snapshot.require_clean()
    exported = Exported(b"".join(encode(e) for e in snapshot.entries or ()), snapshot.lines)
    if out is not None:
        _write_export(out, exported.data)
    return exported


def _write_export(out: Path, data: bytes) -> None:
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise LedgerError(
            f"{out}: cannot write the export there: {exc.strerror}; nothing was exported"
            " (give --out a file in an existing folder)"
        ) from None


@dataclass(frozen=True)
class Imported:
    added: int
    lines: int
    location: str

    def message(self) -> str:
        return f"imported {self.added} new line(s) of {self.lines} into {self.location}"

    def data(self) -> dict[str, object]:
        return {"added": self.added, "lines": self.lines}


def import_file(ledger: Ledger, path: str) -> Imported:
    """The entries of a sound JSONL file into the database, each once (by id)."""
    database = require_database(ledger)
    try:
        data = file.read_bytes(path)  # a regular file only: a FIFO would hang the import
    except FileNotFoundError:
        raise InputError(f"{path}: no such file to import") from None
    snapshot = parse(data, location=path)
    snapshot.require_clean()
    # A void names a bad line of that file by its bytes: the bad line is not in the entries,
    # and the void itself means nothing in a database, so neither is imported.
    kept = [entry for entry in snapshot.entries or () if entry.kind != "void"]
    added = database.insert_many(kept)
    return Imported(added, snapshot.lines, database.location)


@dataclass(frozen=True)
class SchemaReady:
    location: str
    version: int

    def message(self) -> str:
        return f"{self.location}: schema at version {self.version}"

    def data(self) -> dict[str, object]:
        return {"version": self.version}


def init_schema(ledger: Ledger) -> SchemaReady:
    """``budget db init``: create or upgrade the database's schema."""
    database = require_database(ledger)
    return SchemaReady(database.location, database.init())


def require_database(ledger: Ledger) -> PostgresLedger:
    from minitrain.ledger.postgres import PostgresLedger

    if not isinstance(ledger, PostgresLedger):
        raise InputError(
            "no database ledger: set LYNX_LEDGER_URL (or the manifest's ledger_url)"
            " to postgresql://USER@HOST:PORT/DB"
        )
    return ledger
