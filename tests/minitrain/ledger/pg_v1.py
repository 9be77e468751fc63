"""Today's code, frozen: ``src/minitrain/ledger/postgres.py`` as released with schema version 1
(commit 8f59546), unchanged but for this paragraph. The migration tests create a version-1
database with it, fill it, migrate it, and let it keep writing to version 2, as a laptop not
yet upgraded would. Do not edit it to follow the package: it stands for the code in the field.

The ledger on PostgreSQL, for a group sharing one ceiling from several machines.

Same seam as ``jsonl.JsonlLedger`` (read / transaction / append), same meaning: a reservation
counts until its actual replaces it; amounts are ``numeric(12,2)``; rows are only inserted.

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
from minitrain.errors import LedgerError
from minitrain.ledger.entries import Entry
from minitrain.ledger.snapshot import Snapshot
from minitrain.ledger.totals import Totals

SCHEMA_VERSION = 1
MIGRATIONS = {
    1: """
CREATE TABLE ledger (
    seq       bigserial PRIMARY KEY,
    budget    text NOT NULL,
    id        text NOT NULL UNIQUE,
    ts        timestamptz NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('authorize', 'actual')),
    op_label  text NOT NULL CHECK (op_label <> ''),
    lab       text,
    op_id     text REFERENCES ledger (id),
    estimated numeric(12, 2) CHECK (estimated >= 0),
    actual    numeric(12, 2) CHECK (actual >= 0),
    currency  text NOT NULL CHECK (currency = 'USD'),
    CHECK (kind = 'actual' OR (estimated IS NOT NULL AND actual IS NULL AND op_id IS NULL)),
    CHECK (kind = 'authorize' OR actual IS NOT NULL)
);
-- one actual per authorization
CREATE UNIQUE INDEX ledger_one_actual ON ledger (op_id) WHERE kind = 'actual';
CREATE INDEX ledger_budget ON ledger (budget, seq);
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % is refused', TG_OP;
END $$;
CREATE TRIGGER ledger_no_update_delete BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
""",
}
_COLUMNS = "id, ts, kind, op_label, lab, op_id, estimated, actual"
_INSERT = (
    f"INSERT INTO ledger (budget, {_COLUMNS}, currency) VALUES"
    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'USD')"
)
_IF_NEW = " ON CONFLICT (id) DO NOTHING"


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


class PostgresLedger:
    def __init__(self, url: str, *, budget: str = "default") -> None:
        check_url(url)
        self.url = url
        self.budget = budget
        self.location = f"{shown(url)} (budget {budget!r})"
        self._conn: Any = None

    # --- the schema -----------------------------------------------------------------------

    def init(self) -> int:
        """Create or upgrade the schema; returns the version now in force."""
        with self._session() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('minitrain ledger schema'))")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS ledger_schema (version int PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM ledger_schema")}
            for version in sorted(MIGRATIONS):
                if version not in done:
                    conn.execute(MIGRATIONS[version])
                    conn.execute("INSERT INTO ledger_schema (version) VALUES (%s)", (version,))
        return max(MIGRATIONS)

    # --- the Ledger seam ------------------------------------------------------------------

    def read(self, *, full: bool = False) -> Snapshot:
        with self._session() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return self._snapshot(conn, full=full)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_PgTransaction]:
        with self._session() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.budget,))
            yield _PgTransaction(self, conn, self._snapshot(conn, full=False))

    def insert_many(self, entries: list[Entry]) -> int:
        """Import: insert the entries not already present (by id), in order. Returns how many."""
        added = 0
        with self._session() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.budget,))
            for entry in entries:
                added += _insert(conn, self.budget, entry, _IF_NEW).rowcount
        return added

    # --- inside ----------------------------------------------------------------------------

    def _snapshot(self, conn: Any, *, full: bool) -> Snapshot:
        if full:
            entries = [
                _entry(row, n)
                for n, row in enumerate(
                    conn.execute(
                        f"SELECT {_COLUMNS} FROM ledger WHERE budget = %s ORDER BY seq",
                        (self.budget,),
                    ),
                    1,
                )
            ]
            totals = Totals()
            for entry in entries:
                totals.fold(entry)
            return Snapshot(totals, (), self.location, len(entries), tuple(entries))
        return Snapshot(self._totals(conn), (), self.location, self._count(conn))

    def _totals(self, conn: Any) -> Totals:
        """The sums ``ledger.totals`` folds (an authorization counts its actual once closed,
        else its estimate; an unmatched actual in full), computed by the database; a test
        holds them to the Python fold of the same rows."""
        charged: dict[str, Decimal] = {}
        for lab, amount in conn.execute(
            """SELECT coalesce(a.lab, ''), sum(coalesce(c.actual, a.estimated))
                 FROM ledger a LEFT JOIN ledger c ON c.op_id = a.id AND c.kind = 'actual'
                WHERE a.budget = %s AND a.kind = 'authorize' GROUP BY 1
               UNION ALL
               SELECT coalesce(lab, ''), sum(actual) FROM ledger
                WHERE budget = %s AND kind = 'actual' AND op_id IS NULL GROUP BY 1""",
            (self.budget, self.budget),
        ):
            charged[lab] = charged.get(lab, Decimal(0)) + amount
        open_ops = {
            row[0]: _entry(row[:8], row[8])  # line: the row's place in this budget's ledger
            for row in conn.execute(
                f"""SELECT {_COLUMNS}, line FROM (
                        SELECT *, row_number() OVER (ORDER BY seq) AS line
                          FROM ledger WHERE budget = %s) a
                     WHERE a.kind = 'authorize'
                       AND NOT EXISTS (SELECT 1 FROM ledger c  -- uses ledger_one_actual
                                        WHERE c.op_id = a.id AND c.kind = 'actual')
                     ORDER BY a.seq""",
                (self.budget,),
            )
        }
        reserved = sum((r.estimated or Decimal(0) for r in open_ops.values()), Decimal(0))
        return Totals(reserved, charged, open_ops)

    def _count(self, conn: Any) -> int:
        return int(
            conn.execute(
                "SELECT count(*) FROM ledger WHERE budget = %s", (self.budget,)
            ).fetchone()[0]
        )

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        """The connection for one unit of work; any database error becomes a LedgerError (a
        transaction that did not commit wrote nothing)."""
        psycopg = _psycopg()
        try:
            yield self._connection(psycopg)
        except psycopg.errors.UndefinedTable:
            raise LedgerError(
                f"{self.location} has no ledger table yet: run `budget db init`"
            ) from None
        except psycopg.Error as exc:
            self._drop()
            raise self._error(exc) from None

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
        return self._ledger._snapshot(self._conn, full=True)

    def append(self, entry: Entry) -> Entry:
        _insert(self._conn, self._ledger.budget, entry)
        # Fold what was written into this transaction's totals, as the file and memory
        # backends do (they re-read): a caller deciding again must see its own entry.
        written = entry.replace(line=self.snapshot.lines + 1)
        totals = self.snapshot.totals.copy()
        totals.fold(written)
        self.snapshot = self.snapshot.replace(totals=totals, lines=written.line)
        return written


def _insert(conn: Any, budget: str, entry: Entry, then: str = "") -> Any:
    """The one INSERT of an entry (``then``: what to do on a conflict, for import)."""
    return conn.execute(_INSERT + then, (budget, *_values(entry)))


def _values(entry: Entry) -> tuple[object, ...]:
    return (
        entry.id,
        entry.ts,
        entry.kind,
        entry.op_label,
        entry.lab,
        entry.op_id,
        entry.estimated,
        entry.actual,
    )


def _entry(row: tuple[Any, ...], line: int) -> Entry:
    id_, ts, kind, label, lab, op_id, estimated, actual = row
    return Entry(id_, ts, kind, label, estimated, actual, op_id, lab, line)
