"""Faults: racing writers, writers killed mid-write. Short in CI; `pytest --stress` runs long.

Every test here asserts the promise it is named after in the README's Guarantees.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from minitrain import BudgetGuard, _ledger, _records
from tests.racing import race

pytestmark = pytest.mark.usefixtures("file_mode")


def test_racing_writers_never_breach_a_lab_cap(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.jsonl"
    caps = {"02": "0.50", "buffer": "4.50"}
    won = race(lambda: BudgetGuard("5.00", ledger, lab_caps=caps), procs=6, tries=15)
    assert won == 50
    guard = BudgetGuard(5, ledger, lab_caps={"02": "0.50", "buffer": "4.50"})
    assert guard.status().lab_spent("02") == Decimal("0.50")


@pytest.mark.stress
def test_stress_16_writers_200_tries_each_stop_at_exactly_the_ceiling(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.jsonl"
    assert race(lambda: BudgetGuard("5.00", ledger), procs=16, tries=200) == 500
    assert BudgetGuard("5.00", ledger).total_spent == Decimal("5.00")


WRITER = """
import sys
from minitrain import BudgetGuard
guard = BudgetGuard("100000", sys.argv[1])
start = int(sys.argv[2])
for i in range(start, start + 100000):
    guard.authorize(f"kill-{i}", "0.01")
    print(i, flush=True)  # only after authorize returned
"""


def kill_loop(ledger: Path, iterations: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    returned: set[str] = set()
    seen = {"torn": 0, "kept": 0}
    for n in range(iterations):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(ledger), str(n * 100000)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        returned |= {f"kill-{i}" for i in out.split()}
        snapshot = _ledger.JsonlLedger(ledger).read(full=True)
        labels = {r.op_label for r in snapshot.records or ()}
        assert returned <= labels, "an authorization that returned is missing"
        assert all(p.torn for p in snapshot.problems), "a complete line is corrupt"
        if snapshot.problems:
            [torn] = snapshot.problems
            assert torn.line == snapshot.lines
            before = ledger.read_bytes()
            _, kept = _ledger.JsonlLedger(ledger).repair(reason="killed mid-write")
            assert ledger.read_bytes().startswith(before)
            seen["kept" if kept else "torn"] += 1
        after = _ledger.JsonlLedger(ledger).read(full=True)
        assert not after.problems
        assert after.totals.spent == Decimal("0.01") * len(after.records or ())
    return seen


def test_writers_killed_at_random_moments_lose_nothing_that_returned(tmp_path: Path) -> None:
    kill_loop(tmp_path / "spend.jsonl", iterations=12, seed=1)


@pytest.mark.stress
def test_stress_200_kills(tmp_path: Path) -> None:
    seen = kill_loop(tmp_path / "spend.jsonl", iterations=200, seed=2)
    print(f"torn tails voided: {seen['torn']}, kept (only the newline missing): {seen['kept']}")


def test_a_torn_line_of_any_length_is_found_and_repaired_by_appending(tmp_path: Path) -> None:
    ledger = tmp_path / "spend.jsonl"
    BudgetGuard(5, ledger).authorize("a", "1.00")
    line = _records.encode(_records.new_record("authorize", "b", estimated=Decimal("1.00")))
    for cut in range(1, len(line)):
        path = tmp_path / f"cut-{cut}.jsonl"
        path.write_bytes(ledger.read_bytes() + line[:cut])
        with pytest.raises(_ledger.LedgerError, match=r"cut-\d+\.jsonl:2: torn last line"):
            BudgetGuard(5, path).authorize("c", "0.01")
        _ledger.JsonlLedger(path).repair(reason="torn")
        guard = BudgetGuard(5, path)
        expected = Decimal("2.00") if cut == len(line) - 1 else Decimal("1.00")
        assert guard.total_spent == expected, cut
