"""The PostgreSQL ledger beside the JSONL one, in the same run on the same machine.

    .venv/bin/python benchmarks/pg_bench.py [--clients 16] [--each 50]

Starts a throwaway PostgreSQL server on 127.0.0.1 (needs the server binaries installed).
Prints, for each backend: authorizations/s with N concurrent client processes, and the median
latency of one authorize from a single client.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.pgserver

from tests.pgserver import PgServer

from minitrain import BudgetGuard
from minitrain.ledger.postgres import PostgresLedger


def _guard(target: str) -> BudgetGuard:
    if target.startswith("postgresql://"):
        return BudgetGuard("1000000", ledger=PostgresLedger(target))
    return BudgetGuard("1000000", target)


def _client(target: str, each: int) -> None:
    guard = _guard(target)
    for i in range(each):
        guard.authorize(f"bench-{i}", "0.01")


def throughput(target: str, clients: int, each: int) -> float:
    procs = [multiprocessing.Process(target=_client, args=(target, each)) for _ in range(clients)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return clients * each / (time.perf_counter() - start)


def latency(target: str, runs: int = 200) -> float:
    guard = _guard(target)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        guard.authorize(f"one-{i}", "0.01")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--each", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minitrain-bench-") as name:
        folder = Path(name)
        pg_folder = Path(tempfile.mkdtemp(prefix="minitrain-pg-"))  # the postgres user's
        server = PgServer(pg_folder)
        try:
            url = server.database("bench")
            PostgresLedger(url).init()
            jsonl = str(folder / "spend.jsonl")
            print(
                f"{args.clients} clients x {args.each} authorizations each; latency: median of"
                " 200 from one client"
            )
            for name_, target in (("JSONL file", jsonl), ("PostgreSQL", url)):
                rate = throughput(target, args.clients, args.each)
                one = latency(target)
                print(f"  {name_:<12} {rate:8.0f} authorizations/s   {one * 1000:6.2f} ms each")
        finally:
            server.stop()
            shutil.rmtree(pg_folder, ignore_errors=True)


if __name__ == "__main__":
    main()
