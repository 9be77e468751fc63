"""The ledger on PostgreSQL, for a group sharing one ceiling from several machines.

Same seam as ``jsonl.JsonlLedger`` (read / transaction / append), same meaning: a reservation
counts until its actual replaces it; amounts are ``numeric(12,2)``; rows are only inserted.
The schema (``pg_schema``) keeps the balances beside the rows, moved by a trigger in the
transaction that inserts: a decision reads one budget row, its labs and its open reservations,
never the history, so it costs the same at a million rows as at none.

Why an advisory lock and not SERIALIZABLE: the decision reads the budget's totals and inserts
one row; ``pg_advisory_xact_lock`` on the budget's name makes exactly those transactions of the
same budget run one at a time (others, and plain readers, are not blocked), with no retry loop
to get wrong. It is released by COMMIT or ROLLBACK, so a dropped connection cannot leave it held.
A trigger refuses UPDATE, DELETE and TRUNCATE: the table is append-only for everyone.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from minitrain._secrets import redact_url
from minitrain.cents import format_usd
from minitrain.errors import AlreadyOpen, InputError, LedgerError
from minitrain.ledger import pg_schema
from minitrain.ledger.entries import Entry
from minitrain.ledger.snapshot import Snapshot
from minitrain.ledger.totals import Totals

SCHEMA_VERSION = pg_schema.SCHEMA_VERSION
_COLUMNS = "id, ts, kind, op_label, lab, op_id, estimated, actual, reason, op_ids"
_INSERT = (
    f"INSERT INTO ledger (budget, {_COLUMNS}, currency) VALUES"
    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'USD')"
)
_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"  # the key version 1's writers take too
# The budget's balances and open reservations, in one statement: one round trip, one snapshot.
_BALANCES = """
SELECT 'budget', NULL::text, spent, reserved, lines, NULL::text, NULL::timestamptz, NULL::text
  FROM ledger_balance WHERE budget = %(budget)s
UNION ALL
SELECT 'lab', lab, spent, reserved, NULL, NULL, NULL, NULL
  FROM ledger_lab_balance WHERE budget = %(budget)s
UNION ALL
SELECT 'open', lab, estimated, NULL, line, id, ts, op_label
  FROM ledger_open WHERE budget = %(budget)s
"""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise LedgerError(
            "a postgresql:// ledger needs psycopg: pip install 'minitrain-preflight[postgres]'"
        ) from None
    return psycopg


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port out of range, an unclosed [IPv6: still never the password
        return redact_url(url)
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def check_url(url: str) -> None:
    """A LedgerError (naming the URL without its password) unless ``url`` can be connected to."""
    try:
        urlsplit(url).port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise LedgerError(
            f"ledger URL {redact_url(url)}: {exc}; give postgresql://USER@HOST:PORT/DB"
            " (a port is 1-65535; an IPv6 host is written [::1])"
        ) from None


class _Clash(Exception):
    """The database refused a second open reservation of a label (the backstop index)."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


class PostgresLedger:
    def __init__(self, url: str, *, budget: str = "default") -> None:
        check_url(url)
        self.url = url
        self.budget = budget
        self.location = f"{shown(url)} (budget {budget!r})"
        self._conn: Any = None

    # --- the schema -----------------------------------------------------------------------

    def init(self, *, upto: int = SCHEMA_VERSION) -> int:
        """Create or upgrade the schema; returns the version now in force."""
        with self._session() as conn:
            return pg_schema.migrate(conn, upto=upto)

    # --- the Ledger seam ------------------------------------------------------------------

    def read(self, *, full: bool = False) -> Snapshot:
        with self._session() as conn:
            if not full:
                return self._snapshot(conn)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return self._full(conn)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_PgTransaction]:
        with self._session() as conn, conn.transaction():
            conn.execute(_LOCK, (self.budget,))
            yield _PgTransaction(self, conn, self._snapshot(conn))

    def audit(self) -> tuple[Snapshot, tuple[str, ...]]:
        """``budget verify``: every row folded by the one rule, and each way the stored balances
        differ from that fold (none: they agree), read in one snapshot."""
        with self._session() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            folded = self._full(conn)
            stored = self._snapshot(conn)
            spent = conn.execute(
                "SELECT spent FROM ledger_balance WHERE budget = %s", (self.budget,)
            ).fetchone()
        return folded, _differences(folded, stored, spent[0] if spent else Decimal(0))

    def insert_many(self, entries: list[Entry]) -> int:
        """Import: the entries not already present (by id), in order, in one transaction:
        COPY into a staging table, then one INSERT of what is new. Returns how many."""
        psycopg = _psycopg()
        with self._session() as conn, conn.transaction():
            conn.execute(_LOCK, (self.budget,))
            conn.execute("SELECT 1 FROM ledger_balance LIMIT 0")  # version 2, or its advice
            conn.execute(
                "CREATE TEMP TABLE ledger_import (n bigint, id text, ts timestamptz, kind text,"
                " op_label text, lab text, op_id text, estimated numeric, actual numeric,"
                " reason text, op_ids text[]) ON COMMIT DROP"
            )
            with conn.cursor().copy("COPY ledger_import FROM STDIN") as copy:
                for n, entry in enumerate(entries):
                    copy.write_row((n, *_values(entry)))
            try:
                return int(
                    conn.execute(
                        f"INSERT INTO ledger (budget, {_COLUMNS}, currency)"
                        f" SELECT %s, {_COLUMNS}, 'USD' FROM ledger_import s"
                        " WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.id = s.id)"
                        " ORDER BY n ON CONFLICT (id) DO NOTHING",
                        (self.budget,),
                    ).rowcount
                )
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name != pg_schema.ONE_PER_LABEL:
                    raise
                raise InputError(
                    f"{self.location}: the import would leave two open reservations of one"
                    f" label ({exc.diag.message_detail}); record the actual of one of them in"
                    " the file (`budget --ledger FILE record LABEL USD`) and import again;"
                    " nothing was imported"
                ) from None

    # --- inside ----------------------------------------------------------------------------

    def _snapshot(self, conn: Any) -> Snapshot:
        reserved, lines = Decimal(0), 0
        charged: dict[str, Decimal] = {}
        opened: list[Entry] = []
        for what, lab, amount, held, line, id_, ts, label in conn.execute(
            _BALANCES, {"budget": self.budget}
        ):
            if what == "budget":
                reserved, lines = held, line
            elif what == "lab":
                charged[lab] = amount
            else:
                opened.append(Entry(id_, ts, "authorize", label, amount, None, None, lab, line))
        opened.sort(key=lambda entry: entry.line)
        totals = Totals(reserved, charged, {entry.id: entry for entry in opened})
        return Snapshot(totals, (), self.location, lines)

    def _full(self, conn: Any) -> Snapshot:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM ledger WHERE budget = %s ORDER BY seq", (self.budget,)
        )
        entries = [_entry(row, n) for n, row in enumerate(rows, 1)]
        totals = Totals()
        for entry in entries:
            totals.fold(entry)
        return Snapshot(totals, (), self.location, len(entries), tuple(entries))

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        """The connection for one unit of work; any database error becomes a LedgerError (a
        transaction that did not commit wrote nothing)."""
        psycopg = _psycopg()
        conn = None
        try:
            conn = self._connection(psycopg)
            yield conn
        except _Clash as clash:
            raise self._already_open(conn, clash.label) from None
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            raise LedgerError(self._schema_advice(conn)) from None
        except psycopg.Error as exc:
            self._drop()
            raise self._error(exc) from None

    def _schema_advice(self, conn: Any) -> str:
        """What to do about a table or column this version needs and the database lacks."""
        try:
            found = pg_schema.version_in(conn)
        except _psycopg().Error:
            found = None
        if found is None:
            return f"{self.location} has no ledger table yet: run `budget db init`"
        if found < SCHEMA_VERSION:
            return (
                f"{self.location} holds schema version {found}; this minitrain needs version"
                f" {SCHEMA_VERSION}: run `budget db init` to migrate it (every row is kept)"
            )
        return (
            f"{self.location} holds schema version {found}, which lacks what version"
            f" {SCHEMA_VERSION} needs; check it with `budget verify`"
        )

    def _already_open(self, conn: Any, label: str) -> LedgerError | AlreadyOpen:
        """The backstop refused a second open reservation: name the open one."""
        row = conn.execute(
            "SELECT id, ts, op_label, lab, estimated FROM ledger_open"
            " WHERE budget = %s AND lower(op_label) = lower(%s) ORDER BY seq DESC LIMIT 1",
            (self.budget, label),
        ).fetchone()
        if row is None:  # closed in between: nothing was written, trying again will do
            return LedgerError(f"{self.location}: {label!r} was open a moment ago; try again")
        id_, ts, op_label, lab, estimated = row
        return already_open(label, Entry(id_, ts, "authorize", op_label, estimated, lab=lab))

    def _connection(self, psycopg: Any) -> Any:
        """One connection per ledger object, kept between operations (connecting costs more
        than a whole authorization); checked before each use, and replaced once if the server
        restarted in between. The check runs before any transaction, so retrying is safe."""
        conn = self._conn
        if conn is not None and not conn.closed:
            try:
                conn.execute("SELECT 1")
                return conn
            except psycopg.OperationalError:
                self._drop()
        self._conn = psycopg.connect(self.url, connect_timeout=10, autocommit=True)
        # Closed when this object goes, even inside a garbage cycle: the finalizer holds the
        # connection, so it cannot be collected (unclosed) before the ledger is.
        weakref.finalize(self, self._conn.close)
        return self._conn

    def close(self) -> None:
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def _error(self, exc: Exception) -> LedgerError:
        first = redact_url((str(exc).strip().splitlines() or [type(exc).__name__])[0])
        return LedgerError(
            f"{self.location}: {first}; nothing was written unless `budget status` shows it"
        )


class _PgTransaction:
    def __init__(self, ledger: PostgresLedger, conn: Any, snapshot: Snapshot) -> None:
        self._ledger = ledger
        self._conn = conn
        self.snapshot = snapshot

    def full(self) -> Snapshot:
        return self._ledger._full(self._conn)

    def holds(self, entry_id: str) -> bool:
        """Whether a row with this id is in the ledger: one read of its unique index, where
        ``full()`` reads the whole budget (for an idempotent authorize's op id)."""
        return bool(
            self._conn.execute("SELECT 1 FROM ledger WHERE id = %s", (entry_id,)).fetchone()
        )

    def append(self, entry: Entry) -> Entry:
        if entry.kind == "authorize":
            _refuse_second_open(self.snapshot.totals, entry.op_label)
        try:
            self._conn.execute(_INSERT, (self._ledger.budget, *_values(entry)))
        except _psycopg().errors.UniqueViolation as exc:
            if exc.diag.constraint_name == pg_schema.ONE_PER_LABEL:
                raise _Clash(entry.op_label) from None
            raise
        # Fold what was written into this transaction's totals, as the file and memory
        # backends do (they re-read): a caller deciding again must see its own entry.
        written = entry.replace(line=self.snapshot.lines + 1)
        totals = self.snapshot.totals.copy()
        totals.fold(written)
        self.snapshot = self.snapshot.replace(totals=totals, lines=written.line)
        return written


def _refuse_second_open(totals: Totals, label: str) -> None:
    """One label, one open reservation (labels compared as ``lower()`` compares them), checked
    under the budget's lock from the open reservations the snapshot holds."""
    key = label.lower()
    for opened in totals.open_ops.values():
        if opened.op_label.lower() == key:
            raise already_open(label, opened)


def already_open(label: str, opened: Entry) -> AlreadyOpen:
    """The refusal of a second open reservation, naming the open one and how to close it."""
    assert opened.estimated is not None
    return AlreadyOpen(
        op_label=opened.op_label, op_id=opened.id, estimated=opened.estimated, at=opened.ts
    )


def _differences(folded: Snapshot, stored: Snapshot, spent: Decimal) -> tuple[str, ...]:
    """Each way the stored balances differ from the rows' fold, one line each."""
    rows, kept = folded.totals, stored.totals
    found = []
    if (stored.lines, spent, kept.reserved) != (folded.lines, rows.spent, rows.reserved):
        found.append(
            f"the budget's balance row says {stored.lines} lines, spent {format_usd(spent)},"
            f" reserved {format_usd(kept.reserved)}; its rows say {folded.lines} lines,"
            f" spent {format_usd(rows.spent)}, reserved {format_usd(rows.reserved)}"
        )
    for lab in sorted(rows.charged_by_lab.keys() | kept.charged_by_lab.keys()):
        said, truth = kept.charged_by_lab.get(lab), rows.charged_by_lab.get(lab)
        if said != truth:
            name = f"lab {lab}" if lab else "no lab (the buffer)"
            found.append(
                f"the balance of {name} says spent {_usd(said)}; its rows say {_usd(truth)}"
            )
    for id_ in sorted(rows.open_ops.keys() ^ kept.open_ops.keys()):
        opened = id_ in rows.open_ops
        found.append(
            f"reservation {id_} is {'open' if opened else 'closed'} by its rows but"
            f" {'missing from' if opened else 'still in'} the open reservations"
        )
    return tuple(found)


def _usd(amount: Decimal | None) -> str:
    return "nothing" if amount is None else format_usd(amount)


def _values(entry: Entry) -> tuple[object, ...]:
    lost = entry.op_ids  # a loss's op ids
    return (
        entry.id,
        entry.ts,
        entry.kind,
        entry.op_label,
        entry.lab,
        entry.op_id,
        entry.estimated,
        entry.actual,
        entry.reason,
        None if lost is None else list(lost),
    )


def _entry(row: tuple[Any, ...], line: int) -> Entry:
    id_, ts, kind, label, lab, op_id, estimated, actual, reason, op_ids = row
    ids = None if op_ids is None else tuple(op_ids)
    return Entry(
        id_, ts, kind, label, estimated, actual, op_id, lab, line, reason=reason, op_ids=ids
    )
