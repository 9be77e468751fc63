"""A torn tail of many megabytes: `budget status`'s time and peak memory, before (a git revision)
and after (this tree), each in fresh processes (issue 21: ``Parser.feed`` rebuilt an unfinished
line for every 1 MiB block; a 256 MB torn tail took 50 s and 544 MB).

    .venv/bin/python benchmarks/torn_tail.py [--before dc5bcb7] [--mib 32 64 128] [--runs 3]

The ledger is one authorization, then N MiB of bytes without a newline (sparse zeros: no disk).
Both trees must refuse it with one line, exit 4; the figures are wall time (median of runs) and
the largest peak RSS. The default revision is the last commit before the fix.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from startup_ab import REPO, export

CHILD = """
import json, resource, sys, time
from minitrain.cli.budget import main
start = time.perf_counter()
code = main(["--ledger", sys.argv[1], "--ceiling", "5.00", "status"])
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"code": code, "wall": wall, "peak": peak}), file=sys.stderr)
"""


def ledger(folder: Path, mib: int) -> Path:
    path = folder / f"torn-{mib}.jsonl"
    sys.path.insert(0, str(REPO / "src"))
    from minitrain import BudgetGuard

    BudgetGuard("5.00", path).authorize("a", "0.10")
    with path.open("ab") as f:
        f.write(b'{"id":"torn","kind":"authorize","op_label":"')
        f.truncate(path.stat().st_size + (mib << 20))
    return path


def once(src: Path, path: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("BUDGET_GUARD_TEST_MODE", None)
    argv = [sys.executable, "-c", CHILD, str(path)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    figures = json.loads(done.stderr.splitlines()[-1])
    if figures["code"] != 4:
        raise SystemExit(f"{src}: expected exit 4, got {figures['code']}: {done.stderr}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="dc5bcb7")
    parser.add_argument("--mib", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}; python {sys.version.split()[0]};"
          f" before {args.before}, after this tree; {args.runs} runs each")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trees = {"before": export(args.before, folder), "after": REPO / "src"}
        print(f"  {'torn tail':>9} {'tree':<7} {'median':>9} {'peak RSS':>9}")
        for mib in args.mib:
            path = ledger(folder, mib)
            for name, src in trees.items():
                runs = [once(src, path) for _ in range(args.runs)]
                wall = statistics.median(r["wall"] for r in runs)
                peak = max(r["peak"] for r in runs) / (1 << 20)
                print(f"  {mib:>5} MiB {name:<7} {wall:8.2f}s {peak:6.0f} MiB")
            path.unlink()


if __name__ == "__main__":
    main()
