"""Each speed goal of issue 13 as a ratio against its floor, measured in the same run.

    .venv/bin/python benchmarks/bench.py [--quick] [--lines 1000000] [--runs N] [--only NAME ...]

The machines are shared and noisy, so every figure is paired with a floor taken in the same run
(measured and floor runs alternate), repeated, and shown as the ratio of medians and the ratio
of minimums. A goal is met when the ratio of medians meets it; the exit status is 1 when any goal
is missed. Goals (see the issue's table):

* ``budget status`` start-up <= 3x (issue 20 retired the 2.5x goal of issue 13) ``python -c pass``;
* ``preflight run --dry-run --answers checklists/answers/ci.yaml`` <= 4x ``python -c pass``;
* the cold first read of the big ledger (no checkpoint) <= 1.5x the CPU of one process doing
  ``json.loads`` + ``zlib.crc32`` per line, and <= 250 MiB peak RSS;
* 16 processes authorizing at once >= 50% of a bare 16-process flock + append + fsync loop;
* ``budget status`` / ``budget authorize`` on the big ledger <= 1.2x an empty one (checkpoint
  present);
* a stale checkpoint (the ledger replaced by a copy: a new inode, as after ``git pull``): while a
  first writer rebuilds, a second writer's authorize does not wait behind it (its wall time
  <= 1.25x the CPU time it used itself).

The big ledger (authorize/actual pairs, written with the project's own encoder) is cached in the
temporary folder across runs; everything else happens in a fresh temporary folder. The real
ledger is never touched.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import importlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from minitrain import BudgetGuard

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PY = sys.executable
CACHE = Path(tempfile.gettempdir()) / "minitrain-bench-cache"
BIG_CEILING = "100000"  # money.MAX_USD: a ceiling no benchmark reaches
MIB = 1024 * 1024
# A floor for the cold read: the least any reader of JSON lines with a CRC per line must do.
FLOOR_READ = """
import json, sys, zlib
with open(sys.argv[1], "rb") as f:
    for line in f:
        json.loads(line)
        zlib.crc32(line)
"""

# A floor for the dry run: what any `preflight run --dry-run` must do at the least, and nothing
# more (no check, no ledger, no walk): parse its arguments, load the checklist and the answers
# (with libyaml where PyYAML has it), read the manifest, write a record and fsync it.
FLOOR_DRY_RUN = """
import json, decimal, fcntl, os, re, sys, yaml, argparse
parser = argparse.ArgumentParser(prog="preflight")
run = parser.add_subparsers().add_parser("run")
for option in ("--label", "--estimate", "--answers", "--records"):
    run.add_argument(option)
run.add_argument("--dry-run", action="store_true")
args = parser.parse_args(sys.argv[1:])
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
with open("checklists/pre-flight.yaml", "rb") as f:
    checklist = yaml.load(f, loader)
with open(args.answers, "rb") as f:
    answers = yaml.load(f, loader)
with open("experiments/35-cloud-budget/manifest.json", "rb") as f:
    manifest = json.load(f)
os.makedirs(args.records, exist_ok=True)
fd = os.open(os.path.join(args.records, "record.json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, json.dumps({"checklist": checklist, "answers": answers}).encode())
os.fsync(fd)
os.close(fd)
"""


def encoder() -> tuple[Callable[..., Any], Callable[..., bytes]]:
    """``(new_entry, encode)``: the ledger's line encoder, the one private name used here.

    ``new_entry`` lives in ``minitrain.ledger.entries``, ``encode`` in ``line_format`` (before
    the split of issue 20, both in ``entries``): update this list, not the callers, if they move.
    """
    for names in (("entries", "line_format"), ("entries", "entries")):
        try:
            made, sealed = (importlib.import_module(f"minitrain.ledger.{n}") for n in names)
        except ImportError:
            continue
        if hasattr(made, "new_entry") and hasattr(sealed, "encode"):
            return made.new_entry, sealed.encode
    raise SystemExit("cannot find the ledger's line encoder (new_entry, encode); update encoder()")


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process (and anything it waited for)
    maxrss: int  # peak resident set, bytes


def run(argv: list[str], *, cwd: Path | None = None) -> Run:
    """One fresh process, waited for; it must succeed."""
    return reap(start(argv, cwd=cwd), time.perf_counter())


class Child:
    """A started process, with its stderr in a file (not a pipe: one nobody reads can fill up
    and stall the child)."""

    def __init__(self, argv: list[str], cwd: Path | None) -> None:
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in reap()
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=self.errors)


def start(argv: list[str], *, cwd: Path | None = None) -> Child:
    return Child(argv, cwd)


def reap(child: Child, started: float) -> Run:
    """Wait for ``child``: its own rusage (``wait4``), not the sum over every child so far."""
    _, status, usage = os.wait4(child.proc.pid, 0)
    wall = time.perf_counter() - started
    child.proc.returncode = code = os.waitstatus_to_exitcode(status)
    with child.errors as errors:
        errors.seek(0)
        message = errors.read().decode(errors="replace").strip()
    if code != 0:
        raise SystemExit(f"{' '.join(map(str, child.proc.args))} failed ({code}): {message}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


@dataclass
class Goal:
    name: str
    goal: str
    met: bool
    median: float
    minimum: float


RESULTS: list[Goal] = []


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:9.2f} ms   min {min(seconds) * 1000:9.2f} ms"


def show(name: str, seconds: list[float], floor: list[float] | None = None) -> None:
    ratio = ""
    if floor is not None:
        ratio = f"   {statistics.median(seconds) / statistics.median(floor):5.2f}x floor"
    print(f"  {name:<48} {ms(seconds)}{ratio}")


def judge(name: str, measured: list[float], floor: list[float], *, at_most: float) -> None:
    """Record a goal "measured / floor <= at_most" (medians decide; minimums shown)."""
    median = statistics.median(measured) / statistics.median(floor)
    minimum = min(measured) / min(floor)
    met = median <= at_most
    RESULTS.append(Goal(name, f"<= {at_most}x", met, median, minimum))
    print(
        f"  => ratio median {median:.2f}x, min {minimum:.2f}x; goal <= {at_most}x: {verdict(met)}"
    )


def paired(measured: list[str], floors: list[list[str]], runs: int, cwd: Path) -> list[list[Run]]:
    """Alternate the measured command and its floors, so noise hits them alike (after warm-up)."""
    commands = [measured, *floors]
    for argv in commands:
        run(argv, cwd=cwd)
    results: list[list[Run]] = [[] for _ in commands]
    for _ in range(runs):
        for argv, out in zip(commands, results, strict=True):
            out.append(run(argv, cwd=cwd))
    return results


def walls(runs: list[Run]) -> list[float]:
    return [r.wall for r in runs]


# --- start-up --------------------------------------------------------------------------------


def lab_folder(folder: Path) -> Path:
    lab = folder / "lab"
    (lab / "experiments/35-cloud-budget").mkdir(parents=True)
    shutil.copy(
        REPO / "experiments/35-cloud-budget/manifest.json", lab / "experiments/35-cloud-budget"
    )
    shutil.copytree(REPO / "checklists", lab / "checklists")
    return lab


def startup(folder: Path, runs: int) -> None:
    lab = lab_folder(folder)
    bare = [PY, "-c", "pass"]
    print("budget status start-up (wall time of a fresh process, empty ledger from the manifest)")
    status, floor, stdlib = paired(
        [str(BIN / "budget"), "status"],
        [bare, [PY, "-I", "-c", "import json, decimal, fcntl, os"]],
        runs,
        lab,
    )
    show("floor: python -c pass", walls(floor))
    show("python -I -c 'import json,decimal,fcntl,os'", walls(stdlib), walls(floor))
    show("budget status", walls(status), walls(floor))
    judge("budget status start-up", walls(status), walls(floor), at_most=3)
    print("preflight run --dry-run --answers checklists/answers/ci.yaml (8 steps)")
    dry = [
        *(str(BIN / "preflight"), "run", "--label", "lab02-tp-spinup", "--estimate", "3.00"),
        *("--answers", "checklists/answers/ci.yaml", "--dry-run", "--records", str(folder / "r")),
    ]
    imports = "import json,decimal,fcntl,os,re,yaml"
    least = [PY, "-I", "-c", FLOOR_DRY_RUN, *dry[1:-2], "--records", str(folder / "least")]
    preflight, floor, stdlib, stand_in = paired(
        dry, [bare, [PY, "-I", "-c", imports], least], runs, lab
    )
    show("floor: python -c pass", walls(floor))
    show(f"python -I -c '{imports}'", walls(stdlib), walls(floor))
    show("the least a dry run does (FLOOR_DRY_RUN)", walls(stand_in), walls(floor))
    show("preflight run --dry-run --answers", walls(preflight), walls(floor))
    judge("preflight --dry-run start-up", walls(preflight), walls(floor), at_most=4)


# --- the big ledger --------------------------------------------------------------------------


def big_ledger(lines: int) -> Path:
    """Closed operations (authorize + actual pairs), as a year of use would leave; cached."""
    path = CACHE / f"ledger-{lines}.jsonl"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    new_entry, encode = encoder()
    start = time.perf_counter()
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as f:
        for i in range(lines // 2):
            auth = new_entry("authorize", f"op-{i}", estimated=Decimal("0.01"))
            actual = new_entry(
                "actual",
                f"op-{i}",
                estimated=Decimal("0.01"),
                actual=Decimal("0.01"),
                op_id=auth.id,
            )
            f.write(encode(auth) + encode(actual))
    partial.replace(path)
    print(f"(wrote {path} in {time.perf_counter() - start:.0f} s; kept for later runs)")
    return path


def fresh_copy(source: Path, folder: Path, name: str) -> Path:
    """A copy the benchmark may append to (the cached ledger stays as written)."""
    target = folder / name
    shutil.copyfile(source, target)
    return target


def budget(command: str, ledger: Path) -> list[str]:
    extra = ["bench", "0.01"] if command == "authorize" else []
    return [str(BIN / "budget"), command, *extra, "--ledger", str(ledger), "--ceiling", BIG_CEILING]


def drop_checkpoint(ledger: Path) -> None:
    # The checkpoint's name is documented in docs/layout.md's file table.
    ledger.with_name(ledger.name + ".checkpoint").unlink(missing_ok=True)


def cold_read(big: Path, folder: Path, runs: int, lines: int) -> None:
    print(f"cold first read of {lines:,} lines, no checkpoint (CPU time and peak RSS)")
    ledger = fresh_copy(big, folder, "cold.jsonl")
    floor, measured = [], []
    for _ in range(runs):
        floor.append(run([PY, "-c", FLOOR_READ, str(ledger)]))
        drop_checkpoint(ledger)
        measured.append(run(budget("status", ledger)))
    cpu, floor_cpu = [r.cpu for r in measured], [r.cpu for r in floor]
    show("floor: json.loads + zlib.crc32 per line (CPU)", floor_cpu)
    show("budget status, no checkpoint (CPU)", cpu, floor_cpu)
    show("budget status, no checkpoint (wall)", walls(measured))
    judge("cold read CPU vs the floor loop", cpu, floor_cpu, at_most=1.5)
    peaks, floor_peak = [r.maxrss / MIB for r in measured], max(r.maxrss for r in floor) / MIB
    print(f"  peak RSS: floor {floor_peak:.0f} MiB, budget status {max(peaks):.0f} MiB")
    met = max(peaks) <= 250
    RESULTS.append(Goal("cold read peak RSS (MiB)", "<= 250 MiB", met, max(peaks), min(peaks)))
    print(f"  => peak RSS goal <= 250 MiB: {verdict(met)}")


def flat(big: Path, folder: Path, runs: int, lines: int) -> None:
    print(f"status and authorize on {lines:,} lines vs an empty ledger (checkpoint present)")
    empty = folder / "empty.jsonl"
    ledger = fresh_copy(big, folder, "flat.jsonl")
    run(budget("authorize", empty))  # both ledgers exist and have their checkpoint
    run(budget("status", ledger))
    for command in ("status", "authorize"):
        on_big, on_empty = paired(budget(command, ledger), [budget(command, empty)], runs, folder)
        show(f"budget {command}, empty ledger", walls(on_empty))
        show(f"budget {command}, {lines:,} lines", walls(on_big), walls(on_empty))
        judge(f"budget {command} at {lines:,} lines", walls(on_big), walls(on_empty), at_most=1.2)


def stale(big: Path, folder: Path, runs: int, lines: int) -> None:
    print(f"stale checkpoint at {lines:,} lines: a second writer while the first rebuilds")
    ledger = fresh_copy(big, folder, "stale.jsonl")
    run(budget("status", ledger))  # a checkpoint, about to go stale
    firsts, second_wall, second_cpu = [], [], []
    for _ in range(runs):
        copy = fresh_copy(ledger, folder, "stale.copy")
        copy.replace(ledger)  # a new inode, as `git pull` or `cp` leave: the checkpoint is stale
        started = time.perf_counter()
        first = start(budget("authorize", ledger))
        time.sleep(0.05 + lines / 4_000_000)  # well inside the first writer's rebuild
        second = run(budget("authorize", ledger))
        firsts.append(reap(first, started))
        second_wall.append(second.wall)
        second_cpu.append(second.cpu)
    show("first writer (rebuilds), wall", walls(firsts))
    show("first writer (rebuilds), CPU", [r.cpu for r in firsts])
    print(f"  {'first writer, peak RSS':<48} {max(r.maxrss for r in firsts) / MIB:.0f} MiB")
    show("floor: second writer's own CPU time", second_cpu)
    show("second writer, wall", second_wall, second_cpu)
    judge("second writer does not wait for a rebuild", second_wall, second_cpu, at_most=1.25)


# --- contention ------------------------------------------------------------------------------


def _guard_worker(ledger: str, tries: int) -> None:
    guard = BudgetGuard(BIG_CEILING, ledger)
    for i in range(tries):
        guard.authorize(f"p{os.getpid()}-{i}", "0.01")


def _bare_worker(ledger: str, tries: int) -> None:
    new_entry, encode = encoder()
    line = encode(new_entry("authorize", "bare", estimated=Decimal("0.01")))
    for _ in range(tries):
        lock = os.open(ledger + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, line)
        os.fsync(fd)
        os.close(fd)
        os.close(lock)


def _race(worker: Callable[[str, int], None], ledger: Path, procs: int, tries: int) -> float:
    """Wall seconds per authorization with ``procs`` processes at once, on a fresh ledger with
    nothing beside it (a checkpoint left by the last race would be one of another ledger)."""
    for name in (ledger, *(ledger.with_name(ledger.name + s) for s in (".checkpoint", ".key"))):
        name.unlink(missing_ok=True)
    workers = [
        multiprocessing.Process(target=worker, args=(str(ledger), tries)) for _ in range(procs)
    ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if any(w.exitcode for w in workers):
        raise SystemExit(f"a {worker.__name__} process failed")
    return (time.perf_counter() - start) / (procs * tries)


def contention(folder: Path, runs: int, procs: int, tries: int) -> None:
    print(f"contention: {procs} processes x {tries} authorizations, fsync on every line")
    bare, guard = [], []
    for _ in range(runs):
        bare.append(_race(_bare_worker, folder / "bare.jsonl", procs, tries))
        guard.append(_race(_guard_worker, folder / "guard.jsonl", procs, tries))
    # The goal is judged as above: each writer process loads what the guard imports lazily
    # (the ledger modules, hashlib, hmac: ~10 ms a process) inside the timing. Beside it, for
    # the reader, the steady state: writers forked after this process ran one guard, so they
    # inherit those modules as the bare loop's inherit os and fcntl.
    _warm_up(folder / "warm.jsonl")
    steady = [_race(_guard_worker, folder / "guard.jsonl", procs, tries) for _ in range(runs)]
    show("floor: flock + append + fsync, per line", bare)
    show("BudgetGuard.authorize, per authorization", guard, bare)
    show("  the same, modules loaded before the fork", steady, bare)
    median = statistics.median(bare) / statistics.median(guard)
    best = min(bare) / min(guard)
    met = median >= 0.5
    RESULTS.append(Goal(f"{procs} writers vs the bare loop (share)", ">= 50%", met, median, best))
    print(
        f"  => share of the floor's rate: median {median:.0%}, best {best:.0%};"
        f" goal >= 50%: {verdict(met)} (modules loaded before the fork:"
        f" {statistics.median(bare) / statistics.median(steady):.0%})"
    )


def _warm_up(ledger: Path) -> None:
    """Run one guard past a checkpoint's worth of lines: every module a writer loads lazily
    is then loaded in this process (and in the writers forked from it)."""
    guard = BudgetGuard(BIG_CEILING, str(ledger))
    for i in range(400):
        guard.authorize(f"warm-up-{i}", "0.01")


# --- main ------------------------------------------------------------------------------------


def summary() -> int:
    print("\nsummary: the ratio of medians decides (for RSS: the highest peak); the best beside it")
    for goal in RESULTS:
        print(
            f"  {goal.name:<44} {goal.median:8.2f}  best {goal.minimum:8.2f}"
            f"  {goal.goal:<12} {verdict(goal.met)}"
        )
    return 0 if all(goal.met for goal in RESULTS) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 lines and fewer runs (~15 s)")
    parser.add_argument("--lines", type=int, help="size of the big ledger (default 1,000,000)")
    parser.add_argument("--runs", type=int, help="repetitions of each start-up measurement")
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, metavar="NAME",
        help=f"run only these sections (of {', '.join(SECTIONS)})",
    )  # fmt: skip
    args = parser.parse_args()
    lines = args.lines or (20_000 if args.quick else 1_000_000)
    runs = args.runs or (5 if args.quick else 11)
    slow_runs = 3  # the cold read and the stale rebuild take seconds each at 1M lines
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; python {sys.version.split()[0]},"
        f" {os.cpu_count()} cores"
    )
    # Every section measures the program, not the compiler: with PYTHONDONTWRITEBYTECODE set (as
    # on this machine) a module edited since its bytecode was cached is compiled again by every
    # process that imports it (each writer of the contention run too).
    compileall.compile_dir(REPO / "src", quiet=1)
    big = big_ledger(lines)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        os.chdir(folder)  # no manifest above it: the ledgers here answer only to --ceiling
        steps: dict[str, Callable[[], None]] = {
            "startup": lambda: startup(folder, runs),
            "cold": lambda: cold_read(big, folder, slow_runs, lines),
            "flat": lambda: flat(big, folder, runs, lines),
            "stale": lambda: stale(big, folder, slow_runs, lines),
            "contention": lambda: contention(
                folder, 3 if args.quick else 5, procs=16, tries=25 if args.quick else 100
            ),
        }
        for section in args.only or SECTIONS:
            print()
            steps[section]()
    return summary()


SECTIONS = ("startup", "cold", "flat", "stale", "contention")


if __name__ == "__main__":
    sys.exit(main())
