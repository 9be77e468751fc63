"""Speed goals of the budget guard, each printed beside its floor on this machine.

    .venv/bin/python benchmarks/bench.py [--quick] [--sizes 1000,10000,100000,1000000]

* start-up: `budget status` (empty ledger) and the full `preflight run --dry-run --answers`
  against `python -c pass` (goals: <= 1.5x and <= 3x);
* scale: a fresh `budget authorize` and `budget status` on ledgers of 1k..1M lines, against the
  same on an empty ledger (goal: flat, <= 1.5x), with the one-off cold parse that builds the
  checkpoint shown apart;
* contention: 16 processes authorizing with fsync, against a bare loop of flock + append + fsync
  on the same disk (goal: >= 50%).

Everything happens in a temporary folder; the real ledger is never touched.
"""

from __future__ import annotations

import argparse
import fcntl
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from minitrain import BudgetGuard
from minitrain._records import encode, new_record

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(argv: list[str], *, runs: int, cwd: Path) -> float:
    """Median wall seconds of ``runs`` runs (after one warm-up run)."""
    subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name: str, value: float, floor: float, goal: float) -> None:
    ratio = value / floor
    verdict = "meets" if ratio <= goal else "MISSES"
    print(f"  {name:<44} {value * 1000:8.1f} ms  {ratio:5.2f}x floor  ({verdict} <= {goal}x)")


def startup(folder: Path, runs: int) -> float:
    print("start-up (median wall time of a fresh process)")
    floor = timed([sys.executable, "-c", "pass"], runs=runs, cwd=folder)
    print(f"  {'floor: python -c pass':<44} {floor * 1000:8.1f} ms")
    stdlib = timed(
        [
            sys.executable,
            "-c",
            "import argparse, dataclasses, datetime, decimal, enum, json, pathlib, re",
        ],
        runs=runs,
        cwd=folder,
    )
    print(f"  {'(python importing 8 stdlib modules it uses)':<44} {stdlib * 1000:8.1f} ms")
    lab = folder / "lab"
    (lab / "experiments/35-cloud-budget").mkdir(parents=True)
    shutil.copy(
        REPO / "experiments/35-cloud-budget/manifest.json", lab / "experiments/35-cloud-budget"
    )
    shutil.copytree(REPO / "checklists", lab / "checklists")
    row(
        "budget status (empty ledger)",
        timed([str(BIN / "budget"), "status"], runs=runs, cwd=lab),
        floor,
        1.5,
    )
    dry = [
        str(BIN / "preflight"),
        "run",
        "--label",
        "lab02-tp-spinup",
        "--estimate",
        "3.00",
        "--answers",
        "checklists/answers/ci.yaml",
        "--dry-run",
        "--records",
        str(folder / "r"),
    ]
    row("preflight run --dry-run --answers (8 steps)", timed(dry, runs=runs, cwd=lab), floor, 3)
    return floor


def make_ledger(path: Path, lines: int) -> None:
    """Closed operations (authorize + actual pairs), as a year of use would leave."""
    with path.open("wb") as f:
        for i in range(lines // 2):
            auth = new_record("authorize", f"op-{i}", estimated=Decimal("0.01"))
            f.write(encode(auth))
            f.write(
                encode(
                    new_record(
                        "actual",
                        f"op-{i}",
                        estimated=Decimal("0.01"),
                        actual=Decimal("0.01"),
                        op_id=auth.id,
                    )
                )
            )


def scale(folder: Path, sizes: list[int], runs: int) -> None:
    print("scale (fresh process; the checkpoint exists, as after any earlier command)")
    base = {}
    for lines in [0, *sizes]:
        ledger = folder / f"spend-{lines}.jsonl"
        start = time.perf_counter()
        make_ledger(ledger, lines)
        made = time.perf_counter() - start
        common = ["--ledger", str(ledger), "--ceiling", "100000"]  # money.MAX_USD
        start = time.perf_counter()
        subprocess.run([str(BIN / "budget"), "status", *common], capture_output=True, check=True)
        cold = time.perf_counter() - start
        status = timed([str(BIN / "budget"), "status", *common], runs=runs, cwd=folder)
        authorize = timed(
            [str(BIN / "budget"), "authorize", "bench", "0.01", *common], runs=runs, cwd=folder
        )
        if lines == 0:
            base = {"status": status, "authorize": authorize}
            print(f"  {'empty ledger: budget status':<44} {status * 1000:8.1f} ms")
            print(f"  {'empty ledger: budget authorize':<44} {authorize * 1000:8.1f} ms")
            continue
        print(
            f"  {lines:>9,} lines (written in {made:.1f} s; first read, building the"
            f" checkpoint: {cold:.2f} s)"
        )
        row("    budget status", status, base["status"], 1.5)
        row("    budget authorize", authorize, base["authorize"], 1.5)
        ledger.unlink()


def _guard_worker(ledger: str, tries: int) -> None:
    guard = BudgetGuard("100000", ledger)
    for i in range(tries):
        guard.authorize(f"p{os.getpid()}-{i}", "0.01")  # a ceiling it never reaches


def _bare_worker(ledger: str, tries: int) -> None:
    line = encode(new_record("authorize", "bare", estimated=Decimal("0.01")))
    for _ in range(tries):
        lock = os.open(ledger + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, line)
        os.fsync(fd)
        os.close(fd)
        os.close(lock)


def contention(folder: Path, procs: int, tries: int) -> None:
    print(f"contention ({procs} processes x {tries} authorizations, fsync on every line)")
    rates = {}
    for name, worker in (
        ("floor: flock + append + fsync", _bare_worker),
        ("BudgetGuard.authorize", _guard_worker),
    ):
        ledger = str(folder / f"{worker.__name__}.jsonl")
        workers = [
            multiprocessing.Process(target=worker, args=(ledger, tries)) for _ in range(procs)
        ]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        rates[name] = procs * tries / (time.perf_counter() - start)
    floor, guard = rates.values()
    print(f"  {'floor: flock + append + fsync':<44} {floor:8.0f} /s")
    share = guard / floor
    verdict = "meets" if share >= 0.5 else "MISSES"
    print(
        f"  {'BudgetGuard.authorize':<44} {guard:8.0f} /s  {share:5.0%} of floor ({verdict} >= 50%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs")
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    args = parser.parse_args()
    sizes = [1000, 10000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 3 if args.quick else 9
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        startup(folder, runs)
        print()
        scale(folder, sizes, runs)
        print()
        contention(folder, procs=16, tries=25 if args.quick else 100)


if __name__ == "__main__":
    main()
