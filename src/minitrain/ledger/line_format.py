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

from minitrain.ledger.entries import CURRENCY, FIELDS

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from typing import Any

    from minitrain.ledger.entries import Entry


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


def decode(raw: bytes) -> dict[str, Any]:
    try:
        line = raw.decode()
        fields, end = _SCAN(line, 0)
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
