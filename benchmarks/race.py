"""N processes race to authorize $0.01 each against a ceiling; print what was granted.

    .venv/bin/python benchmarks/race.py [--procs 16] [--tries 200] [--ceiling 5.00]

The ledger goes to a fresh temporary folder; the real ledger is never touched.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from minitrain import BudgetGuard, BudgetGuardExceeded


def _worker(
    ledger: str, ceiling: str, worker: int, tries: int, out: multiprocessing.Queue[int]
) -> None:
    guard = BudgetGuard(ceiling, ledger)
    granted = 0
    for i in range(tries):
        try:
            guard.authorize(f"race-{worker}-{i}", "0.01")
            granted += 1
        except BudgetGuardExceeded:
            pass
    out.put(granted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--tries", type=int, default=200)
    parser.add_argument("--ceiling", default="5.00")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ledger = str(Path(folder) / "spend.jsonl")
        out: multiprocessing.Queue[int] = multiprocessing.Queue()
        procs = [
            multiprocessing.Process(target=_worker, args=(ledger, args.ceiling, w, args.tries, out))
            for w in range(args.procs)
        ]
        start = time.perf_counter()
        for p in procs:
            p.start()
        granted = sum(out.get() for _ in procs)
        for p in procs:
            p.join()
        seconds = time.perf_counter() - start
        total = BudgetGuard(args.ceiling, ledger).total_spent
        attempts = args.procs * args.tries
        print(f"{args.procs} processes x {args.tries} tries of $0.01 against ${args.ceiling}:")
        print(f"  granted {granted} of {attempts}; ledger total ${total}")
        print(f"  {attempts / seconds:.0f} attempts/s over {seconds:.1f} s")
        expected = min(attempts, int(Decimal(args.ceiling) * 100))
        print("  OK: exactly the ceiling" if granted == expected else "  BREACH OR SHORTFALL")


if __name__ == "__main__":
    main()
