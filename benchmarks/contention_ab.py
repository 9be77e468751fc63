"""16 writers at once, before (a git revision) and after (this tree), beside the bare loop.

    .venv/bin/python benchmarks/contention_ab.py --before 2ead5d6 --rounds 9

Each round runs three races in turn on a fresh ledger, each in a fresh interpreter: the bare
16-process flock + append + fsync loop (``bench.py``'s floor), then the guard from REV's tree,
then the guard from this one (``PYTHONPATH`` picks the sources; both compiled first). The races
alternate, so the machine's noise (2 shared cores: +-10% between rounds) hits all three alike.
Prints each one's median and minimum wall time per line, and its share of the bare loop's rate.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from startup_ab import REPO, export

PROCS, TRIES = 16, 100


def race(mode: str) -> float:
    """One race in this interpreter (run as the child): wall ms per line or authorization."""
    import fcntl
    import multiprocessing
    import time
    from decimal import Decimal

    from minitrain import BudgetGuard
    from minitrain.ledger.entries import encode, new_entry

    def guard(ledger: str) -> None:
        writer = BudgetGuard(100_000, ledger)
        for i in range(TRIES):
            writer.authorize(f"p{os.getpid()}-{i}", "0.01")

    def bare(ledger: str) -> None:  # as bench._bare_worker
        line = encode(new_entry("authorize", "bare", estimated=Decimal("0.01")))
        for _ in range(TRIES):
            lock = os.open(ledger + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, line)
            os.fsync(fd)
            os.close(fd)
            os.close(lock)

    with tempfile.TemporaryDirectory() as folder:
        ledger = str(Path(folder) / "spend.jsonl")
        target = bare if mode == "bare" else guard
        ctx = multiprocessing.get_context("fork")
        workers = [ctx.Process(target=target, args=(ledger,)) for _ in range(PROCS)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if any(w.exitcode for w in workers):
            raise SystemExit(f"a {mode} writer failed")
        return (time.perf_counter() - start) / (PROCS * TRIES) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a git revision, e.g. 2ead5d6")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--child", choices=["bare", "guard"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(race(args.child))
        return 0
    if not args.before:
        parser.error("--before is required")
    compileall.compile_dir(REPO / "src", quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "BUDGET_GUARD_TEST_MODE"}
    with tempfile.TemporaryDirectory() as temp:
        trees = {"before": export(args.before, Path(temp)), "after": REPO / "src"}
        runs = [("bare loop", "bare", "after"), *((f"guard ({t})", "guard", t) for t in trees)]
        times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for _ in range(args.rounds):
            for name, mode, tree in runs:
                child = {**env, "PYTHONPATH": str(trees[tree])}
                done = subprocess.run(
                    [sys.executable, __file__, "--child", mode],
                    env=child, capture_output=True, text=True, check=True,
                )  # fmt: skip
                times[name].append(float(done.stdout))
    if os.environ.get("AB_RAW"):
        print(times)
    floor = statistics.median(times["bare loop"])
    print(f"{PROCS} processes x {TRIES}, {args.rounds} rounds; wall time per line")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:<16} median {median:6.3f} ms  min {min(values):6.3f} ms"
            f"  share of the bare loop's rate {floor / median:4.0%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
