"""Codec study: how near the floor can reading a ledger line get, with every check kept?

    .venv/bin/python benchmarks/codec.py [--lines 1000000] [--runs 3]

On the big ledger of ``bench.py`` (authorize/actual pairs written by the project's encoder) it
times, each in a fresh process (so peak RSS is its own):

* ``floor``: ``json.loads`` + ``zlib.crc32`` per line, checking nothing;
* ``current``: the project's parser as a cold ``budget status`` runs it (totals only);
* ``tuned``: the prototype below on the standard library: one shared ``JSONDecoder``, the CRC
  checked by slicing the sealed suffix, amounts parsed once per distinct text and summed as
  integer cents, closed operations kept as line numbers, not records, the file read in blocks;
* ``msgspec`` (when installed): the same, decoding each line into a typed ``Struct`` first and
  handing any line it cannot type to the stdlib path.

Before timing, every prototype must agree with the current parser (the same totals, and the same
problems, line and reason, on every ledger in ``tests/data/ledgers`` and on mutated lines).

The stdlib prototype (:class:`Tally`) has since moved into the ledger codec
(``minitrain.ledger.entries.Parser``, issue 13): ``current`` is now that parser, and ``tuned``
stays as the study's reference for the msgspec variant, which subclasses it.
"""

from __future__ import annotations

import argparse
import json
import json.scanner
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from bench import big_ledger

from minitrain.errors import InputError
from minitrain.money import parse_usd

REPO = Path(__file__).resolve().parent.parent
CURRENCY = "USD"
BLOCK = 1 << 20  # read the file 1 MiB at a time: memory stays flat whatever its size

# --- the prototype codec ---------------------------------------------------------------------

# `seal` ends every line with ,"crc32":"<8 lowercase hex>"} : a fixed 20-byte suffix.
_SUFFIX = b',"crc32":"%08x"}'
_SEALED = len(_SUFFIX % 0)
_CRC_FIELD = re.compile(rb',"crc32":"([0-9a-f]{8})"}$')  # only to word a failure
_KINDS = {
    "authorize": frozenset({"id", "ts", "kind", "op_label", "lab", "estimated", "currency"}),
    "actual": frozenset(
        {"id", "ts", "kind", "op_label", "lab", "op_id", "estimated", "actual", "currency"}
    ),
    "void": frozenset({"id", "ts", "kind", "op_label", "voids", "reason", "currency"}),
}
_SEALED_KEYS = {kind: keys | {"crc32"} for kind, keys in _KINDS.items()}


class BadLine(Exception):
    pass


def check_crc(raw: bytes) -> None:
    """The line's last field is the CRC-32 of the line without it, as ``seal`` writes it."""
    if raw[-_SEALED:] == _SUFFIX % zlib.crc32(b"}", zlib.crc32(raw[:-_SEALED])):
        return  # one slice and one compare; the regex below only words a failure
    if _CRC_FIELD.search(raw) is None:
        raise BadLine("no crc32 field at the end of the line; not written by this tool")
    raise BadLine("crc32 does not match the line's bytes: the line was changed")


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not an amount")


# One decoder for every line (json.loads(..., parse_float=...) builds a new one per call), and
# its scanner called directly: a sealed line starts with "{" and ends with "}", so the two
# whitespace regexes of JSONDecoder.decode find nothing.
_SCAN = json.scanner.make_scanner(  # type: ignore[attr-defined]
    json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constants)
)


def decode_fields(raw: bytes) -> dict[str, Any]:
    try:
        line = raw.decode()
        fields, end = _SCAN(line, 0)
        if end != len(line):
            raise ValueError("more after the object")
    except (StopIteration, ValueError, UnicodeDecodeError):
        try:  # whatever json.loads on the bytes makes of it, worded as it words it
            fields = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadLine(f"not valid JSON ({exc})") from None
    if type(fields) is not dict:
        raise BadLine("not a JSON object")
    kind = fields.get("kind")
    expected = _SEALED_KEYS.get(kind) if type(kind) is str else None
    if expected is None:
        raise BadLine(f"unknown kind {kind!r}; expected authorize, actual or void")
    if fields.keys() != expected:  # the CRC check guarantees a crc32 key
        keys, fields_of_kind = set(fields) - {"crc32"}, _KINDS[kind]
        missing, extra = sorted(fields_of_kind - keys), sorted(keys - fields_of_kind)
        raise BadLine(f"fields do not match a {kind} line (missing {missing}, unknown {extra})")
    return fields


_CENTS: dict[str, int] = {}  # an amount's text -> whole cents: a ledger repeats a few amounts


def cents(value: object, what: str) -> int:
    """``parse_usd`` (every check), once per distinct text; as exact integer cents."""
    if type(value) is str:
        hit = _CENTS.get(value)
        if hit is not None:
            return hit
    try:
        number = int(parse_usd(value, what=what).scaleb(2))
    except InputError as exc:
        raise BadLine(str(exc)) from None
    if type(value) is str and len(_CENTS) < 4096:
        _CENTS[value] = number
    return number


def text(value: object, key: str) -> str:
    if type(value) is not str or not value:
        raise BadLine(f"{key} must be a non-empty string")
    return value


def timestamp(value: object) -> datetime:
    try:
        ts = datetime.fromisoformat(text(value, "ts"))
    except ValueError:
        raise BadLine(f"ts {value!r} is not an ISO-8601 timestamp") from None
    # a parsed text ending in "+00:00" has that offset: only other texts need the call
    if not value.endswith("+00:00") and ts.utcoffset() is None:  # type: ignore[attr-defined]
        raise BadLine(f"ts {value!r} has no UTC offset")
    return ts


class Tally:
    """Totals-only reading (what a guard decides on), with the current parser's every check.

    Open authorizations keep what a checkpoint saves; closed ones only the line that closed them
    (for the "already closed on line N" message); every id is kept to refuse a duplicate. No
    record object is made per line.
    """

    def __init__(self, location: str) -> None:
        self.location = location
        self.reserved = 0  # cents
        self.charged: dict[str, int] = {}  # lab ("" = none) -> cents
        self.open: dict[str, tuple[object, str, object, int, int]] = {}  # ts, label, lab, ¢, line
        # Every id seen -> 0, or for a closed authorization the line that closed it: one table
        # instead of a set of ids beside a dict of closed operations (~40 MiB less at 1M lines).
        self.ids: dict[str, int] = {}
        self.voids: list[tuple[int, object]] = []
        self.problems: list[Problem] = []
        self.lines = 0
        self.size = 0

    def read(self, path: Path) -> None:
        for raw, torn in lines_of(path):
            self.lines += 1
            try:
                if torn:
                    raise BadLine("torn last line: no newline at its end (a crash mid-write?)")
                self.take(raw, self.lines)
            except BadLine as exc:
                crc = f"{zlib.crc32(raw):08x}"
                self.problems.append(Problem(self.lines, self.size, len(raw), crc, str(exc)))
            self.size += len(raw) + (not torn)
        self._apply_voids()

    def take(self, raw: bytes, number: int) -> None:
        check_crc(raw)
        self.take_fields(decode_fields(raw), number)

    def take_fields(self, fields: dict[str, Any], number: int) -> None:
        get = fields.get
        kind = get("kind")
        if kind == "void":
            self.void(get("id"), get("ts"), get("currency"), get("voids"), number)
            return
        self.apply(
            kind, get("id"), get("ts"), get("currency"), get("op_label"), get("lab"),
            get("op_id"), get("estimated"), get("actual"), number,
        )  # fmt: skip

    def _common(self, record_id: object, ts: object, currency: object) -> str:
        if type(record_id) is not str or not record_id:
            raise BadLine("id must be a non-empty string")
        if record_id in self.ids:
            raise BadLine(f"duplicate id {record_id}")
        if currency != CURRENCY:
            raise BadLine(f"currency {currency!r}; this ledger is in {CURRENCY}")
        timestamp(ts)
        return record_id

    def void(self, record_id: object, ts: object, currency: object, voids: object, n: int) -> None:
        record_id = self._common(record_id, ts, currency)
        if type(voids) is not dict:
            raise BadLine("void line without an {offset, length, crc32} object")
        self.ids[record_id] = 0
        self.voids.append((n, voids))

    def apply(  # noqa: PLR0917 - one decoded line, field by field
        self, kind: str, record_id: object, ts: object, currency: object, op_label: object,
        lab: object, op_id: object, estimated: object, actual: object, number: int,
    ) -> None:  # fmt: skip
        """One authorize or actual line, decoded by any decoder, into the totals."""
        record_id = self._common(record_id, ts, currency)
        if lab is not None and type(lab) is not str:
            raise BadLine("lab must be a string or null")
        if op_id is not None and type(op_id) is not str:
            raise BadLine("op_id must be a string or null")
        label = text(op_label, "op_label")
        estimate = None if estimated is None else cents(estimated, "estimated")
        if kind == "authorize":
            if estimate is None:
                raise BadLine("an authorize line needs an estimated amount")
            self.ids[record_id] = 0
            self.open[record_id] = (ts, label, lab, estimate, number)
            self.reserved += estimate
            self._charge(lab, estimate)
            return
        spent = cents(actual, "actual")
        if op_id is None:
            self.ids[record_id] = 0
            self._charge(lab, spent)
            return
        self._close(op_id, label, number)  # type: ignore[arg-type]
        self.ids[record_id] = 0
        opened = self.open.pop(op_id)  # type: ignore[arg-type]
        self.reserved -= opened[3]
        self._charge(opened[2], spent - opened[3])

    def _close(self, op_id: str, label: str, number: int) -> None:
        closed_on = self.ids.get(op_id)
        if closed_on:
            raise BadLine(f"authorization {op_id} already closed on line {closed_on}")
        opened = self.open.get(op_id)
        if opened is None:
            raise BadLine(f"closes authorization {op_id}, which is not open on an earlier line")
        if opened[1] != label:
            raise BadLine(f"closes authorization {op_id} of another label")
        self.ids[op_id] = number

    def _charge(self, lab: object, amount: int) -> None:
        key = lab or ""
        self.charged[key] = self.charged.get(key, 0) + amount  # type: ignore[index]

    def _apply_voids(self) -> None:
        for line, voids in self.voids:
            assert isinstance(voids, dict)
            names = (voids.get("offset"), voids.get("length"), voids.get("crc32"))
            match = next((p for p in self.problems if (p.offset, p.length, p.crc32) == names), None)
            if match is None:
                reason = "void line names no bad line (offset, length and crc32)"
                self.problems.append(Problem(line, 0, 0, "", reason))
            else:
                self.problems.remove(match)
        self.problems.sort(key=lambda p: p.line)

    def totals(self) -> tuple[Decimal, dict[str, Decimal], list[str]]:
        """As the current parser's Totals: reserved, charged per lab, open authorization ids."""
        charged = {lab: Decimal(c).scaleb(-2) for lab, c in self.charged.items()}
        return Decimal(self.reserved).scaleb(-2), charged, list(self.open)


class Problem(NamedTuple):
    line: int
    offset: int
    length: int
    crc32: str
    reason: str


def lines_of(path: Path) -> Iterator[tuple[bytes, bool]]:
    """Each line without its newline, and whether it is a torn last line (no newline)."""
    with path.open("rb") as f:
        rest = b""
        while block := f.read(BLOCK):
            *whole, rest = (rest + block).split(b"\n")
            for raw in whole:
                yield raw, False
        if rest:
            yield rest, True


def msgspec_tally() -> type[Tally] | None:
    """A Tally that decodes each line into a typed Struct first (None: msgspec not installed).

    Any line the Structs cannot type (a void, a number for an amount, a missing field) goes down
    the stdlib path, which words every failure exactly as the current parser does.
    """
    try:
        import msgspec
    except ImportError:
        return None

    class Authorize(msgspec.Struct, tag_field="kind", tag="authorize", forbid_unknown_fields=True):
        id: str
        ts: str
        op_label: str
        lab: str | None
        estimated: str | None
        currency: str
        crc32: str

    class Actual(msgspec.Struct, tag_field="kind", tag="actual", forbid_unknown_fields=True):
        id: str
        ts: str
        op_label: str
        lab: str | None
        op_id: str | None
        estimated: str | None
        actual: str
        currency: str
        crc32: str

    decode = msgspec.json.Decoder(Authorize | Actual).decode
    typed_error = msgspec.MsgspecError

    class MsgspecTally(Tally):
        def take(self, raw: bytes, number: int) -> None:
            check_crc(raw)
            try:
                line = decode(raw)
            except typed_error:
                self.take_fields(decode_fields(raw), number)
                return
            if type(line) is Authorize:
                self.apply(
                    "authorize", line.id, line.ts, line.currency, line.op_label, line.lab,
                    None, line.estimated, None, number,
                )  # fmt: skip
            else:
                self.apply(
                    "actual", line.id, line.ts, line.currency, line.op_label, line.lab,
                    line.op_id, line.estimated, line.actual, number,
                )  # fmt: skip

    return MsgspecTally


# --- the contenders, each run in a fresh process ---------------------------------------------


def _current_parser() -> Any:
    # The parser the project ships (update this line if it moves again).
    from minitrain.ledger import entries

    return entries


def _shown(reserved: Decimal, charged: dict[str, Decimal], problems: object) -> object:
    """Totals as JSON-able values that compare by amount (``0`` and ``0.00`` are one total)."""
    return f"{reserved:.2f}", {lab: f"{v:.2f}" for lab, v in charged.items()}, problems


def floor(path: Path) -> object:
    with path.open("rb") as f:
        for line in f:
            json.loads(line)
            zlib.crc32(line)
    return None


def current(path: Path) -> object:
    """As a cold ``budget status`` reads today: the file in blocks, one feed."""
    codec = _current_parser()
    state = codec.Parser(str(path), keep_entries=False)
    with path.open("rb") as f:
        state.feed(codec.FileSpan(f.fileno(), 0, path.stat().st_size))
    totals = state.totals
    problems = [(p.line, p.reason) for p in state.problems]
    return _shown(totals.reserved, totals.charged_by_lab, problems)


def _prototype(tally_class: type[Tally] | None) -> Callable[[Path], object]:
    def read(path: Path) -> object:
        assert tally_class is not None
        tally = tally_class(str(path))
        tally.read(path)
        reserved, charged, _ = tally.totals()
        problems = [(p.line, p.reason) for p in tally.problems]
        return _shown(reserved, charged, problems)

    return read


CONTENDERS: dict[str, Callable[[Path], object]] = {
    "floor": floor,
    "current": current,
    "tuned": _prototype(Tally),
}
if msgspec_tally() is not None:
    CONTENDERS["msgspec"] = _prototype(msgspec_tally())


def child(name: str, path: Path) -> None:
    """Run one contender and print its figures as JSON (for the parent to collect)."""
    start_cpu, start = time.process_time(), time.perf_counter()
    result = CONTENDERS[name](path)
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"cpu": cpu, "wall": wall, "peak": peak, "result": result}))


# --- agreement with the current parser -------------------------------------------------------


def mutated_ledger(folder: Path) -> list[Path]:
    """Small ledgers, each with one line the current parser refuses (or accepts), resealed."""
    codec = _current_parser()
    auth = codec.new_entry("authorize", "lab02-a", estimated=Decimal("1.00"), lab="02")
    base = json.loads(codec.encode(auth))
    del base["crc32"]
    actual = {**base, "id": "b" * 32, "kind": "actual", "op_id": auth.id, "actual": "0.50"}
    actual = {k: actual[k] for k in [*[*base][:5], "op_id", "estimated", "actual", "currency"]}
    changes: list[dict[str, object]] = [
        {}, {"estimated": "0.001"}, {"estimated": "-1.00"}, {"estimated": 2.5},
        {"estimated": None}, {"lab": 3}, {"id": ""}, {"ts": "yesterday"},
        {"ts": "2026-11-28T20:00:00"}, {"currency": "EUR"}, {"kind": "refund"},
        {"extra": 1}, {"estimated": "$1.00"}, {"op_label": ""},
    ]  # fmt: skip
    paths = []
    for i, change in enumerate(changes):
        first, second = codec.encode(auth), codec.seal({**base, "id": f"{i:032x}", **change})
        bad = {
            "offset": len(first),
            "length": len(second) - 1,
            "crc32": f"{zlib.crc32(second[:-1]):08x}",
        }
        void = {**base, "kind": "void", "id": "e", "voids": bad, "reason": "test"}
        del void["lab"], void["estimated"]
        lines = [first, second, codec.seal({**actual, "id": "d", "op_label": "other"})]
        lines += [codec.seal(actual), codec.seal(actual), codec.seal({**actual, "id": "c"})]
        lines += [codec.seal({**actual, "id": "f", "op_id": None}), codec.seal(void)]
        path = folder / f"mutated-{i}.jsonl"
        path.write_bytes(b"".join(lines) + b'{"torn')
        paths.append(path)
    return paths


def agree(folder: Path) -> None:
    corpus = sorted((REPO / "tests/data/ledgers").rglob("*.jsonl")) + mutated_ledger(folder)
    for path in corpus:
        expected = current(path)
        for name, read in CONTENDERS.items():
            if name not in {"floor", "current"} and read(path) != expected:
                raise SystemExit(f"{name} disagrees with the current parser on {path}:\n"
                                 f"  {read(path)}\n  {expected}")  # fmt: skip
    print(f"every prototype agrees with the current parser on {len(corpus)} ledgers"
          " (totals, and each problem's line and reason)")  # fmt: skip


# --- main ------------------------------------------------------------------------------------


def measure(path: Path, runs: int, lines: int) -> None:
    figures: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    for _ in range(runs):  # rounds, so noise hits every contender alike
        for name in CONTENDERS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, str(path)],
                capture_output=True, check=True, text=True,
            )  # fmt: skip
            figures[name].append(json.loads(out.stdout))
    results = {name: runs_[0]["result"] for name, runs_ in figures.items() if name != "floor"}
    if len({json.dumps(r, sort_keys=True) for r in results.values()}) != 1:
        raise SystemExit(f"the contenders disagree on the totals: {results}")
    base = statistics.median(r["cpu"] for r in figures["floor"])
    print(f"\n{lines:,} lines, {runs} runs each (CPU time of the parse; peak RSS of the process)")
    print(f"  {'contender':<10} {'median':>11} {'min':>11} {'vs floor':>9} {'peak RSS':>9}")
    for name, runs_ in figures.items():
        cpu = [r["cpu"] for r in runs_]
        per_line = [c / lines * 1e6 for c in cpu]
        peak = max(r["peak"] for r in runs_) / (1 << 20)
        print(
            f"  {name:<10} {statistics.median(per_line):6.2f} µs/l {min(per_line):6.2f} µs/l"
            f" {statistics.median(cpu) / base:8.2f}x {peak:6.0f} MiB"
        )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}; python {sys.version.split()[0]};"
          f" contenders: {', '.join(CONTENDERS)}")  # fmt: skip

    with tempfile.TemporaryDirectory() as folder:
        agree(Path(folder))
    measure(big_ledger(args.lines), args.runs, args.lines)


if __name__ == "__main__":
    main()
