"""Start-up of `budget status` and `preflight run --dry-run`, before (a git revision) and after
(this tree), run alternately in one process beside their floors.

    .venv/bin/python benchmarks/startup_ab.py --before 7a9c23e --runs 21

The same console scripts run both trees (``PYTHONPATH`` picks the sources); both trees' bytecode
is compiled first, so the figures measure the program, not the compiler. Prints median and
minimum per command, and each as a ratio of the same run's ``python -c pass``.

`budget status` runs three times per tree: on an empty ledger made from the real manifest; on a
small ledger whose checkpoint covers every line (made by this tree, then left 2 s so that its
file times vouch for it: status then parses no line and hashes no byte, only checks the MAC);
and on the same ledger without a checkpoint (every line parsed, as for the lab's own ledgers).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PY = sys.executable
DRY = [
    *("run", "--label", "lab02-tp-spinup", "--estimate", "3.00"),
    *("--answers", "checklists/answers/ci.yaml", "--dry-run"),
]


def export(revision: str, into: Path) -> Path:
    """The ``src`` folder of ``revision``, compiled."""
    archive = into / "before.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", revision, "src"], cwd=REPO, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "before", filter="data")
    compileall.compile_dir(into / "before" / "src", quiet=1)
    return into / "before" / "src"


def lab(into: Path) -> Path:
    folder = into / "lab"
    (folder / "experiments/35-cloud-budget").mkdir(parents=True)
    manifest = REPO / "experiments/35-cloud-budget/manifest.json"
    shutil.copy(manifest, folder / "experiments/35-cloud-budget")
    shutil.copytree(REPO / "checklists", folder / "checklists")
    return folder


def with_ledger(into: Path, name: str, *, checkpointed: bool) -> Path:
    """A lab whose ledger holds six closed operations; with a checkpoint covering its last byte
    (saved after every line), or without one (as the lab's own, far below 64 KiB)."""
    folder = into / name
    (folder / "experiments/35-cloud-budget").mkdir(parents=True)
    manifest = REPO / "experiments/35-cloud-budget/manifest.json"
    shutil.copy(manifest, folder / "experiments/35-cloud-budget")
    make = (
        "from minitrain import BudgetGuard\n"
        "from minitrain.ledger import checkpoint\n"
        f"checkpoint.EVERY = {1 if checkpointed else 1 << 30}\n"
        "guard = BudgetGuard(5, 'experiments/35-cloud-budget/spend.jsonl')\n"
        "for n in range(6):\n"
        "    guard.authorize(f'lab02-op{n}', '0.50')\n"
        "    guard.record_actual(f'lab02-op{n}', '0.25')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BUDGET_GUARD_TEST_MODE"}
    env["PYTHONPATH"] = str(REPO / "src")
    subprocess.run([PY, "-c", make], cwd=folder, env=env, check=True)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a git revision, e.g. 7a9c23e")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    compileall.compile_dir(REPO / "src", quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        trees = {"before": export(args.before, folder), "after": REPO / "src"}
        cwd = lab(folder)
        ledgers = {
            "checkpoint covers all": with_ledger(folder, "covered", checkpointed=True),
            "6 closed ops, no checkpoint": with_ledger(folder, "small", checkpointed=False),
        }
        time.sleep(2.1)  # checkpoint.MARGIN_NS: after it, the first read saves times that vouch
        where: dict[str, Path] = {}  # a command run elsewhere than ``cwd``
        records = ["--records", str(folder / "records")]
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "floor: python -c pass": ([PY, "-c", "pass"], env),
            "python -I -c 'import json,decimal,fcntl,os'": (
                [PY, "-I", "-c", "import json,decimal,fcntl,os"],
                env,
            ),
            "python -c 'import re,argparse,json,decimal,fcntl,os'": (
                [PY, "-c", "import re,argparse,json,decimal,fcntl,os"],
                env,
            ),
            "python -I -c 'import json,decimal,fcntl,os,re,yaml'": (
                [PY, "-I", "-c", "import json,decimal,fcntl,os,re,yaml"],
                env,
            ),
        }
        for tree, src in trees.items():
            with_src = {**env, "PYTHONPATH": str(src)}
            commands[f"budget status ({tree})"] = ([str(BIN / "budget"), "status"], with_src)
            for ledger, there in ledgers.items():
                commands[f"budget status, {ledger} ({tree})"] = (
                    [str(BIN / "budget"), "status"],
                    with_src,
                )
                where[f"budget status, {ledger} ({tree})"] = there
            commands[f"preflight --dry-run ({tree})"] = (
                [str(BIN / "preflight"), *DRY, *records],
                with_src,
            )
        walls: dict[str, list[float]] = {what: [] for what in commands}
        for round_ in range(args.runs + 1):  # round 0 warms the caches and is not counted
            for what, (argv, child_env) in commands.items():
                start = time.perf_counter()
                subprocess.run(
                    argv,
                    cwd=where.get(what, cwd),
                    env=child_env,
                    stdout=subprocess.DEVNULL,
                    check=True,
                )
                if round_:
                    walls[what].append((time.perf_counter() - start) * 1000)
    floor = walls["floor: python -c pass"]
    for name, times in walls.items():
        median, least = statistics.median(times), min(times)
        print(
            f"{name:<60} median {median:7.1f} ms  min {least:7.1f} ms"
            f"  {median / statistics.median(floor):5.2f}x (min {least / min(floor):5.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
