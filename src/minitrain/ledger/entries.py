"""The ledger's lines: what an entry is, how it is written as one line, and how lines are read.

Reading folds every line into :class:`Totals` (what the guard decides on) and, when asked, keeps
the entries themselves (what ``budget status --all`` and ``budget report`` list). A bad line is a
:class:`Problem` with its line number, never a guess.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from minitrain.errors import InputError, LedgerError
from minitrain.ledger.totals import Totals
from minitrain.money import parse_usd

CURRENCY = "USD"
_CRC_SUFFIX = re.compile(rb',"crc32":"([0-9a-f]{8})"}$')
_FIELDS = {
    "authorize": {"id", "ts", "kind", "op_label", "lab", "estimated", "currency"},
    "actual": {"id", "ts", "kind", "op_label", "lab", "op_id", "estimated", "actual", "currency"},
    "void": {"id", "ts", "kind", "op_label", "voids", "reason", "currency"},
}


Kind = Literal["authorize", "actual", "void"]


@dataclass(frozen=True)
class Voided:
    """What a ``void`` entry takes out of the books: one bad line, by its bytes."""

    offset: int
    length: int
    crc32: str


@dataclass(frozen=True)
class Entry:
    """One line of the ledger: an authorization, a recorded actual, or a void (which names a
    bad line it takes out of the books; it counts nothing itself)."""

    id: str
    ts: datetime
    kind: Kind
    op_label: str
    estimated: Decimal | None  # authorize: the reservation; actual: the one it replaces, if any
    actual: Decimal | None = None
    op_id: str | None = None  # actual: the authorization it closes (None: nothing was open)
    lab: str | None = None
    line: int = 0  # 1-based line number in the file; 0 until written
    voids: Voided | None = None  # void: the bad line
    reason: str | None = None  # void: why a person (or repair) voided it


@dataclass(frozen=True)
class Problem:
    """A line that cannot be trusted, with where it is and what to do about it."""

    line: int
    offset: int
    length: int
    reason: str
    torn: bool = False  # the last line, without its newline: a crash mid-write
    crc32: str = ""
    looks_like: str = ""  # for a torn line: what it seems to have been (never trusted)


@dataclass(frozen=True)
class Snapshot:
    """What the ledger held at one moment: always its totals, and its entries if asked for."""

    totals: Totals
    problems: tuple[Problem, ...]
    location: str
    lines: int = 0  # lines in the file, a torn tail included
    entries: tuple[Entry, ...] | None = None  # None: read from a checkpoint, totals only
    repair_hint: str = "run `budget repair` to void it by appending (nothing is deleted)"

    def require_clean(self) -> None:
        """Fail closed: the guard may not decide anything over a ledger with bad lines."""
        if not self.problems:
            return
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        if first.torn and len(self.problems) == 1:
            hint = self.repair_hint
        else:
            hint = "run `budget verify` to list every bad line, then see the README's Repair"
        raise LedgerError(f"{self.location}:{first.line}: {first.reason}{more}; {hint}")


def new_entry(
    kind: Kind,
    op_label: str,
    *,
    estimated: Decimal | None,
    actual: Decimal | None = None,
    op_id: str | None = None,
    lab: str | None = None,
    entry_id: str | None = None,
    voids: Voided | None = None,
    reason: str | None = None,
) -> Entry:
    return Entry(
        id=entry_id or new_id(),
        ts=datetime.now(UTC),
        kind=kind,
        op_label=op_label,
        estimated=estimated,
        actual=actual,
        op_id=op_id,
        lab=lab,
        voids=voids,
        reason=reason,
    )


def void_of(bad: Problem, reason: str) -> Entry:
    """The entry that voids one bad line (appended by ``budget repair``; nothing is deleted)."""
    span = Voided(bad.offset, bad.length, bad.crc32)
    return new_entry("void", "ledger-repair", estimated=None, voids=span, reason=reason)


def new_id() -> str:
    """A line's id: 128 random bits, as uuid4 (whose import costs start-up)."""
    return os.urandom(16).hex()


def encode(entry: Entry) -> bytes:
    """The entry as one complete ledger line (with its CRC and newline)."""
    fields: dict[str, object] = {
        "id": entry.id,
        "ts": entry.ts.isoformat(timespec="microseconds"),
        "kind": entry.kind,
        "op_label": entry.op_label,
    }
    if entry.kind == "void":
        assert entry.voids is not None and entry.reason is not None
        v = entry.voids
        fields["voids"] = {"offset": v.offset, "length": v.length, "crc32": v.crc32}
        fields["reason"] = entry.reason
        fields["currency"] = CURRENCY
        return seal(fields)
    fields["lab"] = entry.lab
    if entry.kind == "actual":
        fields["op_id"] = entry.op_id
    fields["estimated"] = _amount(entry.estimated)
    if entry.kind == "actual":
        fields["actual"] = _amount(entry.actual)
    fields["currency"] = CURRENCY
    return seal(fields)


def seal(fields: dict[str, object]) -> bytes:
    """A line from its fields: compact JSON, then a CRC-32 of those bytes as the last field."""
    body = json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()
    crc = zlib.crc32(body)
    return body[:-1] + b',"crc32":"%08x"}\n' % crc


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --- reading ---------------------------------------------------------------------------------


class _BadLine(Exception):
    pass


@dataclass
class Parser:
    """Parse state that can continue where it stopped, so a growing file is read once.

    ``keep_entries`` keeps every entry (for listings); without it only the totals grow.
    A parser may start from a checkpoint's totals (``size`` and ``lines`` set to where the
    checkpoint ends); ids and closed operations are then known only from there on.
    """

    location: str
    keep_entries: bool = True
    totals: Totals = field(default_factory=Totals)
    size: int = 0  # bytes consumed
    lines: int = 0
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    voids: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    closed_ops: dict[str, Entry] = field(default_factory=dict)
    digest: Any = None  # a running hash of every byte fed (for the checkpoint), if kept

    def feed(self, data: bytes) -> None:
        """Take the bytes that follow the ones already fed (the file from ``self.size`` on)."""
        if self.digest is not None:
            self.digest.update(data)
        offset = 0
        while offset < len(data):
            self.lines += 1
            end = data.find(b"\n", offset)
            torn = end == -1
            raw = data[offset:] if torn else data[offset:end]
            try:
                if torn:
                    raise _BadLine("torn last line: no newline at its end (a crash mid-write?)")
                _take(self, raw, self.lines)
            except _BadLine as exc:
                crc = f"{zlib.crc32(raw):08x}"
                looks_like = _describe_torn(raw) if torn else ""
                self.problems.append(
                    Problem(
                        self.lines, self.size + offset, len(raw), str(exc), torn, crc, looks_like
                    )
                )
            offset = len(data) if torn else end + 1
        self.size += len(data)
        _apply_voids(self)

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.totals.copy(),
            tuple(self.problems),
            self.location,
            self.lines,
            tuple(self.entries) if self.keep_entries else None,
        )


def parse(data: bytes, *, location: str) -> Snapshot:
    """Every line of a ledger file, checked; bad lines become :class:`Problem` s, never guesses."""
    state = Parser(location)
    state.feed(data)
    return state.snapshot()


def _apply_voids(state: Parser) -> None:
    for line, voids in state.voids:
        match = next(
            (
                p
                for p in state.problems
                if p.offset == voids.get("offset")
                and p.length == voids.get("length")
                and p.crc32 == voids.get("crc32")
            ),
            None,
        )
        if match is None:
            state.problems.append(
                Problem(line, 0, 0, "void line names no bad line (offset, length and crc32)")
            )
        else:
            state.problems.remove(match)
    state.voids.clear()
    state.problems.sort(key=lambda p: p.line)


def _take(state: Parser, raw: bytes, number: int) -> None:
    match = _CRC_SUFFIX.search(raw)
    if match is None:
        raise _BadLine("no crc32 field at the end of the line; not written by this tool")
    body = raw[: match.start()] + b"}"
    if f"{zlib.crc32(body):08x}".encode() != match.group(1):
        raise _BadLine("crc32 does not match the line's bytes: the line was changed")
    try:
        fields = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadLine(f"not valid JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise _BadLine("not a JSON object")
    kind = fields.get("kind")
    expected = _FIELDS.get(kind) if isinstance(kind, str) else None
    if not isinstance(kind, str) or expected is None:
        raise _BadLine(f"unknown kind {kind!r}; expected authorize, actual or void")
    keys = set(fields) - {"crc32"}
    if keys != expected:
        missing, extra = sorted(expected - keys), sorted(keys - expected)
        raise _BadLine(f"fields do not match a {kind} line (missing {missing}, unknown {extra})")
    entry_id = _text(fields, "id")
    if entry_id in state.ids:
        raise _BadLine(f"duplicate id {entry_id}")
    if fields["currency"] != CURRENCY:
        raise _BadLine(f"currency {fields['currency']!r}; this ledger is in {CURRENCY}")
    ts = _timestamp(fields)
    if kind == "void":
        if not isinstance(fields["voids"], dict):
            raise _BadLine("void line without an {offset, length, crc32} object")
        state.ids.add(entry_id)
        state.voids.append((number, fields["voids"]))
        return
    entry = _entry(fields, kind, entry_id, ts, number)
    _link(state, entry)
    state.ids.add(entry_id)
    state.totals.fold(entry)
    if state.keep_entries:
        state.entries.append(entry)


def _entry(fields: dict[str, object], kind: str, entry_id: str, ts: datetime, n: int) -> Entry:
    lab, op_id = fields["lab"], fields.get("op_id")
    if lab is not None and not isinstance(lab, str):
        raise _BadLine("lab must be a string or null")
    if op_id is not None and not isinstance(op_id, str):
        raise _BadLine("op_id must be a string or null")
    estimated = fields["estimated"]
    try:
        return Entry(
            entry_id,
            ts,
            "authorize" if kind == "authorize" else "actual",
            _text(fields, "op_label"),
            None if estimated is None else parse_usd(estimated, what="estimated"),
            actual=None if kind == "authorize" else parse_usd(fields["actual"], what="actual"),
            op_id=op_id,
            lab=lab,
            line=n,
        )
    except InputError as exc:
        raise _BadLine(str(exc)) from None


def _link(state: Parser, entry: Entry) -> None:
    """An authorization carries its estimate; an actual closes an open one of its label, once."""
    if entry.kind == "authorize":
        if entry.estimated is None:
            raise _BadLine("an authorize line needs an estimated amount")
        return
    if entry.op_id is None:
        return
    if entry.op_id in state.closed_ops:
        first = state.closed_ops[entry.op_id]
        raise _BadLine(f"authorization {entry.op_id} already closed on line {first.line}")
    opened = state.totals.open_ops.get(entry.op_id)
    if opened is None:
        raise _BadLine(f"closes authorization {entry.op_id}, which is not open on an earlier line")
    if opened.op_label != entry.op_label:
        raise _BadLine(f"closes authorization {entry.op_id} of another label")
    state.closed_ops[entry.op_id] = entry


def _text(fields: dict[str, object], key: str) -> str:
    value = fields[key]
    if not isinstance(value, str) or not value:
        raise _BadLine(f"{key} must be a non-empty string")
    return value


def _timestamp(fields: dict[str, object]) -> datetime:
    try:
        ts = datetime.fromisoformat(_text(fields, "ts"))
    except ValueError:
        raise _BadLine(f"ts {fields['ts']!r} is not an ISO-8601 timestamp") from None
    if ts.utcoffset() is None:
        raise _BadLine(f"ts {fields['ts']!r} has no UTC offset")
    return ts


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not an amount")


def _describe_torn(data: bytes) -> str:
    """What a torn tail looked like, for the repair message (best effort, never trusted)."""
    kind = re.search(rb'"kind":"(\w+)"', data)
    label = re.search(rb'"op_label":"([^"]*)"', data)
    actual = re.search(rb'"actual":"([0-9.]+)"', data)
    parts = [
        f"kind {kind.group(1).decode()}" if kind else "",
        f"label {label.group(1).decode(errors='replace')!r}" if label else "",
        f"actual ${actual.group(1).decode()}" if actual else "",
    ]
    return ", ".join(p for p in parts if p) or "nothing readable"
