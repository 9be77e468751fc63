"""Processes racing to authorize $0.01 each: how many did the guard grant, in total?

The one race harness: the tests import it, and so does `benchmarks/race.py`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

from minitrain import BudgetGuard, BudgetGuardExceeded
from minitrain.errors import AlreadyOpen


def race(
    make_guard: Callable[[], BudgetGuard],
    *,
    procs: int,
    tries: int,
    label: str = "lab02-w",
    one_label: bool = False,
) -> int:
    """``procs`` forked processes, each with its own guard (and its own file handles or
    database connection), each trying ``tries`` authorizations of $0.01: each of its own
    label, or with ``one_label`` all of ``label`` (one may be open at a time)."""
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[int] = ctx.Queue()

    def worker(number: int) -> None:
        guard = make_guard()
        won = 0
        for i in range(tries):
            try:
                guard.authorize(label if one_label else f"{label}{number}-{i}", "0.01")
                won += 1
            except (BudgetGuardExceeded, AlreadyOpen):
                pass
        out.put(won)

    workers = [ctx.Process(target=worker, args=(n,)) for n in range(procs)]
    for process in workers:
        process.start()
    won = sum(out.get(timeout=600) for _ in workers)
    for process in workers:
        process.join()
    return won


def race_one_label(ledger: object, *, procs: int) -> int:
    """``procs`` processes authorizing the label ``twin`` at once: how many were granted."""
    return race(
        lambda: BudgetGuard("5.00", ledger), procs=procs, tries=1, label="twin", one_label=True
    )  # type: ignore[arg-type]
