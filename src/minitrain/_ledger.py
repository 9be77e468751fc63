"""Where the spend ledger lives: the append-only JSONL file (and an in-memory twin for test mode).

This module knows bytes, locks and lines; ``budget_guard`` knows what they mean for the budget.
The rules it keeps (measured, see ``shared/LEDGER-NOTES.md``):

* One exclusive ``flock`` on a separate ``<ledger>.lock`` file around read -> decide -> append.
  Not the ledger itself: ``git pull`` replaces the ledger's inode, and a lock on the old inode
  excludes nobody. Not ``lockf``: closing any descriptor of the file drops every POSIX lock.
* Each line goes out in one ``os.write`` of the whole line, then ``fsync``; the directory is
  fsynced when the file is created. A buffered ``json.dump`` tore the last line in 199/200 kills.
* Nothing is ever truncated or rewritten. A torn last line (a crash mid-write) is voided by
  *appending* a newline and a ``void`` line naming its byte range; only a lock holder may do it.
* Every line carries a CRC-32 of its own bytes, so a flipped digit that is still JSON is caught.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, Protocol

from minitrain.errors import InputError, LedgerError
from minitrain.money import parse_usd

CURRENCY = "USD"
_TAIL_CHECK = 4096  # bytes before the cached end re-read to see that the prefix is unchanged
_CRC_SUFFIX = re.compile(rb',"crc32":"([0-9a-f]{8})"}$')
_FIELDS = {
    "authorize": {"id", "ts", "kind", "op_label", "lab", "estimated", "currency"},
    "actual": {"id", "ts", "kind", "op_label", "op_id", "estimated", "actual", "currency"},
    "void": {"id", "ts", "kind", "op_label", "voids", "reason", "currency"},
}


@dataclass(frozen=True)
class Record:
    """One authorization or one recorded actual, as read from (or about to go to) the ledger."""

    id: str
    ts: datetime
    kind: Literal["authorize", "actual"]
    op_label: str
    estimated: Decimal | None  # authorize: the reservation; actual: the one it replaces, if any
    actual: Decimal | None = None
    op_id: str | None = None  # actual: the authorization it closes (None: nothing was open)
    lab: str | None = None
    line: int = 0  # 1-based line number in the file; 0 until written


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
    """Everything the ledger held at one moment."""

    records: tuple[Record, ...]
    problems: tuple[Problem, ...]
    location: str
    lines: int = 0  # lines in the file, a torn tail included

    def require_clean(self) -> None:
        """Fail closed: the guard may not decide anything over a ledger with bad lines."""
        if not self.problems:
            return
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        if first.torn and len(self.problems) == 1:
            hint = "run `budget repair` to void it by appending (nothing is deleted)"
        else:
            hint = "run `budget verify` to list every bad line, then see the README's Repair"
        raise LedgerError(f"{self.location}:{first.line}: {first.reason}{more}; {hint}")


class Ledger(Protocol):
    """The seam between the guard's rules and where the lines live (a file; later a database)."""

    location: str

    def read(self) -> Snapshot: ...

    def transaction(self) -> contextlib.AbstractContextManager[tuple[Snapshot, Appender]]: ...


Appender = Callable[[Record], Record]


def new_record(
    kind: Literal["authorize", "actual"],
    op_label: str,
    *,
    estimated: Decimal | None,
    actual: Decimal | None = None,
    op_id: str | None = None,
    lab: str | None = None,
) -> Record:
    return Record(
        id=uuid.uuid4().hex,
        ts=datetime.now(UTC),
        kind=kind,
        op_label=op_label,
        estimated=estimated,
        actual=actual,
        op_id=op_id,
        lab=lab,
    )


def encode(record: Record) -> bytes:
    """The record as one complete ledger line (with its CRC and newline)."""
    fields: dict[str, object] = {
        "id": record.id,
        "ts": record.ts.isoformat(timespec="microseconds"),
        "kind": record.kind,
        "op_label": record.op_label,
    }
    if record.kind == "authorize":
        fields["lab"] = record.lab
        fields["estimated"] = _amount(record.estimated)
    else:
        fields["op_id"] = record.op_id
        fields["estimated"] = _amount(record.estimated)
        fields["actual"] = _amount(record.actual)
    fields["currency"] = CURRENCY
    return _seal(fields)


def _seal(fields: dict[str, object]) -> bytes:
    body = json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()
    crc = zlib.crc32(body)
    return body[:-1] + b',"crc32":"%08x"}\n' % crc


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class JsonlLedger:
    """The default: ``spend.jsonl``, appended under a lock, never edited."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._cache: _Parser | None = None
        self._cache_identity: tuple[int, int] = (0, 0)
        self._cache_tail = b""

    def read(self) -> Snapshot:
        """What the ledger holds, read under a shared lock so a line being appended is not torn."""
        if not self.path.exists():
            return self._read()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only copy (someone else's ledger): nobody writes it here
            return self._read()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return self._read()
        finally:
            os.close(fd)

    def _read(self) -> Snapshot:
        """Parse the file, or only what was appended since this object last read a clean file.

        The cached prefix is trusted only while the file is the same inode, no shorter, and its
        last cached bytes are unchanged; anything else (a `git checkout`, a truncation, an edit
        near the end) is parsed again from the start. A file with a bad line is never cached.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._cache = None
            return parse(b"", location=self.location)
        except OSError as exc:
            raise LedgerError(f"{self.path}: cannot read the ledger: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
            identity = (info.st_dev, info.st_ino)
            state, tail = self._cache, self._cache_tail
            if state is None or not self._prefix_unchanged(fd, state, identity, info.st_size):
                state, tail = _Parser(self.location), b""
            new = os.pread(fd, info.st_size - state.size, state.size)
        finally:
            os.close(fd)
        state.feed(new)
        self._cache = None if state.problems else state
        self._cache_identity, self._cache_tail = identity, (tail + new)[-_TAIL_CHECK:]
        return state.snapshot()

    def _prefix_unchanged(
        self, fd: int, state: _Parser, identity: tuple[int, int], size: int
    ) -> bool:
        if identity != self._cache_identity or size < state.size:
            return False
        start = max(0, state.size - _TAIL_CHECK)
        return os.pread(fd, state.size - start, start) == self._cache_tail

    @contextlib.contextmanager
    def transaction(self) -> Iterator[tuple[Snapshot, Appender]]:
        """Hold the lock; yield what the ledger holds now and a function that appends one line."""
        with self._locked():
            snapshot = self._read()
            next_line = snapshot.lines + 1

            def append(record: Record) -> Record:
                nonlocal next_line
                snapshot.require_clean()  # appending after a torn tail would glue onto it
                self._write(encode(record))
                next_line += 1
                return replace(record, line=next_line - 1)

            yield snapshot, append

    def repair(self, *, line: int | None = None, reason: str) -> tuple[Problem, bool]:
        """Void one bad line by appending; by default the torn last line.

        Returns the line and whether it was kept instead (complete but for its newline).

        Only a torn tail is voided without naming it: a bad line followed by good ones is not a
        crash, and a person must say which line and why (``line`` and ``reason``).
        """
        with self._locked():
            snapshot = self._read()
            if not snapshot.problems:
                raise InputError(f"{self.path}: every line is sound; there is nothing to repair")
            if line is None:
                tail = snapshot.problems[-1]
                if not tail.torn:
                    raise LedgerError(
                        f"{self.path}:{tail.line}: {tail.reason}; this is not a torn last line,"
                        " so it is not repaired without a person: read it, then run"
                        f" `budget repair --line {tail.line} --reason '...'`"
                    )
                target = tail
            else:
                matches = [p for p in snapshot.problems if p.line == line]
                if not matches:
                    raise InputError(f"{self.path}:{line}: that line is not a bad line")
                target = matches[0]
            if target.torn and not parse(self.path.read_bytes() + b"\n", location="").problems:
                # Complete but for its newline: keeping it only adds the reservation or the
                # actual it already says; voiding it could lose a real actual.
                self._write(b"\n")
                return target, True
            prefix = b"\n" if target.torn else b""
            fields: dict[str, object] = {
                "id": uuid.uuid4().hex,
                "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                "kind": "void",
                "op_label": "ledger-repair",
                "voids": {"offset": target.offset, "length": target.length, "crc32": target.crc32},
                "reason": reason,
                "currency": CURRENCY,
            }
            self._write(prefix + _seal(fields))
            return target, False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _write(self, line: bytes) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise LedgerError(
                    f"{self.path}: only {written} of {len(line)} bytes were written (disk full?);"
                    " nothing was authorized; free space, then run `budget repair`"
                )
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)


class MemoryLedger:
    """``BUDGET_GUARD_TEST_MODE=1``: starts from the file (if any), then writes nothing to disk."""

    def __init__(self, path: Path) -> None:
        self.location = f"{path} (test mode: in memory)"
        try:
            self._data = parse(Path(path).read_bytes(), location=self.location)
        except FileNotFoundError:
            self._data = parse(b"", location=self.location)
        self._lock = threading.Lock()

    def read(self) -> Snapshot:
        return self._data

    @contextlib.contextmanager
    def transaction(self) -> Iterator[tuple[Snapshot, Appender]]:
        with self._lock:

            def append(record: Record) -> Record:
                self._data.require_clean()
                data = self._data
                written = replace(record, line=data.lines + 1)
                self._data = Snapshot(
                    (*data.records, written), data.problems, self.location, data.lines + 1
                )
                return written

            yield self._data, append


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading ---------------------------------------------------------------------------------


class _BadLine(Exception):
    pass


@dataclass
class _Parser:
    """Parse state that can continue where it stopped, so a growing file is read once."""

    location: str
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    voids: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    open_ops: dict[str, Record] = field(default_factory=dict)
    closed_ops: dict[str, Record] = field(default_factory=dict)
    size: int = 0  # bytes consumed
    lines: int = 0

    def feed(self, data: bytes) -> None:
        """Take the bytes that follow the ones already fed (the file from ``self.size`` on)."""
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
        return Snapshot(tuple(self.records), tuple(self.problems), self.location, self.lines)


def parse(data: bytes, *, location: str) -> Snapshot:
    """Every line of a ledger file, checked; bad lines become :class:`Problem` s, never guesses."""
    state = _Parser(location)
    state.feed(data)
    return state.snapshot()


def _apply_voids(state: _Parser) -> None:
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


def _take(state: _Parser, raw: bytes, number: int) -> None:
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
    record_id = _text(fields, "id")
    if record_id in state.ids:
        raise _BadLine(f"duplicate id {record_id}")
    if fields["currency"] != CURRENCY:
        raise _BadLine(f"currency {fields['currency']!r}; this ledger is in {CURRENCY}")
    ts = _timestamp(fields)
    if kind == "void":
        if not isinstance(fields["voids"], dict):
            raise _BadLine("void line without an {offset, length, crc32} object")
        state.ids.add(record_id)
        state.voids.append((number, fields["voids"]))
        return
    record = _record(fields, kind, record_id, ts, number)
    _link(state, record)
    state.ids.add(record_id)
    state.records.append(record)


def _record(fields: dict[str, object], kind: str, record_id: str, ts: datetime, n: int) -> Record:
    try:
        if kind == "authorize":
            estimated = parse_usd(fields["estimated"], what="estimated")
            lab = fields["lab"]
            if lab is not None and not isinstance(lab, str):
                raise _BadLine("lab must be a string or null")
            return Record(
                record_id, ts, "authorize", _text(fields, "op_label"), estimated, lab=lab, line=n
            )
        op_id = fields["op_id"]
        if op_id is not None and not isinstance(op_id, str):
            raise _BadLine("op_id must be a string or null")
        reserved = fields["estimated"]
        return Record(
            record_id,
            ts,
            "actual",
            _text(fields, "op_label"),
            None if reserved is None else parse_usd(reserved, what="estimated"),
            actual=parse_usd(fields["actual"], what="actual"),
            op_id=op_id,
            line=n,
        )
    except InputError as exc:
        raise _BadLine(str(exc)) from None


def _link(state: _Parser, record: Record) -> None:
    """An actual must close an open authorization with its label, once."""
    if record.kind == "authorize":
        state.open_ops[record.id] = record
        return
    if record.op_id is None:
        return
    if record.op_id in state.closed_ops:
        first = state.closed_ops[record.op_id]
        raise _BadLine(f"authorization {record.op_id} already closed on line {first.line}")
    opened = state.open_ops.pop(record.op_id, None)
    if opened is None:
        raise _BadLine(f"closes authorization {record.op_id}, which no earlier line holds")
    if opened.op_label != record.op_label:
        raise _BadLine(f"closes authorization {record.op_id} of another label")
    state.closed_ops[record.op_id] = record


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
