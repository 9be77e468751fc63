"""N processes race to authorize $0.01 each against a ceiling; print what was granted.

    .venv/bin/python benchmarks/race.py [--procs 16] [--tries 200] [--ceiling 5.00]

The ledger goes to a fresh temporary folder; the real ledger is never touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from minitrain import BudgetGuard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.racing
from tests.racing import race  # the harness the tests use: one module for both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--tries", type=int, default=200)
    parser.add_argument("--ceiling", default="5.00")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ledger = str(Path(folder) / "spend.jsonl")
        start = time.perf_counter()
        granted = race(
            lambda: BudgetGuard(args.ceiling, ledger),
            procs=args.procs,
            tries=args.tries,
            label="race-",
        )
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
