"""The database's administration: `budget import` (COPY into a staging table, then one insert of
what is new, in one transaction) and the read-only role a course lead watches with."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard
from minitrain.cli.budget import main as budget
from minitrain.ledger import jsonl, pg_schema
from minitrain.ledger.entries import new_entry
from minitrain.ledger.postgres import PostgresLedger

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.usefixtures("file_mode")


def _file_ledger(path: Path) -> BudgetGuard:
    """A JSONL ledger with closed and open operations, and a voided torn tail."""
    guard = BudgetGuard("50.00", path)
    for i in range(150):
        guard.authorize(f"lab02-op{i}", "0.02")
        guard.record_actual(f"lab02-op{i}", "0.01")
    guard.authorize("lab03-open", "1.00")
    with path.open("ab") as torn:
        torn.write(b'{"id": "half-writ')
    assert budget(["--ledger", str(path), "repair", "--ceiling", "50"]) == 0
    return guard


def test_import_adds_what_is_new_once(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spend.jsonl"
    file_guard = _file_ledger(path)
    lines = path.read_bytes().splitlines(keepends=True)
    first = tmp_path / "first.jsonl"  # a clone's older copy: imported before the rest
    first.write_bytes(b"".join(lines[:100]))
    monkeypatch.setenv("LYNX_LEDGER_URL", pg_url)
    capsys.readouterr()
    assert budget(["import", str(first), "--ceiling", "50"]) == 0
    assert capsys.readouterr().out.startswith("imported 100 new line(s) of 100 into ")
    assert budget(["import", str(path), "--ceiling", "50"]) == 0
    # 303 lines: 301 entries, the torn line and its void (neither is a row in a database)
    assert capsys.readouterr().out.startswith("imported 201 new line(s) of 303 into ")
    assert budget(["import", str(path), "--ceiling", "50"]) == 0
    assert capsys.readouterr().out.startswith("imported 0 new line(s) of 303 into ")
    database = PostgresLedger(pg_url)
    assert database.audit()[1] == ()
    db_guard = BudgetGuard("50.00", ledger=database)
    assert db_guard.status().spent == file_guard.status().spent == Decimal("2.50")
    assert [op.id for op in db_guard.status().open_operations] == [
        op.id for op in file_guard.status().open_operations
    ]
    assert [(op.id, op.line) for op in db_guard.operations()] == [
        (op.id, op.line) for op in file_guard.operations()
    ]


def test_an_import_that_would_open_a_label_twice_imports_nothing(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two clones each opened `twin`, and git merged both lines (issue 21): the file holds two
    open reservations of one label, which the database does not take."""
    path = tmp_path / "merged.jsonl"
    with jsonl.JsonlLedger(path).transaction() as txn:
        txn.append(new_entry("authorize", "before", estimated=Decimal("0.10")))
        txn.append(new_entry("authorize", "twin", estimated=Decimal("0.50")))
        txn.append(new_entry("authorize", "Twin", estimated=Decimal("0.50")))
    monkeypatch.setenv("LYNX_LEDGER_URL", pg_url)
    assert budget(["import", str(path), "--ceiling", "5"]) == 2
    err = capsys.readouterr().err
    assert "the import would leave two open reservations of one label" in err
    assert "(default, twin)" in err
    assert "nothing was imported" in err
    assert PostgresLedger(pg_url).read().lines == 0


def test_a_read_only_role_can_watch_and_cannot_spend(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's recipe (``pg_schema.READ_ONLY_ROLE``), run as the tables' owner: the role
    reads `status`, `report` and `verify`, and every write is refused with one line."""
    guard = BudgetGuard("5.00", ledger=PostgresLedger(pg_url))
    guard.authorize("lab02-a", "1.00")
    guard.record_actual("lab02-a", "0.75")
    guard.authorize("lab03-b", "0.50")
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute(pg_schema.READ_ONLY_ROLE)
    reader = pg_url.replace("postgres@", "ledger_reader:change-me@")
    monkeypatch.setenv("LYNX_LEDGER_URL", reader)
    capsys.readouterr()
    assert budget(["status", "--json", "--ceiling", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["spent"], data["reserved"]) == ("1.25", "0.50")
    assert budget(["report", "--ceiling", "5"]) == 0
    assert "lab03-b" in capsys.readouterr().out
    assert budget(["verify", "--ceiling", "5"]) == 0
    capsys.readouterr()
    for attempt in (["authorize", "lab02-c", "0.10"], ["record", "lab03-b", "0.40"]):
        assert budget([*attempt, "--ceiling", "5"]) == 4
        err = capsys.readouterr().err
        assert "permission denied for table ledger" in err
        assert err.count("\n") == 1
        assert "change-me" not in err
    with psycopg.connect(reader, autocommit=True) as conn:
        for statement in (
            "INSERT INTO ledger_balance VALUES ('x', 0, 0, 0)",
            "UPDATE ledger_lab_balance SET spent = 0",
            "DELETE FROM ledger_open",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert PostgresLedger(pg_url).read().lines == 3  # nothing was written
