"""One ledger line as bytes: an entry encoded and sealed with its CRC-32 on the way out; on the
way in, the seal checked and the JSON decoded into fields (``parser`` checks what they say).

A line is compact JSON whose last field is ``"crc32"``: the CRC-32 of the line's bytes without
that field, so a flipped digit that is still valid JSON is caught. Amounts are strings ("3.00").
"""

from __future__ import annotations

import json
import json.scanner
import re
from decimal import Decimal

from minitrain.errors import InputError
from minitrain.ledger.entries import CURRENCY, FIELDS, LazyDatetime
from minitrain.money import parse_usd

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from minitrain.ledger.entries import Entry
else:
    datetime = LazyDatetime(globals())


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
    if entry.kind == "loss":
        assert entry.reason is not None
        fields["lab"] = entry.lab
        fields["actual"] = _amount(entry.actual)
        fields["reason"] = entry.reason
        fields["op_ids"] = list(entry.op_ids or ())
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


# json.dumps with these options makes an encoder per call: a third of the time of a line
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def seal(fields: dict[str, object]) -> bytes:
    """A line from its fields: compact JSON, then a CRC-32 of those bytes as the last field."""
    from zlib import crc32  # here and where a line is checked: an empty status checks none

    body = _ENCODER.encode(fields).encode()
    return body[:-1] + b',"crc32":"%08x"}\n' % crc32(body)


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --- reading ---------------------------------------------------------------------------------
#
# Tuned with the parser (benchmarks/codec.py measures it): one shared JSON scanner, the CRC
# checked by slicing the sealed suffix (``parser`` does the slicing inline, on its hot path).

# `seal` ends every line with ,"crc32":"<8 lowercase hex>"} : a fixed 20-byte suffix.
SUFFIX = b',"crc32":"%08x"}'
SEALED = len(SUFFIX % 0)
_SEALED_KEYS = {kind: frozenset(keys | {"crc32"}) for kind, keys in FIELDS.items()}


class BadLine(Exception):
    """Why one line cannot be trusted (the parser makes it a ``Problem``)."""


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not an amount")


# One decoder for every line (json.loads(..., parse_float=...) builds a new one per call), and
# its scanner called directly: a sealed line starts with "{" and ends with "}", so the
# whitespace skipping of JSONDecoder.decode finds nothing; anything else takes json.loads.
_SCAN: Any = json.scanner.make_scanner(
    json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constants)  # type: ignore[arg-type]
)


def crc_failure(raw: bytes) -> None:
    """Word why the sealed suffix did not match (the fast check only compares)."""
    if re.search(rb',"crc32":"[0-9a-f]{8}"}$', raw) is None:
        raise BadLine("no crc32 field at the end of the line; not written by this tool")
    raise BadLine("crc32 does not match the line's bytes: the line was changed")


_TOO_DEEP = "not valid JSON: nested too deeply to read (no line this tool writes nests)"


def decode(raw: bytes) -> dict[str, Any]:
    """A sealed line's fields, each kind's keys checked (a BadLine says what is wrong)."""
    try:
        line = raw.decode()
        fields, end = _SCAN(line, 0)
    except RecursionError:  # the C scanner recurses per level: 100,000 nested arrays
        raise BadLine(_TOO_DEEP) from None
    except (StopIteration, ValueError):
        return _decode_slowly(raw)
    if end != len(line) or type(fields) is not dict:
        return _decode_slowly(raw)
    kind = fields.get("kind")
    if type(kind) is not str or fields.keys() != _SEALED_KEYS.get(kind):
        _fields_failure(fields)
    return fields


def _decode_slowly(raw: bytes) -> dict[str, Any]:
    """Whatever json.loads on the bytes makes of it, worded as it words it."""
    try:
        fields = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadLine(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise BadLine(_TOO_DEEP) from None
    if type(fields) is not dict:
        raise BadLine("not a JSON object")
    kind = fields.get("kind")
    if type(kind) is not str or fields.keys() != _SEALED_KEYS.get(kind):
        _fields_failure(fields)
    return fields


def _fields_failure(fields: dict[str, Any]) -> None:
    kind = fields.get("kind")
    expected = FIELDS.get(kind) if type(kind) is str else None
    if expected is None:
        raise BadLine(f"unknown kind {kind!r}; expected authorize, actual, void or loss")
    keys = set(fields) - {"crc32"}  # the CRC check guarantees a crc32 key
    missing, extra = sorted(expected - keys), sorted(keys - expected)
    raise BadLine(f"fields do not match a {kind} line (missing {missing}, unknown {extra})")


def describe_torn(data: bytes) -> str:
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


# --- a line's field values -------------------------------------------------------------------


def loss_fields(reason: object, op_ids: object) -> tuple[str, ...]:
    if type(reason) is not str or not reason:
        raise BadLine("a loss line needs a reason")
    if type(op_ids) is not list or any(type(op) is not str for op in op_ids):
        raise BadLine("op_ids must be a list of strings")
    return tuple(op_ids)


def timestamp(ts: object) -> str:
    if type(ts) is not str or not ts:
        raise BadLine("ts must be a non-empty string")
    try:
        parsed = datetime.fromisoformat(ts)
    except ValueError:
        raise BadLine(f"ts {ts!r} is not an ISO-8601 timestamp") from None
    # a parsed text ending in "+00:00" has that offset: only other texts need the call
    if not ts.endswith("+00:00") and parsed.utcoffset() is None:
        raise BadLine(f"ts {ts!r} has no UTC offset")
    return ts


_CENTS: dict[str, int] = {}  # an amount's text -> whole cents: a ledger repeats a few amounts


def cents(value: object, what: str) -> int:
    """``parse_usd`` (every check), once per distinct text; as exact integer cents."""
    if type(value) is str:  # a dict or list is not hashable: only a text is looked up
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


# --- a line fed in pieces --------------------------------------------------------------------

# Far above any line this tool writes (under 1 KiB): a longer line is only measured, not kept,
# so a torn tail of gigabytes (a file filled with junk) costs flat memory.
LONGEST = 1 << 24
_HEAD = 1 << 16  # what a measured line keeps, to say what it looked like


class Unfinished:
    """The bytes of one line arriving block by block (each added once: linear in its length,
    where joining the pieces at every block was quadratic): kept whole up to ``LONGEST``;
    beyond it only measured (its length, CRC-32 and first bytes)."""

    __slots__ = ("crc", "head", "length", "pieces")

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.length = 0
        self.crc = -1  # >= 0 once measured only
        self.head = b""

    def add(self, piece: bytes) -> None:
        if not piece:
            return
        self.length += len(piece)
        if self.crc < 0:
            self.pieces.append(piece)
            if self.length <= LONGEST:
                return
            piece, self.pieces = b"".join(self.pieces), []
            self.head, self.crc = piece[:_HEAD], 0
        from zlib import crc32  # only for a line this long: an empty status checks no CRC

        self.crc = crc32(piece, self.crc)

    def joined(self) -> bytes | None:
        """The line's bytes; None if it was too long to keep."""
        return None if self.crc >= 0 else b"".join(self.pieces)
