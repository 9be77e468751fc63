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
    """One race in this interpreter (run as the child): wall ms per line or authorization, by
    ``bench.py``'s own writers and on a fresh folder, as its contention section runs them."""
    from bench import _bare_worker, _guard_worker, _race

    with tempfile.TemporaryDirectory() as folder:
        worker = _bare_worker if mode == "bare" else _guard_worker
        return _race(worker, Path(folder) / "spend.jsonl", PROCS, TRIES) * 1000


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
