"""The guard's contract on PostgreSQL, plus what only a shared database must survive."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import AlreadyRecorded, BudgetGuard, BudgetGuardExceeded, LedgerError
from minitrain.cli.budget import main as budget
from minitrain.errors import AlreadyOpen, NoReservation
from minitrain.ledger import Ledger, jsonl, memory
from minitrain.ledger.entries import new_entry
from minitrain.ledger.postgres import PostgresLedger
from tests.racing import race

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.usefixtures("file_mode")
Guard = Callable[..., BudgetGuard]


@pytest.fixture(params=["jsonl", "postgres"])
def make_guard(request: pytest.FixtureRequest, tmp_path: Path) -> Guard:
    """The same tests against both backends."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        return lambda ceiling="5.00", **kw: BudgetGuard(ceiling, ledger=PostgresLedger(url), **kw)
    return lambda ceiling="5.00", **kw: BudgetGuard(ceiling, tmp_path / "spend.jsonl", **kw)


def test_seed_stop_conditions(make_guard: Guard) -> None:
    guard = make_guard()
    guard.authorize("lab02-tp-spinup", 3.00)
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("hypothetical-lab", 10.00)
    assert (guard.total_spent, guard.remaining) == (Decimal("3.00"), Decimal("2.00"))


def test_cents_are_exact(make_guard: Guard) -> None:
    guard = make_guard("1.00")
    for i in range(100):
        guard.authorize(f"op-{i}", 0.01)
    with pytest.raises(BudgetGuardExceeded):
        guard.authorize("op-100", 0.01)
    assert guard.total_spent == Decimal("1.00")


def test_actuals_replace_reservations_once(make_guard: Guard) -> None:
    guard = make_guard()
    guard.authorize("retry", "1.00")
    with pytest.raises(AlreadyOpen):  # one label, one open reservation
        guard.authorize("RETRY", "2.00")
    guard.authorize("again", "2.00")
    guard.record_actual("again", "0.50")
    assert (guard.total_spent, guard.status().reserved) == (Decimal("1.50"), Decimal("1.00"))
    guard.record_actual("retry", "0.25")
    with pytest.raises(AlreadyRecorded):
        guard.record_actual("retry", "0.25")
    with pytest.raises(NoReservation):
        guard.record_actual("forgot", "0.10")
    guard.record_actual("forgot", "0.10", unplanned=True)
    assert guard.total_spent == Decimal("0.85")
    assert [(op.estimated, op.actual) for op in guard.operations()] == [
        (Decimal("1.00"), Decimal("0.25")),
        (Decimal("2.00"), Decimal("0.50")),
        (None, Decimal("0.10")),
    ]


def test_lab_caps(make_guard: Guard) -> None:
    guard = make_guard(lab_caps={"02": "3.00", "buffer": "2.00"})
    guard.authorize("lab02-tp-spinup", "2.50")
    with pytest.raises(BudgetGuardExceeded, match=r"lab 02 cap \$3\.00"):
        guard.authorize("lab02-retry", "1.00")
    guard.authorize("setup", "2.00")
    assert guard.status().lab_spent("buffer") == Decimal("2.00")


def test_processes_racing_on_the_last_dollars_never_overspend(pg_url: str) -> None:
    won = race(lambda: BudgetGuard("1.00", ledger=PostgresLedger(pg_url)), procs=8, tries=25)
    assert won == 100  # 200 tries of $0.01 at $1.00, each process with its own connection
    assert BudgetGuard("1.00", ledger=PostgresLedger(pg_url)).total_spent == Decimal("1.00")


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger SET actual = 0", "DELETE FROM ledger", "TRUNCATE ledger"],
)
def test_the_table_is_append_only(pg_url: str, statement: str) -> None:
    BudgetGuard(5, ledger=PostgresLedger(pg_url)).authorize("a", "1.00")
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute(statement)


def test_a_connection_killed_mid_authorize_writes_nothing(pg_url: str) -> None:
    guard = BudgetGuard(5, ledger=PostgresLedger(pg_url))
    guard.authorize("before", "1.00")
    failure: list[BaseException] = []
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext('default'))")  # authorize will wait

        def attempt() -> None:
            try:
                guard.authorize("victim", "1.00")
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                failure.append(exc)

        thread = threading.Thread(target=attempt)
        thread.start()
        for _ in range(100):
            rows = holder.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND pid <> pg_backend_pid()"
            ).fetchall()
            if rows:
                break
            time.sleep(0.05)
        holder.execute("SELECT pg_terminate_backend(%s)", (rows[0][0],))
        thread.join(timeout=30)
    assert failure
    assert isinstance(failure[0], LedgerError)
    assert "nothing was written unless `budget status` shows it" in str(failure[0])
    assert [op.label for op in guard.operations()] == ["before"]


def test_the_server_stopped_and_started_between_operations(pg_url: str, pg_server: object) -> None:
    guard = BudgetGuard(5, ledger=PostgresLedger(pg_url))
    guard.authorize("a", "1.00")
    pg_server.stop()  # type: ignore[attr-defined]
    try:
        with pytest.raises(LedgerError, match=r"postgresql://postgres@127\.0\.0\.1:\d+/"):
            guard.authorize("b", "1.00")
    finally:
        pg_server.start()  # type: ignore[attr-defined]
    guard.authorize("c", "1.00")
    assert [op.label for op in guard.operations()] == ["a", "c"]


def test_no_schema_says_db_init(pg_server: object) -> None:
    url = pg_server.database("t_empty")  # type: ignore[attr-defined]
    with pytest.raises(LedgerError, match="no ledger table yet: run `budget db init`"):
        BudgetGuard(5, ledger=PostgresLedger(url)).status()


def test_cli_init_export_verify_import(
    pg_url: str,
    pg_server: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LYNX_LEDGER_URL", pg_url)
    assert budget(["db", "init", "--ceiling", "5"]) == 0  # idempotent: already at version 2
    assert "schema at version 2" in capsys.readouterr().out
    assert budget(["authorize", "lab02-tp-spinup", "3.00", "--ceiling", "5"]) == 0
    assert budget(["record", "lab02-tp-spinup", "2.47", "--ceiling", "5"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert budget(["record", "--unplanned", "forgot", "0.10", "--ceiling", "5"]) == 0
    out = tmp_path / "export.jsonl"
    assert budget(["export", "--out", str(out), "--ceiling", "5"]) == 0
    monkeypatch.delenv("LYNX_LEDGER_URL")
    capsys.readouterr()
    assert budget(["verify", "--ledger", str(out), "--ceiling", "5"]) == 0
    assert capsys.readouterr().out == "ok: 3 lines, 2 operations, spent $2.57 of $5.00\n"
    fresh = pg_server.database("t_import")  # type: ignore[attr-defined]
    monkeypatch.setenv("LYNX_LEDGER_URL", fresh)
    assert budget(["db", "init", "--ceiling", "5"]) == 0
    assert budget(["import", str(out), "--ceiling", "5"]) == 0
    assert budget(["import", str(out), "--ceiling", "5"]) == 0  # twice adds nothing
    capsys.readouterr()
    assert budget(["verify", "--ceiling", "5"]) == 0  # the database's rows, checked
    assert capsys.readouterr().out == "ok: 3 lines, 2 operations, spent $2.57 of $5.00\n"
    assert budget(["verify", "--ceiling", "2"]) == 3
    assert "OVER THE CEILING: spent $2.57 of $2.00" in capsys.readouterr().err
    assert budget(["status", "--json", "--ceiling", "5"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert (data["spent"], data["reserved"]) == ("2.57", "0.00")
    exported_again = tmp_path / "again.jsonl"
    assert budget(["export", "--out", str(exported_again), "--ceiling", "5"]) == 0
    assert exported_again.read_bytes() == out.read_bytes()  # the same lines, ids and all


def test_a_bad_url_is_one_line_without_the_password(
    pg_server: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = pg_server.port  # type: ignore[attr-defined]
    monkeypatch.setenv(
        "LYNX_LEDGER_URL", f"postgresql://postgres:hunter2hunter2@127.0.0.1:{port}/nope"
    )
    assert budget(["status", "--ceiling", "5"]) == 4
    err = capsys.readouterr().err
    assert f"postgresql://postgres@127.0.0.1:{port}/nope" in err
    assert 'database "nope" does not exist' in err
    assert "hunter2" not in err
    assert err.count("\n") == 1
    monkeypatch.setenv("LYNX_LEDGER_URL", "mysql://x@y/z")
    assert budget(["status", "--ceiling", "5"]) == 2
    assert "only postgresql://USER@HOST:PORT/DB is supported" in capsys.readouterr().err


def test_random_sequences_match_the_reference_model_on_postgres(pg_url: str) -> None:
    """The same state machine as the JSONL suite's, each example on its own budget."""
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import invariant, rule, run_state_machine_as_test

    from tests.minitrain import test_budget_guard

    counter = iter(range(10**6))

    class OnPostgres(test_budget_guard.ReferenceModel):
        def make_guard(self) -> BudgetGuard:
            self.ledger = PostgresLedger(pg_url, budget=f"b{next(counter)}")
            return BudgetGuard("5.00", ledger=self.ledger)

        @rule(label=st.sampled_from(["a", "b", "c"]), cents=st.integers(0, 300))
        def authorize(self, label: str, cents: int) -> None:
            """One label, one open reservation (issue 21), on top of the model's arithmetic;
            which refusal comes first when both apply is the guard's to choose."""
            if not self.open.get(label):
                super().authorize(label, cents)
                return
            with pytest.raises((AlreadyOpen, BudgetGuardExceeded)):
                self.guard.authorize(label, Decimal(cents) / 100)

        @invariant()
        def balances_match_rows(self) -> None:
            assert self.ledger.audit()[1] == ()

        def teardown(self) -> None:
            self.ledger.close()

    run_state_machine_as_test(
        OnPostgres,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.fixture(params=["jsonl", "memory", "postgres"])
def any_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "postgres":
        return PostgresLedger(request.getfixturevalue("pg_url"))
    if request.param == "memory":
        return memory.MemoryLedger(tmp_path / "spend.jsonl")
    return jsonl.JsonlLedger(tmp_path / "spend.jsonl")


def test_a_transaction_sees_its_own_append_in_the_totals(any_ledger: Ledger) -> None:
    """Every backend refreshes ``txn.snapshot`` after an append (PostgreSQL once left it stale),
    so a caller deciding twice in one transaction decides on what it wrote."""
    with any_ledger.transaction() as txn:
        first = txn.append(new_entry("authorize", "a", estimated=Decimal("1.00"), lab="02"))
        assert (txn.snapshot.totals.spent, txn.snapshot.lines) == (Decimal("1.00"), 1)
        assert first.id in txn.snapshot.totals.open_ops
        txn.append(
            new_entry(
                "actual",
                "a",
                estimated=Decimal("1.00"),
                actual=Decimal("0.25"),
                op_id=first.id,
                lab="02",
            )
        )
        assert txn.snapshot.totals.charged_by_lab == {"02": Decimal("0.25")}
        assert (txn.snapshot.totals.reserved, txn.snapshot.lines) == (Decimal(0), 2)


def test_the_database_totals_are_the_one_spent_rule(pg_url: str) -> None:
    """The SQL that sums the totals gives what ``ledger.totals`` folds from the same rows."""
    guard = BudgetGuard("5.00", ledger=PostgresLedger(url := pg_url))
    guard.authorize("lab02-a", "1.00")
    guard.record_actual("lab02-a", "1.40")  # above its estimate
    guard.authorize("lab03-b", "0.75")  # still open
    guard.authorize("c", "0.50")  # no lab
    guard.record_actual("c", "0.10")
    guard.record_actual("lab04-d", "0.20", unplanned=True)  # nothing was open: counts in full
    ledger = PostgresLedger(url)
    summed, folded = ledger.read().totals, ledger.read(full=True).totals
    assert summed.charged_by_lab == folded.charged_by_lab
    assert summed.reserved == folded.reserved == Decimal("0.75")
    assert summed.open_ops.keys() == folded.open_ops.keys()
    assert summed.spent == Decimal("2.45")
