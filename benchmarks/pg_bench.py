"""The PostgreSQL ledger at the scale a lab group reaches (issue 24), beside the figures before.

    .venv/bin/python benchmarks/pg_bench.py                     # the issue's table (~10 min)
    .venv/bin/python benchmarks/pg_bench.py --sizes 0,100000 --import-lines 100000   # ~2 min

Starts a throwaway PostgreSQL server on 127.0.0.1 (the server binaries must be installed) and
prints, as markdown: for 0, 100,000 and 1,000,000 rows in one budget (loaded as closed
authorize/actual pairs, through the trigger, as an import would), the median of one client's
`authorize`, `record` and `status`, `verify`'s cost per row, and the rate of 16 concurrent
clients; 100 budgets x 10,000 rows against one budget alone; `budget import`'s rate; and
`budget authorize` through the CLI on PostgreSQL against a JSONL ledger, with the floor under it
(start-up, importing psycopg, connecting). Each row shows issue 24's figure for schema version 1
and, where cheap enough, version 1's code (tests/minitrain/ledger/pg_v1.py) on the same data in
the same run. Then each goal, as a ratio taken in this run.
"""

from __future__ import annotations

import argparse
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.pgserver and the frozen version-1 code

from tests.minitrain.ledger import pg_v1  # noqa: E402
from tests.pgserver import PgServer  # noqa: E402

from minitrain import BudgetGuard  # noqa: E402
from minitrain.ledger.entries import new_entry  # noqa: E402
from minitrain.ledger.line_format import encode  # noqa: E402
from minitrain.ledger.postgres import PostgresLedger  # noqa: E402

BUDGET = str(Path(sys.executable).parent / "budget")
CEILING = "100000"
# Issue 24's figures, schema version 1, same kind of machine (ms; import in rows/s).
BEFORE = {
    "authorize 0": 2.8,
    "authorize 100000": 446.0,
    "authorize 1000000": 4370.0,
    "cli pg": 330.0,
    "cli jsonl": 55.0,
    "cli pg 500000": 3384.0,
    "import": 2218.0,
}
# Closed pairs, one statement: the trigger folds them as it folds an import.
LOAD = """
INSERT INTO ledger (budget, id, ts, kind, op_label, lab, op_id, estimated, actual, currency)
SELECT b, b || '-' || k || g, now(), CASE k WHEN 'a' THEN 'authorize' ELSE 'actual' END,
       'load-' || g, '02', CASE k WHEN 'c' THEN b || '-a' || g END, 0.01,
       CASE k WHEN 'c' THEN 0.01 END, 'USD'
  FROM unnest(%s::text[]) b, generate_series(1, %s) g, (VALUES ('a'), ('c')) v(k)
 ORDER BY b, g, k
"""


def load(url: str, budgets: list[str], pairs: int) -> None:
    import psycopg

    if pairs:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(LOAD, (budgets, pairs))
            conn.execute("VACUUM ANALYZE")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def one_client(ledgers: dict[str, object], runs: int) -> dict[str, dict[str, float]]:
    """Medians (ms) of authorize, record (closing it) and status for each ledger, the ledgers
    taking turns sample by sample so that the machine's noise falls on all alike; the open
    set stays empty, as in a day's use."""
    guards = {name: BudgetGuard(CEILING, ledger=ledger) for name, ledger in ledgers.items()}  # type: ignore[arg-type]
    times = {name: {"authorize": [], "record": [], "status": []} for name in guards}
    for guard in guards.values():
        guard.status()  # connected before timing
    for i in range(runs):
        for name, guard in guards.items():
            label = f"one-{name}-{i}"
            for what, act, act_args in (
                ("authorize", guard.authorize, (label, "0.01")),
                ("record", guard.record_actual, (label, "0.01")),
                ("status", guard.status, ()),
            ):
                start = time.perf_counter()
                act(*act_args)  # type: ignore[operator]
                times[name][what].append(time.perf_counter() - start)
    return {
        name: {what: median_ms(samples) for what, samples in by_what.items()}
        for name, by_what in times.items()
    }


def _client(url: str, budget: str, tag: str, each: int, ready: object, go: object) -> None:  # noqa: PLR0917 - a Process target takes args
    guard = BudgetGuard(CEILING, ledger=PostgresLedger(url, budget=budget))
    guard.status()
    ready.put(1)  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    for i in range(each):
        guard.authorize(f"{tag}-{i}", "0.01")
        guard.record_actual(f"{tag}-{i}", "0.01")


def concurrent(url: str, budgets: list[str], clients: int, each: int, tag: str) -> float:
    """Authorizations/s of ``clients`` processes (each closing what it opens), client n on
    budget n mod len(budgets); timed from a common start, connections already made."""
    ctx = multiprocessing.get_context("fork")
    ready, go = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(
            target=_client, args=(url, budgets[n % len(budgets)], f"{tag}{n}", each, ready, go)
        )
        for n in range(clients)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    return clients * each / (time.perf_counter() - start)


def verify_us_per_row(ledger: PostgresLedger) -> float:
    start = time.perf_counter()
    folded, differences = ledger.audit()
    elapsed = time.perf_counter() - start
    assert not differences, differences
    return elapsed / max(folded.lines, 1) * 1e6


def read_us_per_row(url: str) -> float:
    """verify's floor: psycopg reading every row of the ledger into Python tuples, nothing
    more (verify must read each row to recompute the balances from the truth)."""
    import psycopg

    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        rows = conn.execute("SELECT * FROM ledger").fetchall()
        elapsed = time.perf_counter() - start
    return elapsed / max(len(rows), 1) * 1e6


def cli_ms(args: list[str], env: dict[str, str], runs: int, cwd: Path) -> float:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [a.replace("{i}", str(i)) for a in args],
            env=env,
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
    return median_ms(times)


def jsonl_file(path: Path, pairs: int) -> int:
    """A JSONL ledger of closed pairs written by the project's own encoder; its line count."""
    with path.open("wb") as out:
        for g in range(pairs):
            opened = new_entry("authorize", f"imp-{g}", estimated=Decimal("0.01"), lab="02")
            closed = new_entry(
                "actual",
                f"imp-{g}",
                estimated=Decimal("0.01"),
                actual=Decimal("0.01"),
                op_id=opened.id,
                lab="02",
            )
            out.write(encode(opened) + encode(closed))
    return 2 * pairs


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []
        self.goals: list[tuple[str, str, str]] = []

    def add(self, *cells: object) -> None:
        self.rows.append(tuple(str(c) for c in cells))
        print("  " + " | ".join(self.rows[-1]), file=sys.stderr, flush=True)

    def goal(self, name: str, ratio: float, limit: float, floor: str = "") -> None:
        met = "met" if ratio <= limit else f"missed{floor}"
        self.goals.append((name, f"{ratio:.2f}x (goal <= {limit}x)", met))

    def show(self) -> None:
        print("| measure | rows | issue 24 (schema 1) | schema-1 code, this run | schema 2 |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")
        print("\n| goal | this run | verdict |\n| --- | --- | --- |")
        for goal in self.goals:
            print("| " + " | ".join(goal) + " |")


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f} ms"


def sizes_section(server: PgServer, args: argparse.Namespace, table: Table) -> dict[str, float]:
    urls = {}
    for size in args.sizes:
        urls[size] = server.database(f"rows_{size}")
        PostgresLedger(urls[size]).init()
        load(urls[size], ["default"], size // 2)
    new = one_client({str(size): PostgresLedger(url) for size, url in urls.items()}, args.runs)
    old = {}
    if args.old:  # version 1's code sums the whole budget: a few samples are enough
        old = one_client(
            {str(size): pg_v1.PostgresLedger(url) for size, url in urls.items()},
            max(3, args.runs // 20),
        )
    rates: dict[int, list[float]] = {size: [] for size in args.sizes}
    for _ in range(args.rounds):
        for size, url in urls.items():
            rates[size].append(concurrent(url, ["default"], args.clients, args.each, f"c{size}-"))
    seen: dict[str, float] = {}
    for size in args.sizes:
        for what in ("authorize", "record", "status"):
            table.add(
                f"`{what}`, one client (median)",
                f"{size:,}",
                _ms(BEFORE.get(f"{what} {size}")),
                _ms(old.get(str(size), {}).get(what)),
                _ms(new[str(size)][what]),
            )
            seen[f"{what} {size}"] = new[str(size)][what]
        seen[f"rate {size}"] = statistics.median(rates[size])
        table.add(
            f"{args.clients} clients, authorize + record (median of {args.rounds})",
            f"{size:,}",
            "",
            "",
            f"{seen[f'rate {size}']:,.0f} /s",
        )
    for size in (s for s in args.sizes if s):  # median of 3, each beside its floor
        ledger = PostgresLedger(urls[size])
        verify = [verify_us_per_row(ledger) for _ in range(3)]
        floor = [read_us_per_row(urls[size]) for _ in range(3)]
        seen[f"verify {size}"] = statistics.median(verify)
        seen[f"verify floor {size}"] = statistics.median(floor)
        table.add("`verify`, per row", f"{size:,}", "", "", f"{seen[f'verify {size}']:.2f} µs")
        table.add(
            "floor: reading every row (psycopg), per row",
            f"{size:,}",
            "",
            "",
            f"{seen[f'verify floor {size}']:.2f} µs",
        )
    return seen


def budgets_section(server: PgServer, args: argparse.Namespace, table: Table) -> dict[str, float]:
    many = server.database("many")
    PostgresLedger(many).init()
    names = [f"b{n:03}" for n in range(args.budgets)]
    load(many, names, args.budget_rows // 2)
    alone = server.database("alone")
    PostgresLedger(alone).init()
    load(alone, ["b000"], args.budget_rows // 2)
    rows = f"{args.budgets} x {args.budget_rows:,}"
    medians = one_client(
        {
            "alone": PostgresLedger(alone, budget="b000"),
            "many": PostgresLedger(many, budget="b000"),
        },
        args.runs,
    )
    seen = {"alone": medians["alone"]["authorize"], "many": medians["many"]["authorize"]}
    one, spread = [], []
    for _ in range(args.rounds):
        one.append(concurrent(alone, ["b000"], args.clients, args.each, "r1-"))
        spread.append(concurrent(many, names, args.clients, args.each, "rm-"))
    seen["rate one"], seen["rate many"] = statistics.median(one), statistics.median(spread)
    table.add("`authorize`, one budget alone", f"{args.budget_rows:,}", "", "", _ms(seen["alone"]))
    table.add("`authorize`, one budget of many", rows, "", "", _ms(seen["many"]))
    table.add(
        f"{args.clients} clients, all on one budget",
        f"{args.budget_rows:,}",
        "",
        "",
        f"{seen['rate one']:,.0f} /s",
    )
    table.add(
        f"{args.clients} clients, each on its own budget",
        rows,
        "",
        "",
        f"{seen['rate many']:,.0f} /s",
    )
    return seen


def import_section(
    server: PgServer, args: argparse.Namespace, table: Table, folder: Path, env: dict[str, str]
) -> tuple[float, float]:
    path = folder / "import.jsonl"
    lines = jsonl_file(path, args.import_lines // 2)
    url = server.database("imported")
    PostgresLedger(url).init()
    run_env = {**env, "LYNX_LEDGER_URL": url}
    times = []
    for _ in range(2):  # the second adds nothing: the idempotent path
        start = time.perf_counter()
        subprocess.run(
            [BUDGET, "import", str(path), "--ceiling", CEILING],
            env=run_env,
            cwd=folder,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
    assert PostgresLedger(url).read().lines == lines
    rate = lines / times[0]
    floor = lines / (parse_seconds(path) + bare_copy_seconds(server, path))
    table.add(
        "`budget import`",
        f"{lines:,}",
        f"{BEFORE['import']:,.0f} rows/s",
        "",
        f"{rate:,.0f} rows/s",
    )
    table.add(
        "`budget import` again (adds 0)", f"{lines:,}", "", "", f"{lines / times[1]:,.0f} rows/s"
    )
    table.add(
        "floor: parse the file + COPY it into a bare table with the ledger's indexes",
        f"{lines:,}",
        "",
        "",
        f"{floor:,.0f} rows/s",
    )
    return rate, floor


def parse_seconds(path: Path) -> float:
    from minitrain.ledger import jsonl
    from minitrain.ledger.parser import parse

    start = time.perf_counter()
    parse(jsonl.read_bytes(str(path)), location=str(path))
    return time.perf_counter() - start


def bare_copy_seconds(server: PgServer, path: Path) -> float:
    """The server's part of the floor: the file's rows COPYed straight into a table shaped and
    indexed as the ledger, with no trigger, no foreign key, no staging (the rows prepared first,
    untimed)."""
    import psycopg

    from minitrain.ledger import jsonl
    from minitrain.ledger.parser import parse
    from minitrain.ledger.postgres import _values

    rows = [_values(e) for e in parse(jsonl.read_bytes(str(path)), location="x").entries or ()]
    url = server.database("bare")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bare (seq bigserial PRIMARY KEY, budget text NOT NULL DEFAULT 'b',"
            " id text UNIQUE, ts timestamptz, kind text, op_label text, lab text, op_id text,"
            " estimated numeric(12, 2), actual numeric(12, 2), reason text, op_ids text[]);"
            " CREATE UNIQUE INDEX ON bare (op_id) WHERE kind = 'actual';"
            " CREATE INDEX ON bare (budget, seq)"
        )
        start = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(
                "COPY bare (id, ts, kind, op_label, lab, op_id, estimated, actual, reason, op_ids)"
                " FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - start


def cli_section(
    server: PgServer, args: argparse.Namespace, table: Table, folder: Path, env: dict[str, str]
) -> dict[str, float]:
    empty = server.database("cli")
    PostgresLedger(empty).init()
    authorize = [BUDGET, "authorize", "cli-{i}", "0.01", "--ceiling", CEILING]
    ledger = str(folder / "cli.jsonl")
    seen = {
        "jsonl": cli_ms([BUDGET, "--ledger", ledger, *authorize[1:]], env, args.cli_runs, folder),
        "pg": cli_ms(authorize, {**env, "LYNX_LEDGER_URL": empty}, args.cli_runs, folder),
        "python": cli_ms([sys.executable, "-c", "pass"], env, args.cli_runs, folder),
        "psycopg": cli_ms([sys.executable, "-c", "import psycopg"], env, args.cli_runs, folder),
    }
    big = server.url.rsplit("/", 1)[0] + f"/rows_{max(args.sizes)}"
    if "sizes" not in args.only:  # not loaded above
        big = server.database(f"rows_{max(args.sizes)}")
        PostgresLedger(big).init()
        load(big, ["default"], max(args.sizes) // 2)
    seen["pg big"] = cli_ms(
        [*authorize[:2], "big-{i}", *authorize[3:]],
        {**env, "LYNX_LEDGER_URL": big},
        args.cli_runs,
        folder,
    )
    seen["connect"] = connect_ms(empty, args.cli_runs)
    floor = seen["jsonl"] + seen["psycopg"] - seen["python"] + seen["connect"]
    seen["floor"] = floor
    table.add(
        "`budget authorize` CLI, JSONL", "0", _ms(BEFORE["cli jsonl"]), "", _ms(seen["jsonl"])
    )
    table.add("`budget authorize` CLI, PostgreSQL", "0", _ms(BEFORE["cli pg"]), "", _ms(seen["pg"]))
    table.add(
        "`budget authorize` CLI, PostgreSQL",
        f"{max(args.sizes):,}",
        f"{BEFORE['cli pg 500000']:,.0f} ms (500,000)",
        "",
        _ms(seen["pg big"]),
    )
    table.add("floor: `python -c pass`", "", "", "", _ms(seen["python"]))
    table.add("floor: `python -c 'import psycopg'`", "", "", "", _ms(seen["psycopg"]))
    table.add("floor: one connection (in process)", "", "", "", _ms(seen["connect"]))
    table.add("floor: JSONL CLI + psycopg's import + a connection", "", "", "", _ms(floor))
    return seen


def connect_ms(url: str, runs: int) -> float:
    import psycopg

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        psycopg.connect(url).close()
        times.append(time.perf_counter() - start)
    return median_ms(times)


def goals(table: Table, seen: dict[str, float], args: argparse.Namespace) -> None:
    top = max(args.sizes)
    smallest = min([s for s in args.sizes if s] or [top])
    checks = [
        *(
            (f"`{what}` at {top:,} rows vs 0", f"{what} {top}", f"{what} 0", 1.2, "")
            for what in ("authorize", "record", "status")
        ),
        (
            f"`verify` per row at {top:,} vs {smallest:,}",
            f"verify {top}",
            f"verify {smallest}",
            1.2,
            "",
        ),
        (
            f"{args.clients} clients at {top:,} rows vs 0 (rate at 0 / rate)",
            "rate 0",
            f"rate {top}",
            1.2,
            "",
        ),
        ("one budget among many vs alone", "many", "alone", 1.2, ""),
        (
            f"{args.clients} clients, own budgets vs one budget (rate one / rate many)",
            "rate one",
            "rate many",
            1.2,
            "",
        ),
    ]
    for name, top_key, base_key, limit, why in checks:
        if top_key in seen and base_key in seen:
            table.goal(name, seen[top_key] / seen[base_key], limit, why)
    if "import" in seen:
        reach = 20_000 / seen["import floor"]
        table.goal(
            "`budget import` 20,000 rows/s (20,000 / rate)",
            20_000 / seen["import"],
            1.0,
            f": the floor alone gives {reach:.2f}x" if reach > 1 else "",
        )
    if "pg" in seen:
        floor = seen["floor"] / seen["jsonl"]
        table.goal(
            "CLI authorize, PostgreSQL vs JSONL",
            seen["pg"] / seen["jsonl"],
            2.0,
            f": out of reach, the floor alone is {floor:.2f}x",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=lambda s: [int(n) for n in s.split(",")], default=[0, 100_000, 1_000_000]
    )
    parser.add_argument("--runs", type=int, default=100, help="samples per median")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--each", type=int, default=25, help="operations per client")
    parser.add_argument("--budgets", type=int, default=100)
    parser.add_argument("--budget-rows", type=int, default=10_000)
    parser.add_argument("--import-lines", type=int, default=500_000)
    parser.add_argument("--cli-runs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="concurrent rounds per median")
    parser.add_argument(
        "--only",
        type=lambda s: s.split(","),
        default=["sizes", "budgets", "import", "cli"],
        help="sections, comma-separated: sizes,budgets,import,cli",
    )
    parser.add_argument("--no-old", dest="old", action="store_false", help="skip schema 1's code")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LYNX_", "BUDGET_GUARD"))}
    table, seen = Table(), {}
    with tempfile.TemporaryDirectory(prefix="minitrain-bench-") as name:
        folder = Path(name)
        pg_folder = Path(tempfile.mkdtemp(prefix="minitrain-pg-"))  # the postgres user's
        server = PgServer(pg_folder)
        try:
            if "sizes" in args.only:
                seen.update(sizes_section(server, args, table))
            if "budgets" in args.only:
                seen.update(budgets_section(server, args, table))
            if "import" in args.only:
                seen["import"], seen["import floor"] = import_section(
                    server, args, table, folder, env
                )
            if "cli" in args.only:
                seen.update(cli_section(server, args, table, folder, env))
        finally:
            server.stop()
            shutil.rmtree(pg_folder, ignore_errors=True)
    goals(table, seen, args)
    table.show()


if __name__ == "__main__":
    main()
