"""What GPUs a freshly started instance really has, against what the estimate paid for.

Reads two ``nvidia-smi`` outputs: ``--query-gpu=name,memory.total --format=csv,noheader,nounits``
(one ``name, MiB`` line per GPU) and ``topo -m`` (the link matrix; ``NV#`` between two GPUs is a
bonded set of # NVLinks, ``PIX``/``PXB``/``PHB``/``NODE``/``SYS`` are PCIe paths). ``topo -m``
underlines its header with ANSI codes even when not printing to a terminal, so they are removed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from minitrain._commands import run as run_command
from minitrain._struct import Struct
from minitrain.errors import InputError

QUERY = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
TOPO = ["nvidia-smi", "topo", "-m"]
# Patterns, not compiled here: only reading nvidia-smi needs them (re caches them then), and
# every pre-flight run imports this module for the manifest's target.
_ANSI = r"\x1b\[[0-9;?]*[A-Za-z]"
_GPU_COLUMN = r"^GPU(\d+)$"


class NotOnAnInstance(InputError):
    """``nvidia-smi`` is not installed here: this is not the GPU instance (a laptop, say)."""


class Gpu(Struct, frozen=True):
    name: str
    memory_mib: int


class Hardware(Struct, frozen=True):
    gpus: tuple[Gpu, ...]
    links: Mapping[tuple[int, int], str]  # (0, 1) -> "NV4" / "PIX" / ...

    @property
    def pair_link(self) -> str | None:
        """How GPU0 and GPU1 are joined, or None with fewer than two GPUs."""
        return self.links.get((0, 1))

    @property
    def nvlink(self) -> bool:
        return (self.pair_link or "").startswith("NV")

    def describe(self) -> str:
        if not self.gpus:
            return "no GPU"
        names = sorted({g.name for g in self.gpus})
        memory = min(g.memory_mib for g in self.gpus)
        link = (
            f", GPU0-GPU1 {'NVLink' if self.nvlink else 'PCIe'} ({self.pair_link})"
            if (self.pair_link)
            else ""
        )
        return f"{len(self.gpus)}x {' + '.join(names)} ({memory} MiB each){link}"


class Target(Struct, frozen=True):
    """What the estimate assumed: the manifest's ``hardware_target`` as an object."""

    gpu: str  # matched as a case-insensitive part of the name: "RTX 4090"
    count: int
    memory_mib: int | None = None  # at least this much per GPU
    nvlink: bool | None = None  # None: either is fine

    def describe(self) -> str:
        memory = f", >= {self.memory_mib} MiB each" if self.memory_mib else ""
        link = {None: "", True: ", NVLink between GPU0 and GPU1", False: ", PCIe is fine"}
        return f"{self.count}x {self.gpu}{memory}{link[self.nvlink]}"


def target_from(value: object) -> Target | None:
    """The manifest's ``hardware_target``; None while it is still the seed's sentence ("to be
    filled in lab 02"): then nothing is known to compare with, which is not a mismatch."""
    if not isinstance(value, Mapping):
        return None
    try:
        return Target(
            gpu=str(value["gpu"]),
            count=int(value["count"]),
            memory_mib=None if value.get("memory_mib") is None else int(value["memory_mib"]),
            nvlink=value.get("nvlink"),
        )
    except (KeyError, TypeError, ValueError):
        raise InputError(
            "manifest field 'hardware_target' must be a sentence, or"
            ' {"gpu": "RTX 4090", "count": 2, "memory_mib": 24000, "nvlink": false}'
        ) from None


def expected(
    *,
    manifest: str | None = None,
    gpu: str | None = None,
    count: int | None = None,
    memory_mib: int | None = None,
    nvlink: bool | None = None,
) -> Target | None:
    """The target from flags, else from the manifest's hardware_target (None: neither)."""
    if gpu is not None or count is not None:
        if gpu is None or count is None:
            raise InputError("--gpu and --count go together")
        return Target(gpu, count, memory_mib, nvlink)
    from minitrain import manifest as manifest_module

    path = Path(manifest) if manifest else manifest_module.find()
    return target_from(manifest_module.load(path).hardware_target) if path else None


def parse_query(text: str) -> tuple[Gpu, ...]:
    gpus = []
    for number, line in enumerate(text.strip().splitlines(), 1):
        name, _, memory = line.rpartition(",")
        try:
            gpus.append(Gpu(name.strip(), int(memory.strip().removesuffix("MiB").strip())))
        except ValueError:
            raise InputError(
                f"nvidia-smi query output line {number} is not 'name, MiB': {line!r}"
            ) from None
    return tuple(gpus)


def parse_topo(text: str) -> dict[tuple[int, int], str]:
    lines = [re.sub(_ANSI, "", line) for line in text.splitlines()]
    header = next((line for line in lines if "GPU0" in line and not line.startswith("GPU")), None)
    if header is None:
        raise InputError("nvidia-smi topo -m printed no GPU0 header")
    columns = [c.strip() for c in header.split("\t")][1:]
    links = {}
    for line in lines:
        cells = [c.strip() for c in line.split("\t")]
        row = re.match(_GPU_COLUMN, cells[0])
        if row is None:
            continue
        for column, cell in zip(columns, cells[1:], strict=False):
            col = re.match(_GPU_COLUMN, column)
            if col is not None and cell != "X":
                links[(int(row.group(1)), int(col.group(1)))] = cell
    return links


def read() -> Hardware:
    """Run ``nvidia-smi`` twice (no shell) and parse what it says."""
    return Hardware(parse_query(_run(QUERY)), parse_topo(_run(TOPO)))


def compare(found: Hardware, target: Target) -> list[str]:
    """Each way the instance differs from what was paid for (empty: it matches)."""
    problems = []
    matching = [g for g in found.gpus if target.gpu.lower() in g.name.lower()]
    if len(found.gpus) != target.count or len(matching) != target.count:
        problems.append(f"{target.count}x {target.gpu} expected")
    if target.memory_mib and any(g.memory_mib < target.memory_mib for g in found.gpus):
        problems.append(f">= {target.memory_mib} MiB per GPU expected")
    if target.nvlink and not found.nvlink:
        problems.append("NVLink between GPU0 and GPU1 expected (tensor parallelism pays for PCIe)")
    return problems


def _run(argv: list[str]) -> str:
    ran = run_command(argv, timeout=30)
    if ran.missing:
        raise NotOnAnInstance("nvidia-smi is not installed here: run this on the GPU instance")
    if ran.problem:
        raise InputError(ran.problem)
    if not ran.ok:
        raise InputError(f"`{ran.shown}` failed (exit {ran.status}): {ran.first_error_line()}")
    return ran.stdout


def as_json(found: Hardware) -> dict[str, Any]:
    return {
        "gpus": [{"name": g.name, "memory_mib": g.memory_mib} for g in found.gpus],
        "gpu0_gpu1": found.pair_link,
        "nvlink": found.nvlink,
    }
