"""The PostgreSQL ledger's schema: its tables, the trigger that keeps the balances, and the
migrations from one version to the next (``budget db init`` applies them).

Version 1 (what the first PostgreSQL release created): one append-only table, ``ledger``, whose
rows are the entries; every total was summed from them on every read.

Version 2 keeps the balances beside the entries, as a bank keeps a balance row beside its
transfers (TigerBeetle's accounts and transfers):

* ``ledger_balance``: one row per budget (lines, spent, reserved);
* ``ledger_lab_balance``: one row per budget and lab (``''``: no lab), its spent and reserved;
* ``ledger_open``: the authorizations that have no actual yet, with their line in the budget,
  at most one per label (compared with ``lower()``) and budget: the one-label-one-open-
  reservation rule's backstop, for every writer.

They are derived, never the truth: an AFTER INSERT trigger on ``ledger`` (one per statement, over
its transition table, so a bulk import folds once) moves them in the transaction that inserts the
entry, so every writer keeps them true, a writer that does not know version 2 included.
``budget verify`` recomputes them from the rows and names any difference.

What moves is the one rule of ``ledger.totals``: ``ledger_added_by`` is the SQL twin of
:func:`minitrain.ledger.totals.added_by` (a test holds the two to the same answers). Version 2
also holds what the "one name, one thing" issue adds, so there is no version 3 for it: an actual
with no reservation (``op_id`` NULL), and a recorded ``loss`` (its amount in ``actual``, counted as
spent like a closed actual; ``lab`` NULL for the buffer; a ``reason``; the ``op_ids`` lost).
"""

from __future__ import annotations

from typing import Any  # psycopg, the only importer of this module, imports typing anyway

SCHEMA_VERSION = 2

_V1 = """
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
"""

# How a set of new rows ({rows}: the trigger's transition table, or the whole ledger when
# version 2 is first applied) moves the balances: each row's charge by the one rule, on the lab
# of the reservation it closes (else its own), then the authorizations the same rows leave open.
# Written once here and used twice, so the migration folds exactly as the trigger does.
_FOLD = """
WITH moves AS (
    SELECT n.budget, n.seq, n.id, n.kind, n.op_label, n.ts, n.estimated,
           CASE WHEN n.op_id IS NULL THEN n.lab ELSE a.lab END AS lab,
           ledger_added_by(n.kind,
                           CASE WHEN n.kind = 'authorize' THEN n.estimated ELSE a.estimated END,
                           n.actual) AS spent,
           CASE WHEN n.kind = 'authorize' THEN n.estimated
                WHEN n.op_id IS NULL THEN 0
                ELSE -a.estimated END AS reserved,
           row_number() OVER (PARTITION BY n.budget ORDER BY n.seq) AS nth,
           count(*) OVER (PARTITION BY n.budget) AS added
      FROM {rows} n LEFT JOIN ledger a ON a.id = n.op_id
), by_lab AS (
    INSERT INTO ledger_lab_balance AS b (budget, lab, spent, reserved)
    SELECT budget, coalesce(lab, ''), sum(spent), sum(reserved) FROM moves GROUP BY 1, 2
        ON CONFLICT (budget, lab) DO UPDATE
       SET spent = b.spent + excluded.spent, reserved = b.reserved + excluded.reserved
), by_budget AS (
    INSERT INTO ledger_balance AS b (budget, lines, spent, reserved)
    SELECT budget, count(*), sum(spent), sum(reserved) FROM moves GROUP BY 1
        ON CONFLICT (budget) DO UPDATE
       SET lines = b.lines + excluded.lines, spent = b.spent + excluded.spent,
           reserved = b.reserved + excluded.reserved
    RETURNING budget, lines
)
INSERT INTO ledger_open (id, budget, op_label, lab, estimated, ts, seq, line)
SELECT m.id, m.budget, m.op_label, m.lab, m.estimated, m.ts, m.seq, b.lines - m.added + m.nth
  FROM moves m JOIN by_budget b USING (budget)
 WHERE m.kind = 'authorize' AND NOT EXISTS (SELECT 1 FROM {rows} c WHERE c.op_id = m.id)
"""

_V2 = f"""
ALTER TABLE ledger ADD COLUMN reason text, ADD COLUMN op_ids text[];
-- version 1's checks on kind were unnamed: replace them by named ones that know 'loss'
DO $$
DECLARE found record;
BEGIN
    FOR found IN SELECT conname FROM pg_constraint
                  WHERE conrelid = 'ledger'::regclass AND contype = 'c'
                    AND pg_get_constraintdef(oid) LIKE '%kind%'
    LOOP
        EXECUTE format('ALTER TABLE ledger DROP CONSTRAINT %I', found.conname);
    END LOOP;
END $$;
ALTER TABLE ledger
    ADD CONSTRAINT ledger_kind CHECK (kind IN ('authorize', 'actual', 'loss')),
    ADD CONSTRAINT ledger_authorize_fields CHECK (
        kind <> 'authorize' OR (estimated IS NOT NULL AND actual IS NULL AND op_id IS NULL)),
    ADD CONSTRAINT ledger_actual_fields CHECK (kind = 'authorize' OR actual IS NOT NULL),
    ADD CONSTRAINT ledger_loss_fields CHECK (
        kind <> 'loss' OR (op_id IS NULL AND estimated IS NULL)),
    ADD CONSTRAINT ledger_loss_only_fields CHECK (
        kind = 'loss' OR (reason IS NULL AND op_ids IS NULL));

-- the SQL twin of ledger.totals.added_by: how much spent moves when one entry is appended
-- (estimated: for an actual, the reservation it closes; NULL when nothing was open)
CREATE FUNCTION ledger_added_by(kind text, estimated numeric, actual numeric)
    RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN kind = 'authorize' THEN estimated
                WHEN estimated IS NULL THEN actual
                ELSE actual - estimated END
$$;

CREATE TABLE ledger_balance (
    budget   text PRIMARY KEY,
    lines    bigint NOT NULL,
    spent    numeric NOT NULL,
    reserved numeric NOT NULL
);
CREATE TABLE ledger_lab_balance (
    budget   text NOT NULL,
    lab      text NOT NULL,  -- '' = no lab (the buffer)
    spent    numeric NOT NULL,
    reserved numeric NOT NULL,
    PRIMARY KEY (budget, lab)
);
CREATE TABLE ledger_open (
    id        text PRIMARY KEY,
    budget    text NOT NULL,
    op_label  text NOT NULL,
    lab       text,
    estimated numeric(12, 2) NOT NULL,
    ts        timestamptz NOT NULL,
    seq       bigint NOT NULL,
    line      bigint NOT NULL,  -- its line in the budget's ledger, as a full read numbers it
    -- version 1 allowed two open reservations of one label: all but the latest are kept
    -- (nothing is lost) and left out of the one-per-label index
    before_v2 boolean NOT NULL DEFAULT false
);
CREATE INDEX ledger_open_budget ON ledger_open (budget, seq);

{_FOLD.format(rows="ledger")};
UPDATE ledger_open o SET before_v2 = true
 WHERE EXISTS (SELECT 1 FROM ledger_open p WHERE p.budget = o.budget
                  AND lower(p.op_label) = lower(o.op_label) AND p.seq > o.seq);
CREATE UNIQUE INDEX ledger_open_one_per_label ON ledger_open (budget, lower(op_label))
    WHERE NOT before_v2;

CREATE FUNCTION ledger_keep_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_FOLD.format(rows="added")};
    DELETE FROM ledger_open o USING added c WHERE o.id = c.op_id;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_balances AFTER INSERT ON ledger REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_keep_balances();
"""

MIGRATIONS = {1: _V1, 2: _V2}
ONE_PER_LABEL = "ledger_open_one_per_label"
TABLES = ("ledger", "ledger_balance", "ledger_lab_balance", "ledger_open", "ledger_schema")

# A role for `budget status` and `budget report` that can read the books and cannot spend
# (run as the tables' owner, after `budget db init`; give the role its own password).
READ_ONLY_ROLE = f"""\
CREATE ROLE ledger_reader LOGIN PASSWORD 'change-me';
GRANT USAGE ON SCHEMA public TO ledger_reader;
GRANT SELECT ON {", ".join(TABLES)} TO ledger_reader;
"""


_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('minitrain ledger schema'))"


def migrate(conn: Any, *, upto: int = SCHEMA_VERSION) -> int:
    """Apply the migrations not yet applied (up to ``upto``) in one transaction, under the
    schema's own lock (two `budget db init` at once: the second finds it done). Returns the
    version now in force. A live database keeps every row: version 2 only adds."""
    with conn.transaction():
        conn.execute(_SCHEMA_LOCK)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ledger_schema (version int PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done: set[int] = {row[0] for row in conn.execute("SELECT version FROM ledger_schema")}
        for version in sorted(MIGRATIONS):
            if version <= upto and version not in done:
                conn.execute(MIGRATIONS[version])
                conn.execute("INSERT INTO ledger_schema (version) VALUES (%s)", (version,))
                done.add(version)
    return max(done)


def version_in(conn: Any) -> int | None:
    """The schema version a database holds (None: none yet). Asked only when a command found a
    table missing: the tables themselves are the check, so a command spends no round trip."""
    with conn.transaction():
        if not conn.execute("SELECT to_regclass('ledger_schema') IS NOT NULL").fetchone()[0]:
            return None
        version: int | None = conn.execute("SELECT max(version) FROM ledger_schema").fetchone()[0]
        return version
