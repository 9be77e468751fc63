"""Codec study: the ledger's two line decoders against the floor, and where msgspec pays.

    .venv/bin/python benchmarks/codec.py [--lines 1000000] [--runs 3]

On the big ledger of ``bench.py`` (authorize/actual pairs written by the project's encoder) it
times, each in a fresh process (so peak RSS is its own), the parse as a cold ``budget status``
runs it (``parser.Parser``, totals only, the file fed in 1 MiB blocks):

* ``floor``: ``json.loads`` + ``zlib.crc32`` per line, checking nothing;
* ``stdlib``: the production parser with its standard-library decoder only;
* ``msgspec``: the same parser with msgspec's typed decoder in front (what a feed of at least
  ``parser.TYPED_READ`` bytes uses).

Then it times importing the typed decoder (``minitrain.ledger._typed``, which imports msgspec)
in fresh processes, and prints the feed size at which the time msgspec saves pays for its import:
``parser.TYPED_READ`` is set well above it. That both decoders agree, line by line, is a test
(``tests/minitrain/ledger/test_typed.py``); here their totals on the big ledger must match.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import big_ledger

from minitrain.ledger import file, parser

NEVER = 1 << 62  # a TYPED_READ no feed reaches


def floor(path: Path) -> object:
    with path.open("rb") as f:
        for line in f:
            json.loads(line)
            zlib.crc32(line)
    return None


def _production(typed_read: int) -> Callable[[Path], object]:
    def read(path: Path) -> object:
        parser.TYPED_READ = typed_read
        state = parser.Parser(str(path), keep_entries=False)
        with path.open("rb") as f:
            state.feed(file.FileSpan(f.fileno(), 0, path.stat().st_size))
        totals = state.totals
        charged = {lab: f"{v:.2f}" for lab, v in totals.charged_by_lab.items()}
        return f"{totals.reserved:.2f}", charged, [(p.line, p.reason) for p in state.problems]

    return read


CONTENDERS: dict[str, Callable[[Path], object]] = {
    "floor": floor,
    "stdlib": _production(NEVER),
    "msgspec": _production(0),
}


def child(name: str, path: Path) -> None:
    """Run one contender and print its figures as JSON (for the parent to collect)."""
    start_cpu, start = time.process_time(), time.perf_counter()
    result = CONTENDERS[name](path)
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"cpu": cpu, "wall": wall, "peak": peak, "result": result}))


def measure(path: Path, runs: int, lines: int) -> dict[str, list[float]]:
    figures: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    for _ in range(runs):  # rounds, so noise hits every contender alike
        for name in CONTENDERS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, str(path)],
                capture_output=True, check=True, text=True,
            )  # fmt: skip
            figures[name].append(json.loads(out.stdout))
    if figures["stdlib"][0]["result"] != figures["msgspec"][0]["result"]:
        raise SystemExit(f"the decoders disagree on the totals: {figures}")
    base = statistics.median(r["cpu"] for r in figures["floor"])
    print(f"\n{lines:,} lines, {runs} runs each (CPU time of the parse; peak RSS of the process)")
    print(f"  {'contender':<10} {'median':>11} {'min':>11} {'vs floor':>9} {'peak RSS':>9}")
    for name, runs_ in figures.items():
        cpu = [r["cpu"] for r in runs_]
        per_line = [c / lines * 1e6 for c in cpu]
        peak = max(r["peak"] for r in runs_) / (1 << 20)
        print(
            f"  {name:<10} {statistics.median(per_line):6.2f} µs/l {min(per_line):6.2f} µs/l"
            f" {statistics.median(cpu) / base:8.2f}x {peak:6.0f} MiB"
        )
    return {name: [r["cpu"] for r in runs_] for name, runs_ in figures.items()}


# What a long read adds to the imports every command pays already (the ledger package's).
IMPORT = (
    "import time, minitrain.ledger.parser; t = time.perf_counter();"
    " import minitrain.ledger._typed; print(time.perf_counter() - t)"
)


def break_even(cpu: dict[str, list[float]], size: int, runs: int) -> None:
    """Where the import of the typed decoder is paid back by its faster lines."""
    imports = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, check=True)
        imports.append(float(out.stdout))
    saved = (statistics.median(cpu["stdlib"]) - statistics.median(cpu["msgspec"])) / size
    took = f"median {statistics.median(imports) * 1e3:.1f} ms, max {max(imports) * 1e3:.1f} ms"
    print(f"\nimporting the typed decoder (msgspec), {runs} fresh processes: {took}")
    if saved <= 0:
        print("  msgspec saved nothing in this run: no feed size pays for its import")
        return
    print(f"  msgspec saves {saved * 1e9:.2f} ms per MB: the import pays for itself from"
          f" {statistics.median(imports) / saved / 1e6:.1f} MB (worst import:"
          f" {max(imports) / saved / 1e6:.1f} MB); parser.TYPED_READ is"
          f" {parser.TYPED_READ / 1e6:.1f} MB")  # fmt: skip


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}; python {sys.version.split()[0]};"
          f" contenders: {', '.join(CONTENDERS)}")  # fmt: skip
    path = big_ledger(args.lines)
    cpu = measure(path, args.runs, args.lines)
    break_even(cpu, path.stat().st_size, max(args.runs, 11))


if __name__ == "__main__":
    main()
