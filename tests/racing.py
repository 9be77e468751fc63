"""Processes racing to authorize $0.01 each: how many did the guard grant, in total?

The one race harness: the tests import it, and so does `benchmarks/race.py`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

from minitrain import BudgetGuard, BudgetGuardExceeded


def race(
    make_guard: Callable[[], BudgetGuard], *, procs: int, tries: int, label: str = "lab02-w"
) -> int:
    """``procs`` forked processes, each with its own guard (and its own file handles or
    database connection), each trying ``tries`` authorizations of $0.01."""
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[int] = ctx.Queue()

    def worker(number: int) -> None:
        guard = make_guard()
        won = 0
        for i in range(tries):
            try:
                guard.authorize(f"{label}{number}-{i}", "0.01")
                won += 1
            except BudgetGuardExceeded:
                pass
        out.put(won)

    workers = [ctx.Process(target=worker, args=(n,)) for n in range(procs)]
    for process in workers:
        process.start()
    won = sum(out.get(timeout=600) for _ in workers)
    for process in workers:
        process.join()
    return won
