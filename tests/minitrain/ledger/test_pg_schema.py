"""Schema version 2: balances beside the entries, kept by the database's own trigger for every
writer (today's code included), migrated from version 1 without losing a row, and checked by
`budget verify` against the rows with the one spent rule."""

from __future__ import annotations

import itertools
import multiprocessing
from decimal import Decimal

import pytest

from minitrain import BudgetGuard, LedgerError
from minitrain.cli.budget import main as budget
from minitrain.errors import AlreadyOpen
from minitrain.ledger import totals
from minitrain.ledger.entries import new_entry
from minitrain.ledger.postgres import PostgresLedger
from tests.minitrain.ledger import pg_v1

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.usefixtures("file_mode")


@pytest.fixture
def v1_url(pg_server: object, request: pytest.FixtureRequest) -> str:
    """An empty database whose schema today's code (version 1) created."""
    url: str = pg_server.database(f"v1_{request.node.name.lower()[:40]}")  # type: ignore[attr-defined]
    assert pg_v1.PostgresLedger(url).init() == 1
    return url


def _fill(ledger: object) -> None:
    """Every kind of row today's code writes: closed, open, unmatched, several labs, and two
    open reservations of one label (which version 1 allowed)."""
    guard = BudgetGuard("50.00", ledger=ledger)  # type: ignore[arg-type]
    guard.authorize("lab02-a", "1.00")
    guard.record_actual("lab02-a", "1.40")
    guard.authorize("lab03-b", "0.75")
    guard.authorize("c", "0.50")
    guard.record_actual("c", "0.10")
    guard.record_actual("lab04-d", "0.20", unplanned=True)
    guard.authorize("twin", "0.30")
    with ledger.transaction() as txn:  # as today's guard allowed before issue 21
        txn.append(new_entry("authorize", "twin", estimated=Decimal("0.40"), lab=None))


def _books(ledger: PostgresLedger | pg_v1.PostgresLedger) -> tuple[object, ...]:
    full = ledger.read(full=True)
    return (
        full.totals.charged_by_lab,
        full.totals.reserved,
        sorted((e.id, e.line) for e in full.totals.open_ops.values()),
        full.entries,
    )


@pytest.mark.parametrize(
    ("kind", "estimated", "actual"),
    [
        (kind, estimated, actual)
        for kind, estimated, actual in itertools.product(
            ["authorize", "actual", "loss"],
            [None, Decimal("0.00"), Decimal("1.00"), Decimal("2.50")],
            [None, Decimal("0.00"), Decimal("0.40"), Decimal("3.00")],
        )
        # the rows the table's checks allow: an authorization has an estimate and no actual;
        # an actual and a loss have an actual; a loss closes nothing
        if (kind == "authorize") == (actual is None)
        and (kind != "authorize" or estimated is not None)
        and (kind != "loss" or estimated is None)
    ],
)
def test_the_sql_twin_is_the_one_spent_rule(
    pg_url: str, kind: str, estimated: Decimal | None, actual: Decimal | None
) -> None:
    """``ledger_added_by`` (what the trigger moves) says what ``totals.added_by`` says."""
    with psycopg.connect(pg_url) as conn:
        (moved,) = conn.execute(
            "SELECT ledger_added_by(%s, %s::numeric, %s::numeric)", (kind, estimated, actual)
        ).fetchone()
    assert moved == totals.added_by(kind, estimated, actual)


def test_the_balances_are_the_fold_of_the_rows_for_every_kind(pg_url: str) -> None:
    """Unplanned actuals (op_id NULL) and recorded losses (kind 'loss', amount in actual, lab
    or the buffer) count as spent, on their lab; the balances the guard reads agree with the
    rows folded by ``ledger.totals``, and `verify` finds no difference."""
    ledger = PostgresLedger(pg_url)
    other = BudgetGuard("50.00", ledger=PostgresLedger(pg_url, budget="other"))
    other.authorize("lab02-a", "3.00")  # another budget's rows change nothing here
    guard = BudgetGuard("50.00", ledger=ledger)
    guard.authorize("lab02-a", "1.00")
    guard.record_actual("lab02-a", "0.25")
    guard.authorize("lab03-b", "0.75")
    with psycopg.connect(pg_url) as conn:
        for lab, amount in ((None, "1.10"), ("03", "0.05")):
            conn.execute(
                "INSERT INTO ledger (budget, id, ts, kind, op_label, lab, actual, reason, op_ids,"
                " currency) VALUES ('default', %s, now(), 'loss', 'ledger-repair', %s, %s,"
                " 'the ledger shrank', ARRAY['abc'], 'USD')",
                (f"loss-{amount}", lab, Decimal(amount)),
            )
    summed, (folded, differences) = ledger.read(), ledger.audit()
    assert differences == ()
    assert summed.totals.charged_by_lab == folded.totals.charged_by_lab
    assert summed.totals.charged_by_lab == {
        "02": Decimal("0.25"),
        "03": Decimal("0.80"),
        "": Decimal("1.10"),
    }
    assert (
        (summed.totals.reserved, summed.lines)
        == (Decimal("0.75"), folded.lines)
        == (
            Decimal("0.75"),
            5,
        )
    )
    assert guard.total_spent == Decimal("2.15")
    loss = folded.entries[-2] if folded.entries else None
    assert loss is not None
    assert (loss.kind, loss.actual, loss.lab, loss.reason) == (
        "loss",
        Decimal("1.10"),
        None,
        "the ledger shrank",
    )


def test_a_version_1_database_migrates_and_keeps_its_books(
    v1_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = pg_v1.PostgresLedger(v1_url)
    _fill(old)
    before = _books(old)
    with pytest.raises(LedgerError, match=r"holds schema version 1; .* run `budget db init`"):
        BudgetGuard(50, ledger=PostgresLedger(v1_url)).status()
    monkeypatch.setenv("LYNX_LEDGER_URL", v1_url)
    assert budget(["db", "init", "--ceiling", "50"]) == 0
    assert capsys.readouterr().out.endswith("schema at version 2\n")
    new = PostgresLedger(v1_url)
    assert _books(new) == before  # every row, every total, every open reservation and line
    summed = new.read().totals
    assert (summed.charged_by_lab, summed.reserved) == before[:2]
    assert new.audit()[1] == ()
    assert budget(["verify", "--ceiling", "50"]) == 0
    assert capsys.readouterr().out == "ok: 8 lines, 6 operations, spent $3.15 of $50.00\n"
    assert budget(["db", "init", "--ceiling", "50"]) == 0  # twice: nothing more to do
    guard = BudgetGuard(50, ledger=new)
    with pytest.raises(AlreadyOpen):  # both twins stay open and counted; no third
        guard.authorize("TWIN", "0.10")
    guard.record_actual("twin", "0.35")  # closes the latest, as before
    assert guard.total_spent == Decimal("3.10")
    assert new.audit()[1] == ()


def test_todays_code_keeps_writing_true_balances_after_the_migration(v1_url: str) -> None:
    """A laptop not yet upgraded (it checks no schema version) writes to version 2: the
    trigger moves the balances for it, and the one-open-reservation index refuses its second
    open reservation of a label."""
    PostgresLedger(v1_url).init()
    old = pg_v1.PostgresLedger(v1_url)
    old_guard = BudgetGuard("50.00", ledger=old)
    old_guard.authorize("lab02-a", "1.00")
    old_guard.record_actual("lab02-a", "0.60")
    old_guard.authorize("lab03-b", "0.75")
    with (  # today's guard would write a second reservation of a label; its ledger does here
        pytest.raises(LedgerError, match="ledger_open_one_per_label"),
        old.transaction() as txn,
    ):
        txn.append(new_entry("authorize", "lab03-B", estimated=Decimal("0.75"), lab="03"))
    new = PostgresLedger(v1_url)
    assert new.audit()[1] == ()
    assert BudgetGuard("50.00", ledger=new).total_spent == Decimal("1.35")
    assert old_guard.total_spent == Decimal("1.35")  # and it reads the same books


def test_verify_names_a_balance_that_differs_from_the_rows(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = BudgetGuard("5.00", ledger=PostgresLedger(pg_url))
    guard.authorize("lab02-a", "1.00")
    with psycopg.connect(pg_url) as conn:  # the derived rows are not append-only: tampered
        conn.execute("UPDATE ledger_balance SET spent = spent - 1, reserved = 0")
        conn.execute("UPDATE ledger_lab_balance SET spent = 0.50")
        conn.execute("DELETE FROM ledger_open")
    monkeypatch.setenv("LYNX_LEDGER_URL", pg_url)
    assert budget(["verify", "--ceiling", "5"]) == 4
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith(
        "the budget's balance row says 1 lines, spent $0.00, reserved $0.00;"
        " its rows say 1 lines, spent $1.00, reserved $1.00"
    )
    assert err[1].endswith("the balance of lab 02 says spent $0.50; its rows say $1.00")
    assert "is open by its rows but missing from the open reservations" in err[2]
    assert "stored balances differ from its rows (3 difference(s), above)" in err[3]


def test_a_second_open_reservation_of_a_label_is_refused(pg_url: str) -> None:
    guard = BudgetGuard("5.00", ledger=PostgresLedger(pg_url))
    guard.authorize("lab02-twin", "0.50")
    with pytest.raises(AlreadyOpen) as refused:
        guard.authorize("LAB02-Twin", "0.50")
    opened = guard.status().open_operations[0]
    assert refused.value.op_id == opened.id
    assert refused.value.op_label == "lab02-twin"  # the open one, as it was written
    message = str(refused.value)
    assert "already has an open reservation: $0.50 authorized " in message
    assert f"(op id {opened.id})" in message
    assert "`budget record lab02-twin USD`" in message
    assert guard.status().reserved == Decimal("0.50")  # nothing was written
    guard.record_actual("lab02-twin", "0.45")
    guard.authorize("lab02-twin", "0.50")  # closed: the label may open again


def _open_twin(url: str, out: multiprocessing.Queue[str]) -> None:
    try:
        BudgetGuard("5.00", ledger=PostgresLedger(url)).authorize("twin", "0.10")
        out.put("granted")
    except AlreadyOpen:
        out.put("refused")


def test_racing_processes_open_one_reservation_of_a_label(pg_url: str) -> None:
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[str] = ctx.Queue()
    racers = [ctx.Process(target=_open_twin, args=(pg_url, out)) for _ in range(6)]
    for racer in racers:
        racer.start()
    said = sorted(out.get(timeout=120) for _ in racers)
    for racer in racers:
        racer.join()
    assert said == ["granted", *["refused"] * 5]
    assert len(BudgetGuard("5.00", ledger=PostgresLedger(pg_url)).status().open_operations) == 1


def test_the_database_refuses_a_second_open_reservation_the_snapshot_missed(pg_url: str) -> None:
    """The unique index is the backstop: a row written by a writer that took no lock, between
    this transaction's read and its insert, still makes one label one open reservation."""
    from minitrain.ledger.entries import new_entry

    ledger = PostgresLedger(pg_url)
    with pytest.raises(AlreadyOpen) as refused, ledger.transaction() as txn:  # noqa: PT012
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute(
                "INSERT INTO ledger (budget, id, ts, kind, op_label, estimated, currency)"
                " VALUES ('default', 'sneaked', now(), 'authorize', 'Twin', 0.20, 'USD')"
            )
        txn.append(new_entry("authorize", "twin", estimated=Decimal("0.30")))
    assert refused.value.op_id == "sneaked"
    assert "$0.20" in str(refused.value)
    assert [e.id for e in ledger.read().totals.open_ops.values()] == ["sneaked"]


def _write_with_todays_code(url: str, label: str, out: multiprocessing.Queue[int]) -> None:
    guard = BudgetGuard("1000.00", ledger=pg_v1.PostgresLedger(url))
    for i in range(40):
        guard.authorize(f"{label}-{i}", "0.01")
    out.put(40)


def test_a_migration_keeps_the_rows_written_around_it(v1_url: str) -> None:
    """`budget db init` on a live database, while writers not yet upgraded keep writing:
    every row they were granted is there, and the balances count each one."""
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[int] = ctx.Queue()
    writers = [
        ctx.Process(target=_write_with_todays_code, args=(v1_url, f"w{n}", out)) for n in range(3)
    ]
    for writer in writers:
        writer.start()
    assert PostgresLedger(v1_url).init() == 2
    granted = sum(out.get(timeout=120) for _ in writers)
    for writer in writers:
        writer.join()
    ledger = PostgresLedger(v1_url)
    assert ledger.audit()[1] == ()
    assert (ledger.read().lines, ledger.read().totals.reserved) == (granted, granted / Decimal(100))


def test_a_transaction_says_whether_it_holds_an_id_without_reading_the_budget(
    pg_url: str,
) -> None:
    guard = BudgetGuard("5.00", ledger=PostgresLedger(pg_url))
    guard.authorize("lab02-a", "1.00", op_id="op-1")
    guard.record_actual("lab02-a", "0.50")
    with PostgresLedger(pg_url).transaction() as txn:
        assert txn.holds("op-1")  # closed: no longer among the open reservations
        assert not txn.holds("op-2")
