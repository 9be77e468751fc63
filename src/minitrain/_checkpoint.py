"""A derived checkpoint of the ledger's totals, so a fresh process need not parse every line.

The JSONL file stays the only truth. The checkpoint (``<ledger>.checkpoint``, never committed)
records where it ends and what the file looked like there; it is used only when the ledger is
the same file (device and inode), no shorter, and the 4 KiB before the checkpoint's end have the
same CRC-32; if the file is exactly as long, its change time must match too (an edit in place
changes it). Anything else, a missing, stale, foreign, truncated or edited checkpoint, is ignored
and rebuilt from the lines. Its own CRC-32 catches an edit of the checkpoint itself (a CRC, not a
cryptographic hash: it guards against accidents, and importing hashlib costs start-up time).
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from minitrain._records import Parser, Record, Totals

VERSION = 1
TAIL = 4096
# Saved once a reader has parsed this many bytes past it: a fresh process then parses at most
# ~64 KiB (a few hundred lines, milliseconds) beyond it, and writers rarely pay for the save.
EVERY = 64 * 1024


def load(path: Path, *, fd: int, stat: os.stat_result, location: str) -> Parser | None:
    """A parser positioned at the checkpoint's end, or None if it cannot be trusted."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        body, digest = data["body"], data["crc32"]
        if _digest(body) != digest or body["v"] != VERSION:
            return None
        size = int(body["size"])
        if (body["dev"], body["ino"]) != (stat.st_dev, stat.st_ino) or stat.st_size < size:
            return None
        if stat.st_size == size and body["ctime_ns"] != stat.st_ctime_ns:
            return None
        if _tail_hash(fd, size) != body["tail_crc32"]:
            return None
        totals = Totals(
            Decimal(body["reserved"]),
            {lab: Decimal(v) for lab, v in body["charged_by_lab"].items()},
            {op["id"]: _record(op) for op in body["open"]},
        )
        return Parser(
            location, keep_records=False, totals=totals, size=size, lines=int(body["lines"])
        )
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError):
        return None


def save(path: Path, parser: Parser, *, fd: int, stat: os.stat_result) -> None:
    """Write the checkpoint atomically; a failure only costs the next reader a full parse."""
    totals = parser.totals
    body = {
        "v": VERSION,
        "dev": stat.st_dev,
        "ino": stat.st_ino,
        "size": parser.size,
        "ctime_ns": stat.st_ctime_ns if stat.st_size == parser.size else None,
        "tail_crc32": _tail_hash(fd, parser.size),
        "lines": parser.lines,
        "reserved": str(totals.reserved),
        "charged_by_lab": {lab: str(v) for lab, v in totals.charged_by_lab.items()},
        "open": [
            {
                "id": r.id,
                "ts": r.ts.isoformat(),
                "op_label": r.op_label,
                "lab": r.lab,
                "estimated": str(r.estimated),
                "line": r.line,
            }
            for r in totals.open_ops.values()
        ],
    }
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        temp.write_text(json.dumps({"body": body, "crc32": _digest(body)}), encoding="utf-8")
        temp.replace(path)


def _record(op: dict[str, object]) -> Record:
    return Record(
        id=str(op["id"]),
        ts=datetime.fromisoformat(str(op["ts"])),
        kind="authorize",
        op_label=str(op["op_label"]),
        estimated=Decimal(str(op["estimated"])),
        lab=None if op["lab"] is None else str(op["lab"]),
        line=int(str(op["line"])),
    )


def _tail_hash(fd: int, size: int) -> str:
    start = max(0, size - TAIL)
    return f"{zlib.crc32(os.pread(fd, size - start, start)):08x}"


def _digest(body: object) -> str:
    return f"{zlib.crc32(json.dumps(body, sort_keys=True).encode()):08x}"
